import type { FastifyPluginAsync, FastifyPluginCallback, FastifyServerFactory, RawServerBase } from 'fastify'
import type { IncomingMessage, ServerResponse, Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { SecureServerOptions as Http2SecureServerOptions } from 'node:http2'
import type { Server as NetServer } from 'node:net'

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

  /**
   * Named address ranges, and `unix` for peers on a Unix-domain socket. `private` is loopback,
   * linklocal, uniquelocal and carrier-grade NAT (100.64.0.0/10).
   */
  export type NamedRange = 'loopback' | 'linklocal' | 'uniquelocal' | 'private' | 'unix' | ProviderPreset

  /**
   * Provider presets: the edges' published ranges, from a dated snapshot in the package (or from
   * `rangesFile`). `gcp-lb` is Google Cloud's load balancers and health checkers.
   */
  export type ProviderPreset = 'cloudflare' | 'cloudfront' | 'fastly' | 'gcp-lb'

  /**
   * Decides whether one hop is a trusted proxy. `address` is the canonical IP (or `'unix'`);
   * `hopIndex` is 0 for the socket peer, 1 for the nearest X-Forwarded-For entry, and so on.
   * A truthy return trusts the hop (as in proxy-addr and Express, whose compiled functions fit);
   * a throw does not. Addresses are parsed strictly before the function is asked.
   */
  export type TrustFunction = (address: string, hopIndex: number) => unknown

  /**
   * Who counts as a proxy:
   * - addresses: IPs, CIDRs, IP/netmask, named ranges, as an array or a comma-separated string;
   * - a number N: exactly N proxies stand in front (Werkzeug), believed only from a peer in `peers`;
   * - a function; `true` (everyone, warned at startup); `false`, `[]` or `''` (nothing is trusted).
   */
  export type Trust = boolean | number | string | readonly (NamedRange | (string & {}))[] | TrustFunction

  export interface SharedOptions {
    /** Who counts as a proxy. @default 'loopback' */
    trust?: Trust
    /** A file written by `fastify-proxy-fix ranges --update FILE`: the provider presets come from it instead of the package's snapshot. */
    rangesFile?: string
    /**
     * With a numeric `trust` only: who may connect and have its count believed. A request from
     * any other peer is not corrected at all (GHSA-3m5p-2c4r-xxw2). `true` counts from any peer
     * (warned at startup). Ignored by the other trust forms.
     * @default ['loopback', 'linklocal', 'uniquelocal', 'unix']
     */
    peers?: true | string | readonly (NamedRange | (string & {}))[] | TrustFunction
    /** Per-field hop counts, with a numeric `trust` only (Werkzeug's x_for, x_proto ...). 0 turns a field off. */
    hops?: Partial<Record<Field, number>>
    /** Fields honoured with address or function trust. @default ['for', 'proto', 'host', 'port', 'prefix'] */
    fields?: readonly Field[]
    /** Read the RFC 7239 `Forwarded` header instead of X-Forwarded-*. @default false */
    forwarded?: boolean
    /**
     * A single-IP header set by the nearest trusted proxy, such as `'x-real-ip'`; or headers tied
     * to the edges allowed to send them, `{ 'cf-connecting-ip': ['173.245.48.0/20', ...] }`: each
     * is believed only from a hop inside its edge's ranges, reached through trusted hops.
     */
    clientIpHeader?: string | Readonly<Record<string, string | readonly (NamedRange | (string & {}))[]>>
    /** Log misconfiguration warnings (each once per process, kind and peer). @default true */
    warnings?: boolean
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
    /** Client address; the peer when nothing trusted says otherwise (undefined on a Unix socket, or for a peer whose address Node could not report). */
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
    /** The socket's own view; `original.ip` is the TCP peer, also behind the PROXY protocol. */
    readonly original: OriginalView
    /** The connection's PROXY protocol header, when a PROXY protocol listener read one; else null. */
    readonly proxyProtocol: ProxyProtocolInfo | null
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
    /** Addresses, CIDRs or named ranges matched against the corrected client address (or the socket peer, see `allowBy`); others get a 404. @default everyone */
    allow?: string | readonly (NamedRange | (string & {}))[]
    /** What `allow` is matched against: the corrected client address, or the socket peer. @default 'client' */
    allowBy?: 'client' | 'peer'
    /** The settings the page quotes under "Configuration" and in its explanations. */
    settings?: { trust?: Trust, peers?: SharedOptions['peers'], hostHeader?: string | null, allowedHosts?: unknown, forwarded?: boolean }
  }

  /** One hop of the chain on the whoami page, from the socket (hop 0) outwards. */
  export interface WhoamiHop {
    hop: number
    address: string
    /** `'socket'` or the header it was read from. */
    from: string
    /** `forged`: left of the client in a header a trusted proxy passed on, so written by an untrusted party. */
    role: 'trusted proxy' | 'client' | 'ignored' | 'forged'
  }

  /** The whoami page's JSON form (`Accept: application/json`), documented in docs/whoami.md. */
  export interface WhoamiReport {
    verdict: 'ok' | 'misconfigured' | 'spoofable'
    /** The verdict's reason, one sentence. */
    reason: string
    suggestion: { options: Record<string, unknown>, flags: string, note: string }
    warnings: Array<{ code: string, message: string }>
    /** The X-Forwarded-Prefix value the absolute URL lacks, or null. */
    lostPrefix: string | null
    pid: number
    socket: { ip: string | null, host: string, protocol: string }
    corrected: { ip: string | null, ips: string[], host: string, hostname: string, port: number | null, protocol: string, prefix: string, url: string }
    trusted: boolean
    hops: WhoamiHop[]
    headers: Record<string, string>
    why: string[]
    config: Record<string, unknown>
  }

  /** Makes one server per bind around Fastify's handler, like Fastify's `serverFactory` (with the TLS options when given). */
  export type ServeServerFactory = (
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    opts: { https?: { key: Buffer, cert: Buffer }, http2?: boolean }
  ) => NetServer

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
    /** Read a PROXY protocol header (v1, v2 or either) at the start of every connection, before HTTP. @default off */
    proxyProtocol?: 'v1' | 'v2' | 'auto'
    /** Who may send the PROXY protocol header. @default the `trust` list, when it is an address list */
    proxyAllowFrom?: string | readonly (NamedRange | (string & {}))[]
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
  /** An address and port from a PROXY protocol header, the address in canonical text (IPv6 as RFC 5952). */
  export interface ProxyProtocolEndpoint {
    readonly address: string
    readonly port: number
  }

  /** The PP2_TYPE_SSL TLV. */
  export interface ProxyProtocolSsl {
    /** PP2_CLIENT_* bits: 0x01 TLS, 0x02 a certificate on this connection, 0x04 on this session. */
    client: number
    /** 0 when the client's certificate was verified. */
    verify: number
    version?: string
    cn?: string
    cipher?: string
    sigAlg?: string
    keyAlg?: string
  }

  /** The v2 TLVs: the known ones decoded, every one (in order) in `raw`. Empty for v1. */
  export interface ProxyProtocolTlvs {
    alpn?: string
    authority?: string
    uniqueId?: Buffer
    netns?: string
    ssl?: ProxyProtocolSsl
    /** AWS PrivateLink (0xEA, subtype 0x01): the VPC endpoint ID, such as `vpce-0123456789abcdef0`. */
    awsVpceId?: string
    /** Azure Private Link (0xEE, subtype 0x01): the private endpoint's LINKID. */
    azureLinkId?: number
    /** GCP Private Service Connect (0xE0): the connection ID, a 64-bit number in decimal. */
    gcpPscConnectionId?: string
    raw: Array<{ type: number, value: Buffer }>
  }

  export type ProxyProtocolFamily = 'TCP4' | 'TCP6' | 'UDP4' | 'UDP6' | 'UNIX' | 'UNIX_DGRAM' | 'UNKNOWN'

  /**
   * What a PROXY protocol listener read for this connection: on the socket under `kProxyProtocol`,
   * and as `request.proxy.proxyProtocol`.
   */
  export interface ProxyProtocolInfo {
    readonly version: 1 | 2
    readonly command: 'PROXY' | 'LOCAL'
    readonly family: ProxyProtocolFamily
    /** The client, the peer proxyFix starts from; null for LOCAL, UNKNOWN/UNSPEC and UNIX (the socket's own address stands). */
    readonly source: ProxyProtocolEndpoint | null
    readonly destination: ProxyProtocolEndpoint | null
    /** The paths of a v2 UNIX header. */
    readonly unix?: { readonly source: string, readonly destination: string }
    readonly tlvs: ProxyProtocolTlvs
    /** The real TCP peer (the balancer); null address and port on a Unix-domain socket. */
    readonly peer: { readonly address: string | null, readonly port: number | null }
  }

  /** A pino-style logger (Fastify's `app.log` fits). */
  export interface ProxyProtocolLogger {
    warn (obj: object, msg: string): void
  }

  export interface ProxyProtocolReaderOptions {
    /** Who may send the header: IPs, CIDRs, named ranges, `unix`. List only the load balancer. @default 'loopback' */
    from?: string | readonly (NamedRange | (string & {}))[]
    /** Which header versions are read. @default 'auto' */
    version?: 'v1' | 'v2' | 'auto'
    /** Close connections from peers outside `from`, and from peers in it that send no header. @default true */
    required?: boolean
    /** Milliseconds for the whole header to arrive; a slower sender is cut off. @default 10000 */
    headerTimeout?: number
    /** Where the one line per closed connection goes. @default stderr */
    logger?: ProxyProtocolLogger | null
  }

  export interface ProxyProtocolOptions extends ProxyProtocolReaderOptions {
    /** Serve HTTP/2. @default Fastify's own `http2` option */
    http2?: boolean
    /** TLS options; TLS starts after the PROXY header. @default Fastify's own `https` option */
    https?: HttpsServerOptions | Http2SecureServerOptions | true | null
  }

  /** A Fastify serverFactory; `logger` can be set after the Fastify instance exists (`factory.logger = app.log`). */
  export type ProxyProtocolServerFactory<S extends RawServerBase = HttpServer> = FastifyServerFactory<S> & {
    logger: ProxyProtocolLogger | null
  }

  /** `Fastify({ serverFactory: proxyProtocolServer({ from: '10.0.0.5' }) })`: reads the PROXY protocol header before HTTP. */
  export function proxyProtocolServer<S extends RawServerBase = HttpServer> (options?: ProxyProtocolOptions): ProxyProtocolServerFactory<S>
  /** Puts the PROXY protocol reader in front of a server made elsewhere; call it before `listen`. */
  export function withProxyProtocol<S extends NetServer> (server: S, options?: ProxyProtocolReaderOptions): S
  /** `Symbol.for('fastify-proxy-fix.proxyProtocol')`: the key of ProxyProtocolInfo on the socket. */
  export const kProxyProtocol: unique symbol

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
  /** Node server options for Fastify's `http` option: request and response classes built on one Express app's own prototypes. */
  export interface ExpressHttpOptions extends HttpServerOptions {
    IncomingMessage: typeof IncomingMessage
    ServerResponse: typeof ServerResponse
  }
  /**
   * `Fastify({ http: expressHttpOptions(app) })`: the server's requests and responses are born
   * with the Express app's prototypes, so Express does not have to swap them on each request
   * (its costliest step). For the one Express app mounted with mountApp on that server; elsewhere
   * on it (Fastify routes, other apps, `fastify.use()` middleware) the raw request reads as a
   * plain IncomingMessage: the app's Express getters read undefined until Express has taken the
   * request, and take assignments. HTTP/1 and HTTPS (spread into the `https` options).
   */
  export function expressHttpOptions (app: unknown): ExpressHttpOptions
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
