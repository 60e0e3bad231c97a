import os from 'node:os'
import type { Field } from '../core/options-schema'
import { prefixProblem } from '../mount/path'
import { bad, CliError } from './cli-error'
import { checkPlugins } from './proxy-settings'
import { parseBind, type Bind } from './bind-spec'

/** Every setting of `serve`, after defaults, the config file, the environment and the flags. */
export interface Settings {
  /** The module path (relative to cwd), or null for the built-in whoami page. */
  module: string | null
  /** `module:export` picks a named export. */
  exportName: string | null
  prefix: string
  binds: Bind[]
  /** 0: one process, no primary. */
  workers: number
  /** Heartbeat: seconds a worker may stay silent (0 turns it off). */
  timeout: number
  gracefulTimeout: number
  keepAlive: number
  maxRequests: number
  maxRequestsJitter: number
  /** '-' for stderr, a file path, or null (off). */
  accessLog: string | null
  accessLogFormat: 'combined' | 'json'
  logLevel: string
  certfile: string | null
  keyfile: string | null
  http2: boolean
  health: string | null
  trust: unknown
  peers: unknown
  hops: Partial<Record<Field, number>> | null
  fields: Field[] | null
  forwarded: boolean
  /** A header name, or headers tied to the ranges allowed to send them. */
  clientIpHeader: string | Record<string, string | string[]> | null
  rangesFile: string | null
  proxyProtocol: 'v1' | 'v2' | 'auto' | null
  /** Who may send a PROXY protocol header (null: the --trust list). */
  proxyAllowFrom: string | string[] | null
  hostHeader: string | null
  allowedHosts: string | string[] | null
  strict: boolean
}

/** The keys a config file or `serve()` may set (module is `app` there). */
export const KEYS = ['app', 'prefix', 'bind', 'port', 'host', 'socket', 'workers', 'timeout', 'gracefulTimeout', 'keepAlive',
  'maxRequests', 'maxRequestsJitter', 'accessLog', 'accessLogFormat', 'logLevel', 'certfile', 'keyfile', 'http2', 'health',
  'trust', 'peers', 'hops', 'fields', 'forwarded', 'clientIpHeader', 'rangesFile', 'proxyProtocol', 'proxyAllowFrom', 'hostHeader', 'allowedHosts', 'strict'] as const
export type Key = typeof KEYS[number]

export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Names a setting in errors the way its source spells it: `--max-requests`, or `"maxRequests" in app.json`. */
export type Namer = (key: Key) => string

export const flagName = (key: string): string => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())

/** An integer from min to max, given as a number or as decimal digits. */
export function integer (name: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) bad(name, value, `must be an integer from ${min} to ${max}`)
  return n
}

/** Seconds: a number from min to max, such as 30 or 0.5. */
function seconds (name: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) bad(name, value, `must be a number of seconds from ${min} to ${max}`)
  return n
}

function bool (name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (value === 'true') return true
  if (value === 'false') return false
  return bad(name, value, 'must be true or false')
}

function text (name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') bad(name, value, 'must be a non-empty string')
  return value
}

export function workerCount (name: string, value: unknown): number {
  if (value === 'auto') return os.availableParallelism()
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) bad(name, value, 'must be "auto" or an integer from 1 to 256')
  return n
}

function list (value: unknown): unknown {
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value
}

/** `for=2,proto=1` (CLI) or `{ for: 2, proto: 1 }`. */
/** `X-Real-IP`, `CF-Connecting-IP=cloudflare,10.0.0.0/8` (CLI), or `{ "cf-connecting-ip": ["cloudflare"] }`. */
function clientIpHeaderOf (name: string, value: unknown): Settings['clientIpHeader'] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, string[]>
  const t = text(name, value)
  const eq = t.indexOf('=')
  return eq === -1 ? t : { [t.slice(0, eq)]: t.slice(eq + 1) }
}

function hopsOf (name: string, value: unknown): Partial<Record<Field, number>> {
  if (typeof value !== 'string') return value as Partial<Record<Field, number>>
  const out: Record<string, unknown> = {}
  for (const part of value.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/.exec(part)
    if (m === null) bad(name, value, 'must be a list like for=2,proto=1')
    out[m[1]] = Number(m[2])
  }
  return out as Partial<Record<Field, number>>
}

/** A trust given as text: a hop count, true, false, or an address list. */
function trustOf (value: unknown): unknown {
  if (typeof value !== 'string') return value
  if (/^\d+$/.test(value.trim())) return Number(value)
  if (value === 'true' || value === 'false') return value === 'true'
  return value
}

export const DEFAULTS = {
  prefix: '/',
  workers: 0,
  timeout: 30,
  gracefulTimeout: 30,
  keepAlive: 5,
  maxRequests: 0,
  maxRequestsJitter: 0,
  accessLog: '-',
  accessLogFormat: 'combined' as const,
  logLevel: 'info',
  trust: 'loopback,unix'
}

export interface Sources {
  /** Flags: the highest rank. */
  flags: Partial<Record<Key, unknown>>
  flagNamer: Namer
  /** A config file or the options of serve(). */
  file: Partial<Record<Key, unknown>>
  fileNamer: Namer
  env: NodeJS.ProcessEnv
  pid: number
}

export interface Resolved {
  settings: Settings
  /** Lines worth telling the user at startup (such as binding 0.0.0.0 because of PORT). */
  notes: string[]
}

/** `./app.js:api` ⇒ module and export name; a Windows drive letter or a bare path keeps its colons. */
export function splitModule (spec: string): { module: string, exportName: string | null } {
  const m = /^(.+):([A-Za-z_$][\w$]*)$/.exec(spec)
  if (m === null || /^[A-Za-z]$/.test(m[1])) return { module: spec, exportName: null }
  return { module: m[1], exportName: m[2] }
}

/** Merges the sources (flags over config over environment over defaults) and validates every value. */
export function resolveSettings (src: Sources): Resolved {
  const notes: string[] = []
  const pick = (key: Key): [unknown, string] | undefined => {
    if (src.flags[key] !== undefined) return [src.flags[key], src.flagNamer(key)]
    if (src.file[key] !== undefined) return [src.file[key], src.fileNamer(key)]
    return undefined
  }
  const get = <T>(key: Key, parse: (name: string, value: unknown) => T, fallback: T): T => {
    const found = pick(key)
    return found === undefined ? fallback : parse(found[1], found[0])
  }
  const env = src.env
  const app = get('app', text, null as string | null)
  const { module, exportName } = app === null ? { module: null, exportName: null } : splitModule(app)
  const prefix = get('prefix', text, DEFAULTS.prefix)
  const prefixWhy = prefixProblem(prefix)
  if (prefixWhy !== null) bad(pick('prefix')?.[1] as string, prefix, prefixWhy)

  let workers = get('workers', workerCount, DEFAULTS.workers)
  if (pick('workers') === undefined && env.WEB_CONCURRENCY !== undefined && env.WEB_CONCURRENCY !== '') {
    workers = workerCount('WEB_CONCURRENCY', env.WEB_CONCURRENCY)
  }
  const binds = bindsOf(src, pick, notes)
  const maxRequests = get('maxRequests', (n, v) => integer(n, v, 0, 1e9), 0)
  const maxRequestsJitter = get('maxRequestsJitter', (n, v) => integer(n, v, 0, 1e9), 0)
  if (maxRequests > 0 && workers === 0) {
    bad(pick('maxRequests')?.[1] as string, maxRequests, 'needs --workers: a primary starts the replacement before the old worker stops')
  }
  const accessLog = get('accessLog', (n, v) => {
    if (v === false || v === 'off') return null
    return text(n, v)
  }, DEFAULTS.accessLog as string | null)
  const accessLogFormat = get('accessLogFormat', (n, v) => {
    if (v !== 'combined' && v !== 'json') bad(n, v, 'must be combined or json')
    return v
  }, DEFAULTS.accessLogFormat as 'combined' | 'json')
  const logLevel = get('logLevel', (n, v) => {
    if (typeof v !== 'string' || !LEVELS.includes(v)) bad(n, v, `must be one of ${LEVELS.join(', ')}`)
    return v
  }, DEFAULTS.logLevel)
  const certfile = get('certfile', text, null as string | null)
  const keyfile = get('keyfile', text, null as string | null)
  if ((certfile === null) !== (keyfile === null)) {
    throw new CliError(certfile === null ? '--keyfile needs --certfile' : '--certfile needs --keyfile')
  }
  const http2 = get('http2', bool, false)
  if (http2 && certfile === null) bad(pick('http2')?.[1] as string, true, 'needs --certfile and --keyfile (HTTP/2 is served over TLS)')
  const health = get('health', (n, v) => {
    if (typeof v !== 'string' || !/^\/[^\s?#]*$/.test(v)) bad(n, v, 'must be a path starting with "/"')
    return v
  }, null as string | null)

  let trust: unknown = DEFAULTS.trust
  const trustFound = pick('trust')
  if (trustFound !== undefined) trust = trustOf(trustFound[0])
  else if (env.FORWARDED_ALLOW_IPS !== undefined && env.FORWARDED_ALLOW_IPS !== '') trust = env.FORWARDED_ALLOW_IPS === '*' ? true : env.FORWARDED_ALLOW_IPS

  const settings: Settings = {
    module,
    exportName,
    prefix,
    binds,
    workers,
    timeout: get('timeout', (n, v) => seconds(n, v, 0, 86400), DEFAULTS.timeout),
    gracefulTimeout: get('gracefulTimeout', (n, v) => seconds(n, v, 0, 86400), DEFAULTS.gracefulTimeout),
    keepAlive: get('keepAlive', (n, v) => seconds(n, v, 0, 86400), DEFAULTS.keepAlive),
    maxRequests,
    maxRequestsJitter,
    accessLog,
    accessLogFormat,
    logLevel,
    certfile,
    keyfile,
    http2,
    health,
    trust,
    peers: get('peers', (_n, v) => v === 'true' ? true : v, undefined as unknown),
    hops: get('hops', hopsOf, null),
    fields: get('fields', (_n, v) => list(v) as Field[], null),
    forwarded: get('forwarded', bool, false),
    clientIpHeader: get('clientIpHeader', clientIpHeaderOf, null as Settings['clientIpHeader']),
    rangesFile: get('rangesFile', text, null as string | null),
    proxyProtocol: get('proxyProtocol', (n, v) => {
      if (v !== 'v1' && v !== 'v2' && v !== 'auto') bad(n, v, 'must be v1, v2 or auto')
      return v
    }, null as Settings['proxyProtocol']),
    proxyAllowFrom: get('proxyAllowFrom', (n, v) => {
      if (typeof v !== 'string' && !Array.isArray(v)) bad(n, v, 'must list the load balancer\'s addresses')
      return v
    }, null as Settings['proxyAllowFrom']),
    hostHeader: get('hostHeader', text, null as string | null),
    allowedHosts: get('allowedHosts', (_n, v) => v as string | string[], null),
    strict: get('strict', bool, false)
  }
  checkPlugins(settings, pick)
  return { settings, notes }
}

function bindsOf (src: Sources, pick: (key: Key) => [unknown, string] | undefined, notes: string[]): Bind[] {
  const bind = pick('bind')
  const port = pick('port')
  const host = pick('host')
  const socket = pick('socket')
  if (bind !== undefined) {
    const other = port ?? host ?? socket
    if (other !== undefined) throw new CliError(`${bind[1]} cannot be combined with ${other[1]}: give every address as ${bind[1]}`)
    const specs = Array.isArray(bind[0]) ? bind[0] as unknown[] : [bind[0]]
    if (specs.length === 0) bad(bind[1], bind[0], 'must list at least one address')
    return specs.map((s) => parseBind(bind[1], s))
  }
  if (socket !== undefined) {
    const other = port ?? host
    if (other !== undefined) throw new CliError(`${socket[1]} cannot be combined with ${other[1]}`)
    return [{ kind: 'unix', path: text(socket[1], socket[0]) }]
  }
  if (port !== undefined || host !== undefined) {
    return [{
      kind: 'tcp',
      host: host === undefined ? '127.0.0.1' : text(host[1], host[0]),
      port: port === undefined ? 3000 : integer(port[1], port[0], 0, 65535)
    }]
  }
  const env = src.env
  const fds = Number(env.LISTEN_FDS)
  if (env.LISTEN_FDS !== undefined && Number(env.LISTEN_PID) === src.pid && Number.isInteger(fds) && fds > 0) {
    notes.push(`systemd socket activation: listening on ${fds} inherited socket${fds === 1 ? '' : 's'} (LISTEN_FDS)`)
    return Array.from({ length: fds }, (_, i) => ({ kind: 'fd' as const, fd: 3 + i }))
  }
  if (env.PORT !== undefined && env.PORT !== '') {
    const p = integer('PORT', env.PORT, 0, 65535)
    if (env.HOST !== undefined && env.HOST !== '') return [{ kind: 'tcp', host: env.HOST, port: p }]
    notes.push(`PORT is set and HOST is not: binding 0.0.0.0:${p}, reachable from outside this machine, as platforms expect`)
    return [{ kind: 'tcp', host: '0.0.0.0', port: p }]
  }
  if (env.HOST !== undefined && env.HOST !== '') return [{ kind: 'tcp', host: env.HOST, port: 3000 }]
  return [{ kind: 'tcp', host: '127.0.0.1', port: 3000 }]
}
