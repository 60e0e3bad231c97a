import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { show } from '../core/errors'
import { hostnameOf } from '../core/field-values'
import { compileOptions, type Plan } from '../core/options'
import { peerOf } from '../core/peer'
import { resolve, type ProxyView } from '../core/resolve'
import { kView, viewOf } from '../fastify/request-getters'
import { socketProtocol, type Corrected } from './headers'

/** Where a mount takes its values from, settled once (see sourceOf and appTrustPlan). */
export interface Source {
  /** Whether Fastify's getters are needed for its values (see fastifyDerives); found on first use. */
  getters: boolean | null
  /** The app's own `trust proxy`, used when nothing in the scope trusts a proxy. */
  appPlan: Plan | null
}

type Raw = IncomingMessage & Record<string | symbol, unknown>

/**
 * Own data properties on the raw request. Express installs its request object as the prototype
 * of the raw request, so own properties win over Express's getters whatever `trust proxy` says,
 * in Express 4 and 5 and in sub-apps alike. Express derives `secure` and `subdomains` (and
 * Express 4's `host`) from these. Express 5's `host` is left to Express: it reads X-Forwarded-Host
 * or Host, and both carry the corrected host (see rewriteHeaders). Plain assignments keep the raw
 * request cheap (Object.defineProperty would cost about 2.5 µs a request).
 */
export function setCorrected (req: Raw, c: Corrected, hostIsHostname: boolean): void {
  req.ip = c.ip
  req.ips = c.ips
  req.protocol = c.protocol
  req.hostname = c.hostname
  // Set when something read request.hostname first (its getter, request-getters.ts): then it has to say what the
  // app's own req.host would (Express 4's deprecated one is the hostname).
  if (req.host !== undefined) req.host = hostIsHostname ? c.hostname : c.host
}

/** Express 4, whose deprecated `req.host` is the hostname (Express 5's keeps the port); Express 4 still has `req.param`. */
export function hostIsHostname (app: unknown, express: boolean): boolean {
  return express && typeof (app as { request?: { param?: unknown } }).request?.param === 'function'
}

function fromView (view: ProxyView): Corrected {
  return { ip: view.ip, ips: view.ips.slice(1).reverse(), protocol: view.protocol, host: view.host, hostname: view.hostname, prefix: view.prefix }
}

export function correctedOf (request: FastifyRequest, source: Source): Corrected {
  if ((request as unknown as Record<symbol, unknown>)[kView] !== undefined) return fromView(viewOf(request))
  const raw = request.raw
  if (source.appPlan !== null) {
    // the peer captured when the connection arrived (a closed TCP peer reads as no address)
    const socket = raw.socket as { encrypted?: boolean } | null
    return fromView(resolve(peerOf(socket), socket?.encrypted === true, raw.headers, source.appPlan, undefined))
  }
  // No proxyFix in this scope and no options on the mount: Fastify's own values.
  source.getters ??= fastifyDerives(request.server)
  if (source.getters) {
    const ips = request.ips
    return {
      ip: request.ip,
      ips: Array.isArray(ips) ? ips.slice(1).reverse() : [],
      protocol: request.protocol as 'http' | 'https',
      host: request.host,
      hostname: request.hostname,
      prefix: ''
    }
  }
  // Without trustProxy or a plugin's getters, Fastify's values are the socket's and the Host
  // header's; reading them here skips five getter calls on every request.
  const host = raw.headers.host ?? (raw.headers[':authority'] as string | undefined) ?? ''
  return { ip: raw.socket.remoteAddress, ips: [], protocol: socketProtocol(raw), host, hostname: hostnameOf(host), prefix: '' }
}

/**
 * Whether Fastify's request getters say more than the socket: with trustProxy (or a plugin's
 * trust: proxyFix and hostRewrite install theirs), Fastify defines `ips`, which it otherwise leaves out.
 */
function fastifyDerives (scope: FastifyInstance): boolean {
  return scope.hasRequestDecorator('ips')
}

interface ExpressSettings { get: (setting: string) => unknown }

/** The app's own `trust proxy` setting and Express's compiled `trust proxy fn`, when it has one. */
export function appTrust (app: unknown, express: boolean): { setting: unknown, fn: (address: string, hop: number) => unknown } | null {
  if (!express) return null
  const settings = app as ExpressSettings
  const setting = settings.get('trust proxy')
  const fn = settings.get('trust proxy fn')
  if (setting === undefined || setting === false || typeof fn !== 'function') return null
  return { setting, fn: fn as (address: string, hop: number) => unknown }
}

/**
 * Settled when the server is ready, when every plugin of the scope is known. With nothing in the
 * scope that trusts a proxy (no proxyFix, hostRewrite, Fastify trustProxy or mount options), the
 * app's own `trust proxy` applies, through Express's compiled function (the same hop index as
 * proxy-addr: 0 is the socket peer), for the fields Express reads: X-Forwarded-For, -Proto and
 * -Host. Otherwise the scope's trust wins, and an app setting that says otherwise is reported.
 */
export function appTrustPlan (scope: FastifyInstance, app: unknown, express: boolean, own: Plan | null, log: FastifyBaseLogger): Plan | null {
  const trust = appTrust(app, express)
  if (trust === null) return null
  const shown = show(trust.setting)
  if (own !== null || fastifyDerives(scope)) {
    if (own === null || JSON.stringify(own.options.trust) !== JSON.stringify(trust.setting)) {
      log.warn(`mountApp: the app's own 'trust proxy' (${shown}) is ignored: the trust configured in Fastify for this scope decides req.ip, req.protocol and req.hostname`)
    }
    return null
  }
  const fn = trust.fn
  log.info(`mountApp: nothing in this scope trusts a proxy, so the app's own 'trust proxy' (${shown}) is used for X-Forwarded-For, -Proto and -Host`)
  return compileOptions({ trust: (address: string, hop: number) => Boolean(fn(address, hop)), fields: ['for', 'proto', 'host'] }, 'proxyFix')
}
