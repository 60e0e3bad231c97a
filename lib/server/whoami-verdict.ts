// The whoami page's verdict and suggestion: pure, from what one request shows and the settings
// the page quotes. No Fastify here.
import type { WhoamiHop } from '../../types'
import { parseIp } from '../core/ip'
import { compileList } from '../core/trust'
import { BOTH_FAMILIES, FORGOTTEN_PROXY, TRUST_TOO_WIDE } from '../core/warnings'

export type Hop = WhoamiHop
export type Role = Hop['role']

export type Level = 'ok' | 'misconfigured' | 'spoofable'

export interface VerdictInput {
  /** The socket peer; null for a Unix-socket peer. */
  peer: string | null
  trusted: boolean
  hops: Hop[]
  /** The relevant request headers, lower-cased names. */
  headers: Record<string, string>
  trust: unknown
  peers: unknown
  forwarded: boolean
  /** The resolver's notice bits (warnings.ts). */
  notices: number
  /** The corrected prefix. */
  prefix: string
}

export interface Suggestion {
  /** Plugin options to copy. */
  options: Record<string, unknown>
  /** The same for `fastify-proxy-fix serve`. */
  flags: string
  note: string
}

export interface WarningItem { code: string, message: string }

export interface Advice {
  verdict: Level
  reason: string
  suggestion: Suggestion
  warnings: WarningItem[]
  /** The X-Forwarded-Prefix value the absolute URL lacks, or null. */
  lostPrefix: string | null
}

const LOCAL = compileList('private')
const FORWARDED_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']

/** A trust or peers setting as a list of entries ([] for none, a count, true or the default). */
export function listOf (value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String)
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  return []
}

const add = (list: string[], entry: string): string[] => list.includes(entry) ? list : [...list, entry]

function suggest (trust: unknown, peers: unknown, forwarded: boolean, extra: Record<string, unknown>, note: string): Suggestion {
  const options: Record<string, unknown> = {}
  const flags: string[] = []
  if (trust !== undefined) {
    options.trust = trust
    flags.push(`--trust ${Array.isArray(trust) ? trust.join(',') : String(trust)}`)
  }
  if (typeof trust === 'number' && peers !== undefined) {
    options.peers = peers
    flags.push(`--peers ${Array.isArray(peers) ? peers.join(',') : String(peers)}`)
  }
  if (forwarded) {
    options.forwarded = true
    flags.push('--forwarded')
  }
  for (const [k, v] of Object.entries(extra)) {
    options[k] = v
    flags.push(`--${k} ${Array.isArray(v) ? v.join(',') : Object.entries(v as object).map(([f, n]) => `${f}=${String(n)}`).join(',')}`)
  }
  return { options, flags: flags.join(' '), note }
}

/** What the page concludes: the verdict with its reason, what to set, and the warnings that apply. */
export function advise (input: VerdictInput): Advice {
  const { peer, trusted, hops, headers, trust, peers, forwarded, notices, prefix } = input
  const name = peer ?? 'unix'
  const counted = typeof trust === 'number'
  const warnings: WarningItem[] = []
  const sent = FORWARDED_HEADERS.some((h) => headers[h] !== undefined)
  const ip = peer === null ? null : parseIp(peer)
  const local = peer === null || (ip !== null && LOCAL.test(ip, 0))
  const forgotten = (notices & FORGOTTEN_PROXY) !== 0 || (!trusted && sent && local)
  const tooWide = (notices & TRUST_TOO_WIDE) !== 0
  const both = (notices & BOTH_FAMILIES) !== 0 || (trusted && headers.forwarded !== undefined && headers['x-forwarded-for'] !== undefined)
  const sentPrefix = headers['x-forwarded-prefix']
  const lostPrefix = sentPrefix !== undefined && prefix === '' ? sentPrefix : null
  const proxies = [...new Set(hops.filter((h) => h.role === 'trusted proxy').map((h) => h.from === 'socket' && peer === null ? 'unix' : h.address))]

  if (trust === true) warnings.push({ code: 'FPF_W_TRUST_ALL', message: 'trust: true believes forwarded headers from any peer: list the proxies instead.' })
  if (counted && peers === true) warnings.push({ code: 'FPF_W_UNCHECKED_COUNT', message: 'peers: true lets any peer be counted as a proxy: list the proxy\'s range.' })
  if (forgotten) warnings.push({ code: 'FPF_W_FORGOTTEN_PROXY', message: `Forwarded headers arrive from ${name}, a local or private address that is not trusted, so they are ignored. If it is your proxy, trust it: trust: ['${name}'] (serve --trust ${name}).` })
  if (tooWide) warnings.push({ code: 'FPF_W_TRUST_TOO_WIDE', message: `Every address in the X-Forwarded-For chain from ${name} is trusted, so the client is its leftmost entry by default: list only your proxies.` })
  if (both) warnings.push({ code: 'FPF_W_BOTH_FAMILIES', message: `${name} sends both Forwarded and X-Forwarded-For; only ${forwarded ? 'Forwarded' : 'X-Forwarded-*'} is read. Make the proxy send one family and clear the other.` })
  if (lostPrefix !== null) warnings.push({ code: 'FPF_W_LOST_PREFIX', message: `X-Forwarded-Prefix ${lostPrefix} arrives but is not read, so absolute URLs lack it.` })

  const advice = (verdict: Level, reason: string, suggestion: Suggestion): Advice => ({ verdict, reason, suggestion, warnings, lostPrefix })
  if (trust === true) {
    return advice('spoofable', 'trust: true believes forwarded headers from any peer, so any client can choose its address by sending X-Forwarded-For.',
      suggest([name], undefined, forwarded, {}, `Trust only the proxy this request came through (${name}); add any proxies in front of it.`))
  }
  if (counted && peers === true) {
    return advice('spoofable', 'With a hop count and peers: true, any peer is counted as a proxy, so a client connecting directly can pick its address.',
      suggest(trust, [name], forwarded, {}, `Count hops only from the proxy this request came through (${name}).`))
  }
  if (tooWide) {
    return advice('spoofable', 'Every address in X-Forwarded-For was trusted, so the client is the leftmost entry, which anyone can write.',
      suggest(proxies, undefined, forwarded, {}, 'Trust only the proxies; the current list also covers the client.'))
  }
  if (forgotten) {
    const reason = `Forwarded headers arrive from ${name}, a local address that is not trusted, so they are ignored: the proxy is the client.`
    return counted
      ? advice('misconfigured', reason, suggest(trust, add(listOf(peers), name), forwarded, {}, `Let ${name} be counted as a proxy.`))
      : advice('misconfigured', reason, suggest(add(listOf(trust), name), undefined, forwarded, {}, `Trust your proxy at ${name}.`))
  }
  if (both) {
    return advice('misconfigured', `The trusted proxy ${name} sends both Forwarded and X-Forwarded-For while only one family is read, so a client can write the other.`,
      suggest(trust, peers, forwarded, {}, `Make the proxy send only ${forwarded ? 'Forwarded' : 'X-Forwarded-*'} and clear the other family.`))
  }
  if (lostPrefix !== null) {
    const extra = counted ? { hops: { prefix: trust } } : { fields: ['for', 'proto', 'host', 'port', 'prefix'] }
    return advice('misconfigured', `X-Forwarded-Prefix ${lostPrefix} arrives but is not read, so absolute URLs built by the app lack it.`,
      suggest(trust, peers, forwarded, extra, 'Read the prefix field.'))
  }
  const reason = !trusted
    ? (sent ? `The forwarded headers come from ${name}, a public address that is not trusted, so they are ignored as they should be.` : 'No proxy is involved: the socket peer is the client.')
    : 'Forwarded headers come from a trusted proxy and the client address was taken right to left.'
  return advice('ok', reason, suggest(trust, peers, forwarded, {}, 'Nothing to change: this is the current configuration.'))
}
