import type { FastifyPluginCallback } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'

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

  export const proxyFix: ProxyFixPlugin
  export const hostRewrite: FastifyPluginCallback<HostRewriteOptions>
  /**
   * Mounts an Express or Connect app under a prefix; the router matches, so guards can not be
   * bypassed. A request the app would match to a path Fastify has its own route for (`/SECRET`,
   * `/secret/` beside `/secret`) gets Fastify's 404. Side effects on the server: every method of
   * `http.METHODS` is added (`addHttpMethod`), and a route registered later for the mount's exact
   * paths gets the `fastifyProxyFixOwner` constraint, which lets it own its method.
   */
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
