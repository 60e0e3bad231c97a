import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server } from 'node:net'

declare module 'fastify' {
  interface FastifyRequest {
    /** The corrected view of this request, with the socket's own view under `original`. */
    readonly proxy: fastifyProxyFix.ProxyInfo
  }
  interface FastifyContextConfig {
    /** Route override of proxyFix: `false` turns it off here; an object overrides its options. */
    proxyFix?: false | fastifyProxyFix.ProxyFixOptions
    /** Route override of hostRewrite: `false` turns it off here; an object overrides its options. */
    hostRewrite?: false | Partial<fastifyProxyFix.HostRewriteOptions>
  }
}

type ProxyFixPlugin = FastifyPluginCallback<fastifyProxyFix.ProxyFixOptions>

declare namespace fastifyProxyFix {
  /** A forwarded field: client address, scheme, host, port or path prefix. */
  export type Field = 'for' | 'proto' | 'host' | 'port' | 'prefix'

  /** Named address ranges, and `unix` for peers on a Unix-domain socket. */
  export type NamedRange = 'loopback' | 'linklocal' | 'uniquelocal' | 'unix'

  /**
   * Decides whether one hop is a trusted proxy. `address` is the canonical IP (or `'unix'`);
   * `hopIndex` is 0 for the socket peer, 1 for the nearest X-Forwarded-For entry, and so on.
   */
  export type TrustFunction = (address: string, hopIndex: number) => boolean

  /**
   * Who counts as a proxy:
   * - addresses: IPs, CIDRs, IP/netmask, named ranges, as an array or a comma-separated string;
   * - a number N: exactly N proxies stand in front (Werkzeug); the peer is not checked;
   * - a function; `true` (everyone, warned at startup); `false` (nothing is changed).
   */
  export type Trust = boolean | number | string | readonly (NamedRange | (string & {}))[] | TrustFunction

  export interface SharedOptions {
    /** Who counts as a proxy. @default 'loopback' */
    trust?: Trust
    /** Per-field hop counts, with a numeric `trust` only (Werkzeug's x_for, x_proto ...). 0 turns a field off. */
    hops?: Partial<Record<Field, number>>
    /** Fields honoured with address or function trust. @default ['for', 'proto', 'host', 'port', 'prefix'] */
    fields?: readonly Field[]
    /** Read the RFC 7239 `Forwarded` header instead of X-Forwarded-*. @default false */
    forwarded?: boolean
    /** A single-IP header set by the nearest trusted proxy, such as `'x-real-ip'` or `'cf-connecting-ip'`. */
    clientIpHeader?: string
    /** Host names allowed after rewriting: exact names, or `'.example.com'` for it and its subdomains. Others get a 400. */
    allowedHosts?: string | readonly string[]
    /** Answer 400 to a malformed forwarded value from a trusted peer, instead of ignoring it. @default false */
    strict?: boolean
  }

  export interface ProxyFixOptions extends SharedOptions {}

  export interface HostRewriteOptions extends Omit<SharedOptions, 'trust'> {
    /** The header a trusted proxy sets to the public host, such as `'x-fhost'` (any case). */
    header: string
    /** Who may set the header. `true` is refused. @default 'loopback' */
    trust?: Exclude<Trust, true>
  }

  /** The socket's own view, before any correction. */
  export interface OriginalView {
    readonly ip: string | undefined
    readonly host: string
    readonly hostname: string
    readonly port: number | null
    readonly protocol: 'http' | 'https'
  }

  export interface ProxyInfo {
    /** Client address; the socket peer when nothing trusted says otherwise (undefined on a Unix socket). */
    readonly ip: string | undefined
    /** The chain from the socket outwards: the socket peer first, the client last. */
    readonly ips: string[]
    readonly host: string
    readonly hostname: string
    readonly port: number | null
    readonly protocol: 'http' | 'https'
    /** Path prefix from X-Forwarded-Prefix, without a trailing slash; `''` when none. */
    readonly prefix: string
    /** Whether a trusted peer's forwarded values were considered. */
    readonly trusted: boolean
    /** Why the request is answered 400 (strict or allowedHosts), or null. */
    readonly error: Error | null
    readonly original: OriginalView
    /** Absolute external URL of `path`, honouring the forwarded scheme, host, port and prefix. */
    url (path?: string): string
  }

  /** Connect's `next`: no argument (or `'route'`, `'router'`) falls through to Fastify; anything else is an error. */
  export type MountNext = (err?: unknown) => void

  /**
   * A Connect-style handler: an Express 4 or 5 app or router, a Connect app, or a plain
   * `(req, res, next)` function. A method type, so Express's own request and response types fit.
   */
  export type MountHandler = { bivariant (req: IncomingMessage, res: ServerResponse, next: MountNext): unknown }['bivariant']

  /** What `mountApp` can mount: a handler, or an object with a `handle(req, res, next)` method. */
  export type MountableApp = MountHandler | { handle: MountHandler }

  export interface MountAppOptions extends SharedOptions {
    /** The app to mount. */
    app: MountableApp
    /** A literal path such as `'/legacy'`, added once to the scope's own prefix. @default '/' */
    prefix?: string
  }

  /** Who may see the whoami page, and what it quotes. */
  export interface WhoamiOptions {
    /** Addresses, CIDRs or named ranges matched against the corrected client address; others get a 404. @default everyone */
    allow?: string | readonly (NamedRange | (string & {}))[]
    /** The settings the page quotes under "Configuration" and in its explanations. */
    settings?: { trust?: Trust, peers?: unknown, hostHeader?: string | null, allowedHosts?: unknown, forwarded?: boolean }
  }

  /** Makes one server per bind around Fastify's handler, like Fastify's `serverFactory` (with the TLS options when given). */
  export type ServeServerFactory = (
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    opts: { https?: { key: Buffer, cert: Buffer }, http2?: boolean }
  ) => Server

  /** The settings of `fastify-proxy-fix serve`, as an object (also the shape of a `--config` file). */
  export interface ServeOptions extends SharedOptions {
    /** A module path (`'./app.js'`, `'./app.js:api'`; required with workers) or the app itself. Without it: the whoami page. */
    app?: string | MountableApp | FastifyPluginAsync<any> | FastifyPluginCallback<any>
    /** `HOST:PORT`, `[V6]:PORT`, `unix:PATH` or `fd://N`, one or several. @default PORT and HOST from the environment, else '127.0.0.1:3000' */
    bind?: string | readonly string[]
    port?: number
    host?: string
    socket?: string
    /** Pre-forked workers under a primary that never loads the app; `'auto'` = available parallelism. @default 0 (one process), or WEB_CONCURRENCY */
    workers?: number | 'auto'
    /** Seconds a worker may stay silent before it is killed and replaced; 0 turns it off. @default 30 */
    timeout?: number
    /** Seconds a drain may last; then every connection is closed. @default 30 */
    gracefulTimeout?: number
    /** Seconds an idle keep-alive connection stays open. @default 5 */
    keepAlive?: number
    /** Replace a worker after this many requests (with workers). @default 0 (never) */
    maxRequests?: number
    /** Plus a random 0..maxRequestsJitter requests. @default 0 */
    maxRequestsJitter?: number
    /** `'-'` (stderr), a file path, or `'off'`/`false`. @default '-' */
    accessLog?: string | false
    /** @default 'combined' */
    accessLogFormat?: 'combined' | 'json'
    /** @default 'info' */
    logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
    /** PEM certificate chain file: serve TLS. */
    certfile?: string
    /** PEM private key file. */
    keyfile?: string
    /** HTTP/2 over TLS (HTTP/1.1 clients still served). @default false */
    http2?: boolean
    /** A path answering 200 while serving and 503 once draining. */
    health?: string
    /** Mount the app (or register the plugin) under this path. @default '/' */
    prefix?: string
    /** Take the host from this header set by a trusted proxy (hostRewrite). */
    hostHeader?: string
    /** Who may connect and be counted when `trust` is a hop count. */
    peers?: unknown
    /** Makes the servers (one per bind) instead of the built-in HTTP, HTTPS or HTTP/2 ones. One process only. */
    serverFactory?: ServeServerFactory
    /** Handle TERM, INT, QUIT, HUP, TTIN, TTOU, USR1, and exit once stopped. @default true */
    signals?: boolean
  }

  /** A running `serve()`. */
  export interface Served {
    /** The URLs served (one process), or the binds (workers). */
    addresses: string[]
    /** Drains gracefully; resolves with the exit code. */
    close (): Promise<number>
    /** Resolves with the exit code once stopped. */
    done: Promise<number>
  }

  /** Serves an app behind proxyFix as `fastify-proxy-fix serve` does: one process, or a primary with workers. */
  export function serve (options: ServeOptions): Promise<Served>
  /** The whoami page as a plugin, registered after proxyFix, under a prefix of your choice. */
  export const whoami: FastifyPluginAsync<WhoamiOptions>

  export const proxyFix: ProxyFixPlugin
  export const hostRewrite: FastifyPluginCallback<HostRewriteOptions>
  /** Mounts an Express or Connect app under a prefix; the router matches, so guards can not be bypassed. */
  export const mountApp: FastifyPluginCallback<MountAppOptions>
  /** JSON Schema of the shared options (a `trust` function is outside JSON Schema). */
  export const optionsSchema: {
    readonly $id: string
    readonly type: 'object'
    readonly additionalProperties: false
    readonly properties: Readonly<Record<keyof SharedOptions | 'header', object>>
  }
  export { fastifyProxyFix as default }
}

declare function fastifyProxyFix (...params: Parameters<ProxyFixPlugin>): ReturnType<ProxyFixPlugin>
export = fastifyProxyFix
