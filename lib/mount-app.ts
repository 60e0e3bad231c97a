import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import { FST_ERR_PROXY_FIX_UPGRADE_REFUSED, invalidOption, show } from './errors'
import { isExpressApp, jsonBody, sendDirect, type ExpressResponse } from './express-send'
import { compileOptions, type Plan } from './options'
import { hostnameOf } from './field-values'
import { attach, kView, planHeaders, viewOf } from './request-getters'

/** Connect's `next`: no argument (or 'route' / 'router') falls through; anything else is an error. */
export type MountNext = (err?: unknown) => void
/**
 * A Connect-style handler: an Express app or router, a Connect app or a plain function. Written as
 * a method type so its parameters are checked bivariantly: an express.Router, typed for Express's
 * own Request and Response, is accepted without a cast.
 */
export type MountHandler = { bivariant (req: IncomingMessage, res: ServerResponse, next: MountNext): unknown }['bivariant']
export type MountableApp = MountHandler | { handle: MountHandler }

/** The corrected values the mounted app reads, in Express's shapes. */
interface Corrected {
  ip: string | undefined
  /** Express order: client first, closest proxy last, socket left out. */
  ips: string[]
  protocol: 'http' | 'https'
  host: string
  hostname: string
}

interface Mount {
  handle: MountHandler
  /** An Express app: its res.send takes the direct path of express-send.ts when it can. */
  express: boolean
  /** The full mount path (scope prefix + mount prefix), '' at the root. */
  base: string
  segments: number
  semicolon: boolean
  collapse: boolean
  /** The plans' own header names (clientIpHeader, hostRewrite's header), found on first use: the
   * mount's routes share one scope, and plans can not change once the server is ready. */
  extra: string[] | null
  /** Whether Fastify's getters are needed for its values (see fastifyDerives); found on first use. */
  getters: boolean | null
}

type Raw = IncomingMessage & Record<string | symbol, unknown>

const STRIPPED = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix']
const STRIP = new Set(STRIPPED)
const SEGMENT = /^[A-Za-z0-9\-._~!$&'+,@]+$/
const WEBSOCKET = /(?:^|[\s,])websocket(?:$|[\s,])/i
/** Besides origin-form paths, the only request targets the router reads as a path. */
const ABSOLUTE = /^https?:\/\//i

/**
 * Own data properties on the raw request. Express installs its request object as the prototype
 * of the raw request, so own properties win over Express's getters whatever `trust proxy` says,
 * in Express 4 and 5 and in sub-apps alike. Express derives `secure` and `subdomains` (and
 * Express 4's `host`) from these. Express 5's `host` is left to Express: it reads X-Forwarded-Host
 * or Host, and both carry the corrected host (see rewriteHeaders). Plain assignments keep the raw
 * request cheap (Object.defineProperty would cost about 2.5 µs a request).
 */
function setCorrected (req: Raw, c: Corrected): void {
  req.ip = c.ip
  req.ips = c.ips
  req.protocol = c.protocol
  req.hostname = c.hostname
}

function checkApp (app: unknown): MountHandler {
  if (typeof app === 'function') {
    if (app.length < 2) invalidOption('app', app, 'must take (req, res, next): a function with fewer than 2 parameters is not a Connect handler')
    return app as MountHandler
  }
  if (app !== null && typeof app === 'object' && typeof (app as { handle?: unknown }).handle === 'function') {
    const target = app as { handle: MountHandler }
    return (req, res, next) => target.handle(req, res, next)
  }
  return invalidOption('app', app, 'must be an Express or Connect app, a (req, res, next) function, or an object with a handle method')
}

/** A literal path: '/', or '/' + segments of unreserved characters, no dot segments or patterns. */
export function checkPrefix (prefix: unknown): string {
  if (prefix === undefined) return '/'
  if (typeof prefix !== 'string' || prefix.charCodeAt(0) !== 47) invalidOption('prefix', prefix, 'must be a path starting with "/"')
  if (prefix === '/') return prefix
  if (prefix.endsWith('/')) invalidOption('prefix', prefix, 'must not end with "/" (the mount matches "/prefix" and "/prefix/...")')
  for (const segment of prefix.slice(1).split('/')) {
    if (segment === '') invalidOption('prefix', prefix, 'must not contain an empty segment ("//")')
    if (segment === '.' || segment === '..') invalidOption('prefix', prefix, 'must not contain "." or ".." segments')
    if (!SEGMENT.test(segment)) {
      invalidOption('prefix', prefix, 'must be a literal path: letters, digits and - . _ ~ ! $ & \' + , @ only (no %, *, :, ;, ? or patterns)')
    }
  }
  return prefix
}

function routerFlags (fastify: FastifyInstance): { semicolon: boolean, collapse: boolean } {
  // Fastify gives routerOptions precedence over the deprecated top-level options.
  const config = fastify.initialConfig as Record<string, unknown>
  const router = (config.routerOptions ?? {}) as Record<string, unknown>
  return {
    semicolon: (router.useSemicolonDelimiter ?? config.useSemicolonDelimiter) === true,
    collapse: (router.ignoreDuplicateSlashes ?? config.ignoreDuplicateSlashes) === true
  }
}

/**
 * The URL the app sees: the path after the mount's segments, cut where the router cut it (at '?',
 * '#', and ';' with useSemicolonDelimiter, the rest becoming the query), duplicate slashes
 * collapsed when the router collapses them, nothing decoded.
 */
export function remainder (url: string, segments: number, semicolon: boolean, collapse: boolean): string {
  if (url.charCodeAt(0) !== 47) url = originForm(url)
  let end = -1
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 63 || c === 35 || (c === 59 && semicolon)) {
      end = i
      break
    }
  }
  let path = end === -1 ? url : url.slice(0, end)
  const search = end === -1 ? '' : '?' + url.slice(end + 1)
  if (collapse) path = path.replace(/\/\/+/g, '/')
  let at = 0
  for (let i = 0; i < segments && at !== -1; i++) at = path.indexOf('/', at + 1)
  return (at === -1 ? '/' : path.slice(at)) + search
}

/** An absolute-form request target (`http://host/path?q`), which the router accepts too. */
function originForm (url: string): string {
  const authority = url.indexOf('://') + 3
  const slash = url.indexOf('/', authority)
  const query = url.indexOf('?', authority)
  if (slash === -1 || (query !== -1 && query < slash)) return '/' + (query === -1 ? '' : url.slice(query))
  return url.slice(slash)
}

function correctedOf (request: FastifyRequest, mount: Mount): Corrected {
  if ((request as unknown as Record<symbol, unknown>)[kView] !== undefined) {
    const view = viewOf(request)
    return { ip: view.ip, ips: view.ips.slice(1).reverse(), protocol: view.protocol, host: view.host, hostname: view.hostname }
  }
  // No proxyFix in this scope and no options on the mount: Fastify's own values.
  mount.getters ??= fastifyDerives(request)
  if (mount.getters) {
    const ips = request.ips
    return {
      ip: request.ip,
      ips: Array.isArray(ips) ? ips.slice(1).reverse() : [],
      protocol: request.protocol as 'http' | 'https',
      host: request.host,
      hostname: request.hostname
    }
  }
  // Without trustProxy or a plugin's getters, Fastify's values are the socket's and the Host
  // header's; reading them here skips five getter calls on every request.
  const raw = request.raw
  const host = raw.headers.host ?? (raw.headers[':authority'] as string | undefined) ?? ''
  return {
    ip: raw.socket.remoteAddress,
    ips: [],
    protocol: socketProtocol(raw),
    host,
    hostname: hostnameOf(host)
  }
}

/**
 * Whether Fastify's request getters say more than the socket: with trustProxy (or a plugin's
 * trust), Fastify defines `ips`, which it otherwise leaves out.
 */
function fastifyDerives (request: FastifyRequest): boolean {
  return request.server.hasRequestDecorator('ips')
}

/**
 * The headers the app sees: forwarded headers are never passed on as sent. Host carries the
 * corrected host, and X-Forwarded-For / -Proto / -Host are written back with the corrected values
 * only when they differ from what the socket alone says (that is, a trusted proxy supplied them).
 * With nothing to strip or write (a direct client), the headers are passed on as they are.
 */
function rewriteHeaders (raw: IncomingMessage, c: Corrected, extra: string[]): IncomingMessage['headers'] {
  const source = raw.headers
  const proto = c.protocol !== socketProtocol(raw)
  const host = c.host !== (source.host ?? '')
  if (!proto && !host && c.ips.length === 0 && !carries(source, extra)) return source
  const headers: IncomingMessage['headers'] = {}
  for (const name in source) {
    if (!STRIP.has(name) && !extra.includes(name)) headers[name] = source[name]
  }
  if (c.host !== '') headers.host = c.host
  if (c.ips.length > 0) headers['x-forwarded-for'] = c.ips.join(', ')
  if (proto) headers['x-forwarded-proto'] = c.protocol
  if (host) headers['x-forwarded-host'] = c.host
  return headers
}

function socketProtocol (raw: IncomingMessage): 'http' | 'https' {
  return (raw.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
}

function carries (headers: IncomingMessage['headers'], extra: string[]): boolean {
  for (let i = 0; i < STRIPPED.length; i++) if (headers[STRIPPED[i]] !== undefined) return true
  for (const name of extra) if (headers[name] !== undefined) return true
  return false
}

function setHeaders (req: Raw, headers: IncomingMessage['headers']): void {
  if (req instanceof IncomingMessage) req.headers = headers
  // Http2ServerRequest's headers has a getter only.
  else Object.defineProperty(req, 'headers', { value: headers, writable: true, configurable: true, enumerable: true })
}

/** res.send on a mounted Express app's response (Express has set `res.req`). */
function send (this: ExpressResponse, ...args: unknown[]): unknown {
  if (args.length === 1 && sendDirect(this.req, this, args[0])) return this
  return (Object.getPrototypeOf(this) as ExpressResponse).send.apply(this, args)
}

/** res.json on a mounted Express app's response. */
function json (this: ExpressResponse, ...args: unknown[]): unknown {
  const body = args.length === 1 ? jsonBody(this, args[0]) : false
  if (body === false) return (Object.getPrototypeOf(this) as ExpressResponse).json.apply(this, args)
  return this.send(body)
}

/** A throw or a rejection is an error even when its reason is empty. */
function failure (err: unknown): unknown {
  return err ?? new Error('The mounted app failed without a reason')
}

/**
 * Express replaces the response's prototype with one built on http.ServerResponse. When the
 * response is a subclass (light-my-request's inject, a server's custom ServerResponse class), the
 * subclass's methods would be lost, so they are pinned as own properties first.
 */
function pinMethods (res: ServerResponse, proto: object): void {
  for (let p = proto; p !== ServerResponse.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor
      if (name !== 'constructor' && typeof d.value === 'function' && !Object.hasOwn(res, name)) {
        Object.defineProperty(res, name, { value: d.value, writable: true, configurable: true })
      }
    }
  }
}

function run (mount: Mount, request: FastifyRequest, reply: FastifyReply): void {
  const req = request.raw as Raw
  const res = reply.raw
  // The router matches any other target (`*`, `a://b/admin`) as it is, against a root mount's
  // wildcard; the app would read it as the path `/admin`, under a Fastify route that shadows it.
  const target = req.url as string
  if (target.charCodeAt(0) !== 47 && !ABSOLUTE.test(target)) {
    reply.callNotFound()
    return
  }
  if (req.headers.upgrade !== undefined && WEBSOCKET.test(req.headers.upgrade)) {
    reply.header('connection', 'close').send(new FST_ERR_PROXY_FIX_UPGRADE_REFUSED())
    return
  }
  // The view is computed (and cached) from the headers as sent, before they are rewritten.
  const values = correctedOf(request, mount)
  const url = req.url as string
  const headers = req.headers
  const reqProto = Object.getPrototypeOf(req)
  const resProto = Object.getPrototypeOf(res)
  // An HTTP/2 response is no ServerResponse: Express can not take it over, and a Connect handler needs nothing pinned.
  if (resProto !== ServerResponse.prototype && res instanceof ServerResponse) pinMethods(res, resProto)
  const status = res.statusCode
  const preset = res.getHeaderNames()

  setCorrected(req, values)
  const rewritten = rewriteHeaders(req, values, mount.extra ??= planHeaders(request))
  if (rewritten !== headers) setHeaders(req, rewritten)
  req.originalUrl = url
  req.baseUrl = mount.base
  req.url = remainder(url, mount.segments, mount.semicolon, mount.collapse)
  const set = reply.getHeaders()
  for (const name in set) res.setHeader(name, set[name] as string | number | string[])
  const restore = (): void => {
    req.url = url
    if (req.headers !== headers) setHeaders(req, headers)
  }
  // Fastify's url and headers are back as the response ends, so onResponse hooks and the request
  // log see them. (A 'finish' listener would do too, but measured several percent per request.)
  const end = res.end as (...args: unknown[]) => ServerResponse
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    restore()
    return end.apply(this, args)
  } as ServerResponse['end']
  if (mount.express) {
    const ex = res as ExpressResponse
    ex.send = send
    ex.json = json
  }

  let settled = false
  const next: MountNext = (err) => {
    if (settled) return
    settled = true
    const failed = err !== undefined && err !== null && err !== 'route' && err !== 'router'
    if (res.headersSent) {
      // The app has answered (or started to): exactly one response, whatever it says next.
      if (failed && !res.writableEnded) {
        request.log.error({ err }, 'mountApp: the mounted app failed after the response started; closing the connection')
        res.destroy()
      }
      return
    }
    restore()
    delete (res as Partial<ServerResponse>).end
    if (mount.express) {
      delete (res as Partial<ExpressResponse>).send
      delete (res as Partial<ExpressResponse>).json
    }
    Object.setPrototypeOf(req, reqProto)
    Object.setPrototypeOf(res, resProto)
    res.statusCode = status
    for (const name of res.getHeaderNames()) if (!preset.includes(name)) res.removeHeader(name)
    if (!failed) {
      reply.callNotFound()
    } else {
      reply.send(err instanceof Error ? err : new Error(`The mounted app failed with ${show(err)}`))
    }
  }

  try {
    const result = mount.handle(req, res, next) as PromiseLike<unknown> | undefined
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') result.then(undefined, (err) => next(failure(err)))
  } catch (err) {
    next(failure(err))
  }
}

function passThrough (_request: FastifyRequest, _payload: unknown, done: (err: Error | null, body?: unknown) => void): void {
  // The app reads the body stream itself.
  done(null)
}

const plugin: FastifyPluginAsync<Record<string, unknown>> = async (fastify, opts) => {
  compileOptions(opts, 'mountApp')
  const handle = checkApp(opts.app)
  const express = isExpressApp(opts.app)
  const prefix = checkPrefix(opts.prefix)
  const { app: _app, prefix: _prefix, ...shared } = opts
  const own: Plan | null = Object.keys(shared).length > 0 ? compileOptions(shared, 'proxyFix') : null
  const flags = routerFlags(fastify)

  fastify.register(function mountScope (scope, _opts, next) {
    if (own !== null) {
      attach(scope, own)
      if (own.trust.kind === 'all') scope.log.warn('mountApp: trust is true, so every peer is trusted and any client can forge its IP, scheme and host')
    }
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', passThrough)
    const base = scope.prefix
    const mount: Mount = { handle, express, base, segments: base === '' ? 0 : base.split('/').length - 1, ...flags, extra: null, getters: null }
    const handler = function (request: FastifyRequest, reply: FastifyReply): void { run(mount, request, reply) }
    const method = scope.supportedMethods as HTTPMethods[]
    // The router does the matching, so a guard on this scope sees exactly what the app gets.
    if (base !== '') scope.route({ method, url: '/', prefixTrailingSlash: 'no-slash', exposeHeadRoute: false, handler })
    scope.route({ method, url: '/*', exposeHeadRoute: false, handler })
    next()
  }, { prefix: prefix === '/' ? '' : prefix })
}

export const mountApp = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/mount-app' })
export default mountApp
