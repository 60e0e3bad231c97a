import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import cluster from 'node:cluster'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { EventEmitter } from 'node:events'
import { compileOptions, type Plan } from './options'
import { proxyFix } from './proxy-fix'
import { hostRewrite } from './host-rewrite'
import { checkPrefix, mountApp, type MountHandler } from './mount-app'
import type { ProxyView } from './resolve'
import { viewOf } from './request-getters'

export const HELP = `Usage: fastify-proxy-fix serve [module] [options]

Serves an Express or Connect app, a (req, res, next) function or a Fastify plugin from a
CommonJS or ESM module (its default export, or a named export "app" or "plugin"), behind
proxyFix, hostRewrite and mountApp. Without a module, serves the built-in whoami page.

Options:
  --prefix P            mount the app (or register the plugin) under the path P (default /)
  --trust LIST|N        who counts as a proxy: a comma list of IPs, CIDRs, loopback,
                        linklocal, uniquelocal, unix; or a hop count (default loopback,unix)
  --host-header NAME    take the host from this header set by a trusted proxy (hostRewrite)
  --allowed-hosts LIST  answer 400 unless the corrected host is in this comma list
                        (".example.com" allows a domain and its subdomains)
  --port N              TCP port (default 3000; 0 picks a free port)
  --host ADDR           address to listen on (default 127.0.0.1)
  --socket PATH         listen on a Unix-domain socket instead of TCP
  --workers N           pre-fork N worker processes with node:cluster
  -h, --help            print this help
`

/** A failure worth one line on stderr: never a stack trace. */
export class CliError extends Error {}

export interface ServeConfig {
  module: string | null
  prefix: string
  trust: string | number
  hostHeader: string | null
  allowedHosts: string | null
  port: number
  host: string
  socket: string | null
  workers: number
}

export type Parsed = { help: true } | { help: false, config: ServeConfig }

function integer (flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new CliError(`--${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`)
  }
  return Number(value)
}

/** Parses `serve [module] [flags]`. Throws CliError on a bad command line. */
export function parseCommandLine (argv: string[]): Parsed {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        prefix: { type: 'string' },
        trust: { type: 'string' },
        'host-header': { type: 'string' },
        'allowed-hosts': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        socket: { type: 'string' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    throw new CliError(`${(err as Error).message} (try --help)`)
  }
  const { values, positionals } = parsed
  if (values.help === true) return { help: true }
  const [command, module, ...extra] = positionals
  if (command !== 'serve') {
    throw new CliError(command === undefined ? 'missing command: serve (try --help)' : `unknown command ${JSON.stringify(command)} (try --help)`)
  }
  if (extra.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(extra[0])}: serve takes one module`)
  const prefix = values.prefix ?? '/'
  if (!prefix.startsWith('/')) throw new CliError(`--prefix must be a path starting with "/", not ${JSON.stringify(prefix)}`)
  checkPrefix(prefix)
  if (values.socket !== undefined && (values.port !== undefined || values.host !== undefined)) {
    throw new CliError('--socket cannot be combined with --port or --host')
  }
  const trustText = values.trust ?? 'loopback,unix'
  const config: ServeConfig = {
    module: module ?? null,
    prefix,
    trust: /^\d+$/.test(trustText) ? Number(trustText) : trustText,
    hostHeader: values['host-header'] ?? null,
    allowedHosts: values['allowed-hosts'] ?? null,
    port: values.port === undefined ? 3000 : integer('port', values.port, 0, 65535),
    host: values.host ?? '127.0.0.1',
    socket: values.socket ?? null,
    workers: values.workers === undefined ? 0 : integer('workers', values.workers, 1, 256)
  }
  // Bad trust, header or host list: fail now with the plugins' own FST_ERR_PROXY_FIX_* message.
  compileOptions(fixOptions(config), 'proxyFix')
  if (config.hostHeader !== null) compileOptions(rewriteOptions(config), 'hostRewrite')
  return { help: false, config }
}

export function fixOptions (config: ServeConfig): Record<string, unknown> {
  const opts: Record<string, unknown> = { trust: config.trust }
  if (config.allowedHosts !== null) opts.allowedHosts = config.allowedHosts
  return opts
}

export function rewriteOptions (config: ServeConfig): Record<string, unknown> {
  return { ...fixOptions(config), header: config.hostHeader }
}

/** What a module gave: an app to mount, or a Fastify plugin to register. */
export type Loaded =
  | { kind: 'mount', app: MountHandler | { handle: MountHandler } }
  | { kind: 'plugin', plugin: FastifyPluginAsync }
  | { kind: 'whoami' }

const META = [Symbol.for('plugin-meta'), Symbol.for('skip-override'), Symbol.for('fastify.display-name')]

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'function') return `a function of ${value.length} parameter${value.length === 1 ? '' : 's'}`
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function isAsync (fn: Function): boolean {
  return fn.constructor.name === 'AsyncFunction'
}

/**
 * Tells what an export is:
 * - an object or function with a `handle` method (Express, Connect, express.Router) ⇒ mounted;
 * - a function carrying fastify-plugin metadata, or an `async` function of at most 2 parameters
 *   (`async (fastify, opts) => {}`) ⇒ a Fastify plugin;
 * - any other function of 2 or 3 parameters ⇒ a Connect handler `(req, res[, next])`.
 * A callback-style plugin `(fastify, opts, done)` looks exactly like `(req, res, next)`: wrap it
 * with fastify-plugin or export it as `plugin`.
 */
export function classify (value: unknown): Loaded | null {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return null
  const record = value as Record<string | symbol, unknown>
  if (typeof record.handle === 'function') return { kind: 'mount', app: value as { handle: MountHandler } }
  if (typeof value !== 'function') return null
  if (META.some((s) => record[s] !== undefined) || (isAsync(value) && value.length <= 2)) {
    return { kind: 'plugin', plugin: value as FastifyPluginAsync }
  }
  if (value.length === 2 || value.length === 3) return { kind: 'mount', app: value as MountHandler }
  return null
}

// tsc compiles import() to require() for CommonJS output, which cannot load ESM: keep a real one.
// eslint-disable-next-line no-new-func
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>

/** Loads a module (relative to cwd) and picks the app: a named `plugin`, the default, or `app`. */
export async function loadModule (spec: string, cwd: string): Promise<Loaded> {
  const file = path.resolve(cwd, spec)
  if (!fs.existsSync(file)) throw new CliError(`cannot find module ${spec} (looked for ${file})`)
  let ns: Record<string, unknown>
  try {
    ns = await importModule(pathToFileURL(file).href)
  } catch (err) {
    throw new CliError(`cannot load ${spec}: ${(err as Error)?.message}`)
  }
  let main = ns.default as Record<string, unknown> | undefined
  // A CommonJS module compiled from ESM (exports.default with __esModule).
  if (main !== null && typeof main === 'object' && main.__esModule === true && 'default' in main) main = main.default as Record<string, unknown>
  const named = (name: string): unknown => ns[name] ?? (main !== null && typeof main === 'object' ? main[name] : undefined)
  const plugin = named('plugin')
  if (typeof plugin === 'function') return { kind: 'plugin', plugin: plugin as FastifyPluginAsync }
  const found = classify(main) ?? classify(named('app'))
  if (found === null) {
    throw new CliError(`${spec} does not export an app: expected an Express or Connect app, a (req, res, next) function or a Fastify plugin as the default export or as "app" (found ${describe(main)})`)
  }
  return found
}

// ---------------------------------------------------------------------------------------------
// whoami

const RELEVANT = ['host', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
  'x-forwarded-prefix', 'x-real-ip', 'via']

export interface Hop {
  hop: number
  address: string
  from: string
  role: 'trusted proxy' | 'client' | 'ignored'
}

/** The chain from the socket outwards, each hop labelled as the walk treated it. */
export function hopsOf (view: ProxyView, headers: Record<string, string | string[] | undefined>): Hop[] {
  const original = view.original
  const hops: Hop[] = [{ hop: 0, address: original.ip ?? 'unix socket', from: 'socket', role: 'client' }]
  const raw = headers['x-forwarded-for']
  const text = Array.isArray(raw) ? raw.join(', ') : raw ?? ''
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s !== '').reverse()
  for (let i = 0; i < entries.length; i++) hops.push({ hop: i + 1, address: entries[i], from: 'X-Forwarded-For', role: 'ignored' })
  // view.ips runs from the socket (left out for a Unix-socket peer) to the client: every hop
  // before the client was trusted.
  const client = Math.max(0, view.ips.length - (original.ip === undefined ? 0 : 1))
  for (const h of hops) h.role = h.hop < client ? 'trusted proxy' : h.hop === client ? 'client' : 'ignored'
  return hops
}

export interface WhoamiInfo {
  pid: number
  socket: { ip: string | null, host: string, protocol: string }
  corrected: { ip: string | null, ips: string[], host: string, hostname: string, port: number | null, protocol: string, prefix: string, url: string }
  trusted: boolean
  hops: Hop[]
  headers: Record<string, string>
  why: string[]
  config: { trust: string | number, hostHeader: string | null, allowedHosts: string | null }
}

export function whoami (request: FastifyRequest, config: ServeConfig, plan: Plan): WhoamiInfo {
  const view = viewOf(request)
  const original = view.original
  const raw = request.raw.headers
  const names = config.hostHeader === null ? RELEVANT : [...RELEVANT, config.hostHeader.toLowerCase()]
  const headers: Record<string, string> = {}
  for (const name of names) {
    const v = raw[name]
    // Node joins repeated lines of these headers into one string.
    if (v !== undefined) headers[name] = String(v)
  }
  const hops = hopsOf(view, raw)
  const peer = original.ip ?? 'a Unix-socket peer'
  const why: string[] = []
  if (!view.trusted) {
    why.push(`The socket peer ${peer} is not trusted (--trust ${config.trust}), so every forwarded header was ignored: the socket's view stands.`)
  } else {
    why.push(`The socket peer ${peer} is trusted (--trust ${config.trust}), so forwarded headers were read.`)
    const client = hops.find((h) => h.role === 'client') as Hop
    if (client.hop > 0) {
      why.push(`X-Forwarded-For was walked from the right while each hop was trusted: the client is ${client.address} (hop ${client.hop}).`)
    } else if (hops.length > 1) {
      why.push('X-Forwarded-For gave no usable client address, so the socket peer is the client.')
    }
    const ignored = hops.filter((h) => h.role === 'ignored').length
    if (ignored > 0) why.push(`${ignored} X-Forwarded-For value${ignored === 1 ? ' was' : 's were'} left of the client: anyone could have written ${ignored === 1 ? 'it' : 'them'}, so ignored.`)
    if (view.protocol !== original.protocol) why.push(`The scheme is ${view.protocol}, from X-Forwarded-Proto.`)
    if (view.host !== original.host) why.push(`The host is ${view.host}, from ${config.hostHeader !== null && headers[config.hostHeader.toLowerCase()] !== undefined ? config.hostHeader + ' (hostRewrite)' : 'X-Forwarded-Host'}.`)
    if (view.prefix !== '') why.push(`The prefix is ${view.prefix}, from X-Forwarded-Prefix.`)
  }
  if (headers.forwarded !== undefined && !plan.forwarded) why.push('The Forwarded header is not read (X-Forwarded-* are).')
  return {
    pid: process.pid,
    socket: { ip: original.ip ?? null, host: original.host, protocol: original.protocol },
    corrected: {
      ip: view.ip ?? null,
      ips: view.ips,
      host: view.host,
      hostname: view.hostname,
      port: view.port,
      protocol: view.protocol,
      prefix: view.prefix,
      url: view.url(request.url)
    },
    trusted: view.trusted,
    hops,
    headers,
    why,
    config: { trust: config.trust, hostHeader: config.hostHeader, allowedHosts: config.allowedHosts }
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
}

function rows (record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(Array.isArray(v) ? v.join(', ') : v)}</td></tr>`).join('')
}

export function renderHtml (info: WhoamiInfo): string {
  const { url: _url, ...corrected } = info.corrected
  const hops = info.hops.map((h) => `<tr class="${h.role === 'ignored' ? 'ignored' : ''}"><td>${h.hop}</td><td>${escapeHtml(h.address)}</td><td>${escapeHtml(h.from)}</td><td>${escapeHtml(h.role)}</td></tr>`).join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>whoami: fastify-proxy-fix</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin-bottom:1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-family:ui-monospace,monospace}.ignored{color:#999;text-decoration:line-through}</style>
</head><body>
<h1>whoami</h1>
<p>Absolute URL of this page: <code>${escapeHtml(info.corrected.url)}</code></p>
<h2>Why</h2><ul>${info.why.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>
<h2>The socket's view</h2><table>${rows(info.socket)}</table>
<h2>The corrected view</h2><table>${rows({ ...corrected, trusted: info.trusted })}</table>
<h2>Hops, from the socket outwards</h2><table><tr><th>hop</th><th>address</th><th>from</th><th>role</th></tr>${hops}</table>
<h2>Request headers</h2><table>${rows(info.headers)}</table>
<h2>Configuration</h2><table>${rows({ ...info.config, pid: info.pid })}</table>
</body></html>
`
}

/** HTML when the client ranks text/html above application/json (a browser), JSON otherwise. */
export function wantsHtml (accept: string | undefined): boolean {
  if (accept === undefined) return false
  let html = -1
  let json = -1
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0
    if (type === 'text/html') html = Math.max(html, q)
    else if (type === 'application/json') json = Math.max(json, q)
  }
  return html > 0 && html >= json && !(html === json && json > 0)
}

function whoamiPlugin (config: ServeConfig, plan: Plan): FastifyPluginAsync {
  return async (fastify) => {
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<string | WhoamiInfo> => {
      const info = whoami(request, config, plan)
      reply.header('vary', 'accept').header('cache-control', 'no-store')
      if (wantsHtml(request.headers.accept)) {
        reply.type('text/html; charset=utf-8')
        return renderHtml(info)
      }
      return info
    }
    fastify.get('/', handler)
    fastify.get('/*', handler)
  }
}

// ---------------------------------------------------------------------------------------------
// server

/** Builds the Fastify instance: proxyFix, hostRewrite, then the app, the plugin or whoami. */
export async function buildServer (config: ServeConfig, loaded: Loaded): Promise<FastifyInstance> {
  const fastify = Fastify({ forceCloseConnections: 'idle' })
  const plan = compileOptions(fixOptions(config), 'proxyFix')
  await fastify.register(proxyFix, fixOptions(config))
  if (config.hostHeader !== null) await fastify.register(hostRewrite, rewriteOptions(config))
  const prefix = config.prefix === '/' ? undefined : config.prefix
  if (loaded.kind === 'mount') await fastify.register(mountApp, { app: loaded.app, prefix })
  else if (loaded.kind === 'plugin') await fastify.register(loaded.plugin, { prefix })
  else await fastify.register(whoamiPlugin(config, plan))
  await fastify.ready()
  return fastify
}

/**
 * A leftover socket file from a crashed server is removed, but only when nothing answers on it:
 * a live server's socket is never taken over.
 */
export async function clearStaleSocket (file: string): Promise<void> {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(file)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new CliError(`${file} exists and is not a socket: refusing to replace it`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => resolve(false))
  })
  if (live) throw new CliError(`${file} is already in use: a server is listening on it`)
  fs.unlinkSync(file)
}

/** Fails early, in the primary, when the TCP address is taken (workers would crash one by one). */
export async function checkPort (host: string, port: number): Promise<void> {
  if (port === 0) return
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()))
  }).catch((err: NodeJS.ErrnoException) => { throw listenError(err, `${host}:${port}`) })
}

export function listenError (err: NodeJS.ErrnoException, where: string): Error {
  if (err.code === 'EADDRINUSE') return new CliError(`${where} is already in use (EADDRINUSE): is another server running?`)
  if (err.code === 'EACCES') return new CliError(`cannot listen on ${where}: permission denied (EACCES)`)
  return err
}

/** The one line printed for any failure. */
export function errorLine (err: unknown): string {
  const e = err as { code?: unknown, message?: unknown }
  let message = typeof e?.message === 'string' ? e.message : String(err)
  if (!(err instanceof CliError) && typeof e?.code === 'string' && !message.includes(e.code)) message = `${e.code}: ${message}`
  return 'fastify-proxy-fix: ' + message.replace(/\s*\n\s*/g, ' ')
}

// ---------------------------------------------------------------------------------------------
// processes

export interface WorkerLike {
  id: number
  process: { pid?: number, kill: (signal?: NodeJS.Signals) => unknown }
}

export interface ClusterLike {
  isPrimary: boolean
  worker?: { disconnect: () => void }
  fork: () => WorkerLike
  on: (event: 'exit', listener: (worker: WorkerLike, code: number | null, signal: string | null) => void) => unknown
}

export interface Io {
  stdout: (line: string) => void
  stderr: (line: string) => void
  cwd: string
  /** process, in real use: SIGTERM and SIGINT are listened for on it. */
  signals: Pick<EventEmitter, 'once' | 'removeListener'>
  cluster: ClusterLike
  /** How long in-flight requests get to finish after SIGTERM. */
  graceMs: number
  /** setTimeout, replaceable in tests. */
  setTimeout: (fn: () => void, ms: number) => { unref?: () => unknown }
  now: () => number
}

function waitForSignal (io: Io): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => (): void => {
      io.signals.removeListener('SIGTERM', term)
      io.signals.removeListener('SIGINT', int)
      resolve(signal)
    }
    const term = on('SIGTERM')
    const int = on('SIGINT')
    io.signals.once('SIGTERM', term)
    io.signals.once('SIGINT', int)
  })
}

/**
 * While draining, a second SIGTERM or SIGINT (Ctrl-C reaches the primary and the workers alike)
 * must not kill the process mid-drain: it is absorbed. Returns the function that stops absorbing.
 */
function absorbSignals (io: Io): () => void {
  const absorb = (): void => {}
  io.signals.once('SIGTERM', absorb)
  io.signals.once('SIGINT', absorb)
  return () => {
    io.signals.removeListener('SIGTERM', absorb)
    io.signals.removeListener('SIGINT', absorb)
  }
}

function label (config: ServeConfig, loaded: Loaded): string {
  return loaded.kind === 'whoami' ? 'whoami' : `${config.module} (${loaded.kind === 'plugin' ? 'Fastify plugin' : 'mounted app'})`
}

/** Serves in this process until SIGTERM or SIGINT, then drains. Returns the exit code. */
export async function serveOne (config: ServeConfig, io: Io): Promise<number> {
  const loaded = config.module === null ? { kind: 'whoami' as const } : await loadModule(config.module, io.cwd)
  const worker = io.cluster.isPrimary ? null : io.cluster.worker ?? null
  if (config.socket !== null && worker === null) await clearStaleSocket(config.socket)
  const fastify = await buildServer(config, loaded)
  const where = config.socket ?? `${config.host}:${config.port}`
  try {
    if (config.socket !== null) await fastify.listen({ path: config.socket })
    else await fastify.listen({ host: config.host, port: config.port })
  } catch (err) {
    await fastify.close()
    throw listenError(err as NodeJS.ErrnoException, where)
  }
  const address = fastify.server.address() as net.AddressInfo | string
  const url = typeof address === 'string' ? `unix:${address}` : `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  io.stdout(`fastify-proxy-fix: serving ${label(config, loaded)} on ${url} (pid ${process.pid})`)
  const signal = await waitForSignal(io)
  io.stdout(`fastify-proxy-fix: ${signal}: draining in-flight requests (pid ${process.pid})`)
  const release = absorbSignals(io)
  const drained = await Promise.race([
    fastify.close().then(() => true),
    new Promise<boolean>((resolve) => { io.setTimeout(() => resolve(false), io.graceMs).unref?.() })
  ])
  if (!drained) {
    io.stderr(`fastify-proxy-fix: requests still running after ${io.graceMs} ms: closing them`)
    fastify.server.closeAllConnections()
  }
  release()
  if (worker !== null) worker.disconnect()
  return drained ? 0 : 1
}

export interface RestartPolicy {
  /** Crashes counted within this window. */
  windowMs: number
  /** More crashes than this within the window: give up. */
  maxCrashes: number
  baseDelayMs: number
  maxDelayMs: number
}

export const RESTART: RestartPolicy = { windowMs: 60_000, maxCrashes: 10, baseDelayMs: 100, maxDelayMs: 5_000 }

/** The delay before restarting after a crash at `now`, or null for a restart storm. Prunes `crashes`. */
export function restartDelay (crashes: number[], now: number, policy: RestartPolicy = RESTART): number | null {
  crashes.push(now)
  while (crashes[0] <= now - policy.windowMs) crashes.shift()
  if (crashes.length > policy.maxCrashes) return null
  return Math.min(policy.baseDelayMs * 2 ** (crashes.length - 1), policy.maxDelayMs)
}

/** The pre-fork primary: starts N workers, restarts crashed ones, stops them all on a signal. */
export async function runPrimary (config: ServeConfig, io: Io, policy: RestartPolicy = RESTART): Promise<number> {
  // Check in the primary what would make every worker fail, so it is reported once.
  if (config.module !== null) await loadModule(config.module, io.cwd)
  if (config.socket !== null) await clearStaleSocket(config.socket)
  else await checkPort(config.host, config.port)

  const cluster = io.cluster
  const live = new Set<WorkerLike>()
  const crashes: number[] = []
  let stopping = false
  let code = 0
  let done!: () => void
  const finished = new Promise<void>((resolve) => { done = resolve })

  const stopAll = (signal: NodeJS.Signals): void => {
    stopping = true
    for (const w of live) w.process.kill(signal)
    if (live.size === 0) done()
  }
  const fork = (): void => {
    if (!stopping) live.add(cluster.fork())
  }
  cluster.on('exit', (worker, exitCode, signal) => {
    live.delete(worker)
    if (stopping) {
      if (exitCode !== 0) code = 1
      if (live.size === 0) done()
      return
    }
    const delay = restartDelay(crashes, io.now(), policy)
    const how = signal !== null ? `signal ${signal}` : `code ${exitCode}`
    if (delay === null) {
      io.stderr(`fastify-proxy-fix: workers crashed more than ${policy.maxCrashes} times in ${policy.windowMs / 1000} s: giving up`)
      code = 1
      stopAll('SIGTERM')
      return
    }
    io.stderr(`fastify-proxy-fix: worker ${worker.process.pid} exited (${how}); restarting in ${delay} ms`)
    io.setTimeout(fork, delay)
  })

  io.stdout(`fastify-proxy-fix: primary ${process.pid} starting ${config.workers} worker${config.workers === 1 ? '' : 's'}`)
  for (let i = 0; i < config.workers; i++) fork()
  const signal = await Promise.race([waitForSignal(io), finished.then(() => null)])
  if (signal !== null) {
    io.stdout(`fastify-proxy-fix: ${signal}: stopping workers`)
    const release = absorbSignals(io)
    stopAll('SIGTERM')
    io.setTimeout(() => {
      if (live.size === 0) return
      io.stderr(`fastify-proxy-fix: workers still running after ${io.graceMs + 1000} ms: killing them`)
      code = 1
      for (const w of live) w.process.kill('SIGKILL')
    }, io.graceMs + 1000).unref?.()
    await finished
    release()
  }
  return code
}

/** The CLI: returns the exit code. Every failure is one line on stderr. */
export async function main (argv: string[], io: Io): Promise<number> {
  try {
    const parsed = parseCommandLine(argv)
    if (parsed.help) {
      io.stdout(HELP)
      return 0
    }
    const { config } = parsed
    if (config.workers > 0 && io.cluster.isPrimary) return await runPrimary(config, io)
    return await serveOne(config, io)
  } catch (err) {
    io.stderr(errorLine(err))
    return 1
  }
}

/** The real process's io. */
export function processIo (): Io {
  return {
    stdout: (line) => { process.stdout.write(line.endsWith('\n') ? line : line + '\n') },
    stderr: (line) => { process.stderr.write(line + '\n') },
    cwd: process.cwd(),
    signals: process,
    cluster: cluster as unknown as ClusterLike,
    graceMs: 10_000,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    now: () => Date.now()
  }
}
