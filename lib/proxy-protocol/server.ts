// proxyProtocolServer(): a Fastify serverFactory whose server reads a PROXY protocol header
// (v1, v2 or either) from the load balancers in `from` before HTTP, HTTPS or HTTP/2 starts.
import http from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import type net from 'node:net'
import { invalidOption } from '../core/errors'
import { compileList, TrustError, type Trust } from '../core/trust'
import { attach, type ListenerConfig } from './listener'
import type { Accept } from './parse'
import type { ProxyProtocolLogger, ProxyProtocolOptions } from '../../types'

export type { ProxyProtocolLogger, ProxyProtocolOptions }

/** The subset of Fastify's options the factory honours, as Fastify does for its own server. */
export interface FactoryServerOptions {
  http2?: boolean
  https?: https.ServerOptions | http2.SecureServerOptions | true | null
  http?: http.ServerOptions | http2.ServerOptions
  keepAliveTimeout?: number
  requestTimeout?: number
  connectionTimeout?: number
  maxRequestsPerSocket?: number
  http2SessionTimeout?: number
}

export type RequestHandler = (req: any, res: any) => void

export interface ProxyProtocolFactory {
  (handler: RequestHandler, options?: FactoryServerOptions): net.Server
  logger: ProxyProtocolLogger | null
}

const KEYS = new Set(['from', 'version', 'required', 'headerTimeout', 'logger', 'http2', 'https'])
const VERSIONS: Record<string, Accept> = { v1: 1, v2: 2, auto: 3 }

function compileFrom (from: unknown): Trust {
  if (typeof from !== 'string' && !Array.isArray(from)) {
    return invalidOption('from', from, 'must be a list of IPs, CIDRs, named ranges (loopback, linklocal, uniquelocal) or unix, as an array or a comma-separated string')
  }
  try {
    return compileList(from)
  } catch (err) {
    /* c8 ignore next */
    if (!(err instanceof TrustError)) throw err
    return invalidOption('from', err.entry === String(from) ? from : err.entry, err.message)
  }
}

export interface CompiledOptions extends Omit<ListenerConfig, 'log'> {
  logger: ProxyProtocolLogger | null
  http2: boolean | undefined
  https: ProxyProtocolOptions['https'] | undefined
}

/** Checks the options; a bad one throws FST_ERR_PROXY_FIX_INVALID_OPTION naming it. */
export function compileOptions (options: ProxyProtocolOptions = {}): CompiledOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) invalidOption('proxyProtocol', options, 'must be an object')
  for (const key of Object.keys(options)) if (!KEYS.has(key)) invalidOption(key, (options as any)[key], 'is not an option of proxyProtocolServer')
  const { from = 'loopback', version = 'auto', required = true, headerTimeout = 10000, logger = null } = options
  const accept = VERSIONS[version as string]
  if (typeof version !== 'string' || accept === undefined) invalidOption('version', version, "must be 'v1', 'v2' or 'auto'")
  if (typeof required !== 'boolean') invalidOption('required', required, 'must be a boolean')
  if (!Number.isInteger(headerTimeout) || headerTimeout < 1 || headerTimeout > 2147483647) invalidOption('headerTimeout', headerTimeout, 'must be a whole number of milliseconds from 1 to 2147483647')
  if (logger !== null && (typeof logger !== 'object' || typeof logger.warn !== 'function')) invalidOption('logger', logger, 'must have a warn(obj, msg) method, like Fastify\'s app.log')
  if (options.http2 !== undefined && typeof options.http2 !== 'boolean') invalidOption('http2', options.http2, 'must be a boolean')
  const tlsOpts = options.https
  if (tlsOpts !== undefined && tlsOpts !== null && tlsOpts !== true && (typeof tlsOpts !== 'object' || Array.isArray(tlsOpts))) invalidOption('https', tlsOpts, 'must be TLS server options, true or null')
  return { from: compileFrom(from), accept, required, headerTimeout, logger, http2: options.http2, https: tlsOpts }
}

function stderrLine (peer: string, reason: string): void {
  process.stderr.write(`fastify-proxy-fix: PROXY protocol: closed the connection from ${peer}: ${reason}\n`)
}

/** Creates the server Fastify would create from its own options, then puts the reader in front. */
function createServer (cfg: CompiledOptions, log: ListenerConfig['log'], handler: RequestHandler, fopts: FactoryServerOptions): net.Server {
  const tlsOpts = cfg.https !== undefined ? cfg.https : fopts.https
  const secure = tlsOpts === true ? {} : (tlsOpts ?? null)
  const useHttp2 = cfg.http2 ?? fopts.http2 === true
  let server: net.Server
  if (useHttp2) {
    const h2 = secure !== null ? http2.createSecureServer(secure as http2.SecureServerOptions, handler) : http2.createServer((fopts.http ?? {}) as http2.ServerOptions, handler)
    const timeout = fopts.http2SessionTimeout
    if (timeout !== undefined) h2.on('session', (session) => session.setTimeout(timeout, () => session.close()))
    server = h2 as unknown as net.Server
  } else {
    const h1 = secure !== null ? https.createServer(secure as https.ServerOptions, handler) : http.createServer((fopts.http ?? {}) as http.ServerOptions, handler)
    if (fopts.keepAliveTimeout !== undefined) h1.keepAliveTimeout = fopts.keepAliveTimeout
    if (fopts.requestTimeout !== undefined) h1.requestTimeout = fopts.requestTimeout
    if (fopts.maxRequestsPerSocket !== undefined && fopts.maxRequestsPerSocket > 0) h1.maxRequestsPerSocket = fopts.maxRequestsPerSocket
    server = h1
  }
  if (fopts.connectionTimeout !== undefined) (server as http.Server).setTimeout(fopts.connectionTimeout)
  return attach(server, { from: cfg.from, accept: cfg.accept, required: cfg.required, headerTimeout: cfg.headerTimeout, log })
}

/**
 * A Fastify `serverFactory`: `Fastify({ serverFactory: proxyProtocolServer({ from: '10.0.0.5' }) })`.
 * The header's source address is put on the socket under Symbol.for('fastify-proxy-fix.proxyProtocol').
 */
export function proxyProtocolServer (options?: ProxyProtocolOptions): ProxyProtocolFactory {
  const cfg = compileOptions(options)
  const factory = function (handler: RequestHandler, fopts: FactoryServerOptions = {}): net.Server {
    return createServer(cfg, log, handler, fopts)
  } as ProxyProtocolFactory
  factory.logger = cfg.logger
  function log (peer: string, reason: string): void {
    const logger = factory.logger
    if (logger === null || logger === undefined) return stderrLine(peer, reason)
    logger.warn({ peer, reason }, `PROXY protocol: closed the connection from ${peer}: ${reason}`)
  }
  return factory
}

/** The reader for a server made elsewhere (http, https or http2): call before it listens. */
export function withProxyProtocol<S extends net.Server> (server: S, options?: Omit<ProxyProtocolOptions, 'http2' | 'https'>): S {
  const cfg = compileOptions(options)
  const built = cfg.http2 !== undefined ? 'http2' : cfg.https !== undefined ? 'https' : null
  if (built !== null) invalidOption(built, cfg[built], 'is not an option of withProxyProtocol: the server is already built')
  const log = (peer: string, reason: string): void => {
    if (cfg.logger === null) return stderrLine(peer, reason)
    cfg.logger.warn({ peer, reason }, `PROXY protocol: closed the connection from ${peer}: ${reason}`)
  }
  return attach(server, { from: cfg.from, accept: cfg.accept, required: cfg.required, headerTimeout: cfg.headerTimeout, log })
}
