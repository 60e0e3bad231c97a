import { FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED, invalidOption } from './errors'
import { MAX_ENTRIES } from './list'
import { TOKEN } from './token'
import { parseHost } from './field-values'
import { loadRangesFile } from './ranges-file'
import { BUILTIN_PRESETS, compileCount, compileFunction, compileList, TRUST_ALL, TRUST_OFF, type Presets, type Trust, type TrustError } from './trust'

import { FIELDS, type Field } from './options-schema'

export interface EdgeHeader {
  /** The lower-cased header name. */
  name: string
  edge: Trust
}

export type PluginName = 'proxyFix' | 'hostRewrite' | 'mountApp'

export interface Plan {
  plugin: PluginName
  /** The validated options, kept for merging route overrides. */
  options: Readonly<Record<string, unknown>>
  trust: Trust
  /** With a count: who may connect (GHSA-3m5p-2c4r-xxw2). Unused by other trust forms. */
  peers: Trust
  /** `trust` was given empty ([] or ''): nothing is trusted. */
  emptyTrust: boolean
  forwarded: boolean
  clientIpHeader: string | null
  /** Client-IP headers tied to their edges: believed only from a hop in the edge's ranges. */
  edgeHeaders: EdgeHeader[] | null
  /** Who may connect: `trust`, plus the edges of tied headers. */
  peerTrust: Trust
  /** Hop count per field with a numeric trust; 1 (on) or 0 (off) otherwise. */
  for: number
  proto: number
  host: number
  port: number
  prefix: number
  allowedHosts: ((hostname: string) => boolean) | null
  strict: boolean
  /** hostRewrite: the lower-cased header name. */
  header: string | null
  /** Log misconfiguration warnings. */
  warnings: boolean
  /** An onRequest check is needed to answer 400. */
  guard: boolean
  /** X-Forwarded-* without a hop count or a client-IP header: resolve takes fast-path.ts. */
  fastPath: boolean
}

const SHARED = new Set(['trust', 'rangesFile', 'peers', 'hops', 'fields', 'forwarded', 'clientIpHeader', 'allowedHosts', 'strict', 'warnings'])
const OWN: Record<PluginName, string[]> = {
  proxyFix: [],
  hostRewrite: ['header'],
  mountApp: ['app', 'prefix']
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_ENTRIES
}

/** `[]`, `''` or a blank string: an unset environment variable, read as "trust nothing", as proxy-addr and Express do. */
function isEmptyTrust (value: unknown): boolean {
  return (Array.isArray(value) && value.length === 0) || (typeof value === 'string' && value.trim() === '')
}

const DEFAULT_PEERS = compileList(['loopback', 'linklocal', 'uniquelocal', 'unix'])

function compilePeers (value: unknown, presets: Presets): Trust {
  if (value === undefined) return DEFAULT_PEERS
  if (value === true) return TRUST_ALL
  if (typeof value === 'function') return compileFunction(value as (a: string, h: number) => unknown)
  if ((typeof value === 'string' || Array.isArray(value)) && !isEmptyTrust(value)) {
    try {
      return compileList(value, presets)
    } catch (err) {
      const e = err as TrustError
      invalidOption('peers', e.entry, e.message)
    }
  }
  return invalidOption('peers', value, 'must be an address list, a function or true (who may connect when trust is a hop count)')
}

function compileTrust (value: unknown, plugin: PluginName, presets: Presets): Trust {
  if (value === undefined) return compileList('loopback')
  if (isEmptyTrust(value)) return TRUST_OFF
  if (value === false) return TRUST_OFF
  if (value === true) {
    if (plugin === 'hostRewrite') {
      throw new FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED('hostRewrite',
        'any client could then choose the host; list the proxies that set the header instead')
    }
    return TRUST_ALL
  }
  if (typeof value === 'number') {
    if (!isCount(value)) invalidOption('trust', value, `is not a hop count (an integer from 0 to ${MAX_ENTRIES})`)
    return value === 0 ? TRUST_OFF : compileCount(value)
  }
  if (typeof value === 'function') return compileFunction(value as (a: string, h: number) => unknown)
  if (typeof value === 'string' || Array.isArray(value)) {
    try {
      return compileList(value, presets)
    } catch (err) {
      // compileList throws only TrustError
      const e = err as TrustError
      invalidOption('trust', e.entry, e.message)
    }
  }
  return invalidOption('trust', value, 'must be an address list, a hop count, a function, true or false')
}

function compileEdgeHeaders (value: Record<string, unknown>, presets: Presets): EdgeHeader[] {
  const names = Object.keys(value)
  if (names.length === 0) invalidOption('clientIpHeader', value, 'names no header')
  return names.map((key) => {
    if (!TOKEN.test(key)) invalidOption('clientIpHeader', key, 'is not a header name')
    const ranges = value[key]
    if ((typeof ranges !== 'string' && !Array.isArray(ranges)) || isEmptyTrust(ranges)) {
      invalidOption(`clientIpHeader.${key}`, ranges, 'must list the addresses or named ranges of the edge that sends it')
    }
    try {
      return { name: key.toLowerCase(), edge: compileList(ranges as string | string[], presets) }
    } catch (err) {
      const e = err as TrustError
      return invalidOption(`clientIpHeader.${key}`, e.entry, e.message)
    }
  })
}

/** `trust`, plus every edge of a tied header: an edge may connect directly. */
function withEdges (trust: Trust, edges: EdgeHeader[]): Trust {
  return {
    kind: trust.kind === 'function' ? 'function' : trust.kind === 'off' ? 'list' : trust.kind,
    count: 0,
    test (ip, hop) {
      if (trust.test(ip, hop)) return true
      for (const e of edges) if (e.edge.test(ip, hop)) return true
      return false
    }
  }
}

function compileAllowedHosts (value: unknown): ((hostname: string) => boolean) | null {
  if (value === undefined) return null
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value
  if (!Array.isArray(list) || list.length === 0) invalidOption('allowedHosts', value, 'must be a non-empty list of host names')
  const exact = new Set<string>()
  const suffixes: string[] = []
  for (const item of list) {
    if (typeof item !== 'string') invalidOption('allowedHosts', item, 'is not a string')
    const name = item.toLowerCase()
    const bare = name.startsWith('.') ? name.slice(1) : name
    const parsed = parseHost(bare)
    if (parsed === null || parsed.port !== null) invalidOption('allowedHosts', item, 'is not a host name or ".domain" suffix')
    if (name.startsWith('.')) {
      suffixes.push(name)
      exact.add(bare)
    } else {
      exact.add(name)
    }
  }
  return (hostname) => {
    const h = hostname.toLowerCase()
    if (exact.has(h)) return true
    for (let i = 0; i < suffixes.length; i++) if (h.endsWith(suffixes[i])) return true
    return false
  }
}

/** Validates options for one plugin and compiles them. Throws FST_ERR_PROXY_FIX_* at registration. */
export function compileOptions (input: unknown, plugin: PluginName): Plan {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    invalidOption(plugin, input, 'options must be an object')
  }
  const opts = input as Record<string, unknown>
  const own = OWN[plugin]
  for (const key of Object.keys(opts)) {
    if (!SHARED.has(key) && !own.includes(key)) invalidOption(key, opts[key], `is not an option of ${plugin}`)
  }
  const presets = opts.rangesFile === undefined ? BUILTIN_PRESETS : loadRangesFile(opts.rangesFile)
  const trust = compileTrust(opts.trust, plugin, presets)
  const peers = compilePeers(opts.peers, presets)
  const counting = trust.kind === 'count'
  const counts: Record<Field, number> = { for: 1, proto: 1, host: 1, port: 1, prefix: 1 }

  if (opts.hops !== undefined) {
    if (!counting) invalidOption('hops', opts.hops, 'needs a numeric trust (a hop count)')
    if (opts.hops === null || typeof opts.hops !== 'object' || Array.isArray(opts.hops)) invalidOption('hops', opts.hops, 'must be an object')
    for (const [k, v] of Object.entries(opts.hops)) {
      if (!(FIELDS as readonly string[]).includes(k)) invalidOption(`hops.${k}`, v, 'is not a field (for, proto, host, port, prefix)')
      if (!isCount(v)) invalidOption(`hops.${k}`, v, `is not a hop count (an integer from 0 to ${MAX_ENTRIES})`)
    }
  }
  if (counting) {
    const hops = (opts.hops ?? {}) as Partial<Record<Field, number>>
    for (const f of FIELDS) counts[f] = hops[f] ?? trust.count
  }
  if (opts.fields !== undefined) {
    if (counting) invalidOption('fields', opts.fields, 'does not go with a numeric trust: use hops')
    const list = typeof opts.fields === 'string' ? opts.fields.split(',').map((s) => s.trim()) : opts.fields
    if (!Array.isArray(list)) invalidOption('fields', opts.fields, 'must be a list of for, proto, host, port, prefix')
    for (const f of FIELDS) counts[f] = 0
    for (const f of list) {
      if (!(FIELDS as readonly unknown[]).includes(f)) invalidOption('fields', f, 'is not a field (for, proto, host, port, prefix)')
      counts[f as Field] = 1
    }
  }
  for (const key of ['forwarded', 'strict', 'warnings'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') invalidOption(key, opts[key], 'must be true or false')
  }
  let clientIpHeader: string | null = null
  let edgeHeaders: EdgeHeader[] | null = null
  const cih = opts.clientIpHeader
  if (cih !== null && typeof cih === 'object' && !Array.isArray(cih)) {
    if (counting) invalidOption('clientIpHeader', cih, 'tied to edges needs an address or function trust, not a hop count')
    edgeHeaders = compileEdgeHeaders(cih as Record<string, unknown>, presets)
  } else if (cih !== undefined) {
    if (typeof cih !== 'string' || !TOKEN.test(cih)) invalidOption('clientIpHeader', cih, 'is not a header name, or an object of header names and the edges that send them')
    clientIpHeader = cih.toLowerCase()
  }
  let header: string | null = null
  if (plugin === 'hostRewrite') {
    if (typeof opts.header !== 'string' || !TOKEN.test(opts.header)) invalidOption('header', opts.header, 'must be a header name, such as "x-fhost"')
    header = opts.header.toLowerCase()
    if (header === 'host' || header === ':authority') invalidOption('header', opts.header, 'must be a header set by the proxy, not Host itself')
  }
  const allowedHosts = compileAllowedHosts(opts.allowedHosts)
  const strict = opts.strict === true
  const peerTrust = edgeHeaders === null ? trust : withEdges(trust, edgeHeaders)
  return {
    plugin,
    options: Object.freeze({ ...opts }),
    trust,
    peers,
    emptyTrust: isEmptyTrust(opts.trust),
    forwarded: opts.forwarded === true,
    clientIpHeader,
    edgeHeaders,
    peerTrust,
    ...counts,
    allowedHosts,
    strict,
    warnings: opts.warnings !== false,
    header,
    guard: allowedHosts !== null || (strict && peerTrust.kind !== 'off'),
    // the commonest plan, which fast-path.ts walks in place (decided here, not per request)
    fastPath: opts.forwarded !== true && clientIpHeader === null && edgeHeaders === null && trust.kind !== 'count'
  }
}

/**
 * What a plugin logs once at registration about its plan: [level, message]. Trusting every peer,
 * or counting hops from any peer, lets any client forge its IP, scheme and host.
 */
export function planNotices (plan: Plan, name: string = plan.plugin): Array<['warn' | 'info', { code: string }, string]> {
  const out: Array<['warn' | 'info', { code: string }, string]> = []
  if (plan.trust.kind === 'all') out.push(['warn', { code: 'FPF_W_TRUST_ALL' }, `${name}: trust is true, so every peer is trusted and any client can forge its IP, scheme and host`])
  if (plan.trust.kind === 'count' && plan.peers.kind === 'all') {
    out.push(['warn', { code: 'FPF_W_UNCHECKED_COUNT' }, `${name}: peers is true, so the hop count is believed from any peer, and a client that connects directly can forge its IP, scheme and host`])
  }
  if (plan.emptyTrust) out.push(['info', { code: 'FPF_TRUST_EMPTY' }, `${name}: trust is empty, so no proxy is trusted and the socket's own values stand`])
  return plan.warnings ? out : out.filter(([level]) => level === 'info')
}

/** A route's `config.<plugin>`: false turns the plugin off there; an object overrides options. */
export function compileRouteOptions (base: Plan, override: unknown): Plan {
  if (override === false) return { ...base, trust: TRUST_OFF, peerTrust: TRUST_OFF, edgeHeaders: null, allowedHosts: null, guard: false, options: base.options }
  if (override === null || typeof override !== 'object' || Array.isArray(override)) {
    invalidOption(`config.${base.plugin}`, override, 'must be false or an options object')
  }
  const merged: Record<string, unknown> = { ...base.options, ...override }
  // A route that picks a new trust form does not inherit options tied to the old one.
  const o = override as Record<string, unknown>
  if ('trust' in o) {
    if (typeof o.trust === 'number') {
      if (!('fields' in o)) delete merged.fields
    } else if (!('hops' in o)) {
      delete merged.hops
    }
  }
  return compileOptions(merged, base.plugin)
}
