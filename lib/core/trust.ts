import { parseIp, parseIPv4, type Ip } from './ip'
import { PROVIDERS } from './provider-ranges'

/**
 * A user trust function: `address` is the canonical IP, or `'unix'` for a Unix-socket peer. A
 * truthy return trusts the hop, as in proxy-addr and Express, so their compiled functions fit.
 */
export type TrustFunction = (address: string, hopIndex: number) => unknown

export type TrustKind = 'off' | 'all' | 'list' | 'count' | 'function'

export interface Trust {
  kind: TrustKind
  /** Hop count, for kind 'count'. */
  count: number
  /** `ip` is null for a Unix-socket peer. */
  test: (ip: Ip | null, hop: number) => boolean
  /**
   * For an address list (and trust-all): the verdict on a plain IPv4 address given as its
   * unsigned 32-bit value, the same as `test` gives its Ip; lets a walk skip building the Ip.
   */
  testV4?: (v4: number) => boolean
}

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  // what users usually mean by "our network": the three above plus carrier-grade NAT (RFC 6598)
  private: ['loopback', 'linklocal', 'uniquelocal', '100.64.0.0/10']
}

/** Named provider ranges (cloudflare, cloudfront, fastly, gcp-lb): name to CIDR list. */
export type Presets = Readonly<Record<string, readonly string[]>>

/** The snapshot shipped in the package. */
export const BUILTIN_PRESETS: Presets = Object.fromEntries(Object.entries(PROVIDERS).map(([name, p]) => [name, p.ranges]))

export class TrustError extends Error {
  constructor (readonly entry: string, reason: string) {
    super(reason)
  }
}

interface V6Range { net: Uint16Array, bits: number }

function netmaskBits (mask: string): number {
  const v = parseIPv4(mask, 0, mask.length)
  if (v === -1) return -1
  const inverted = ~v >>> 0
  if ((inverted & (inverted + 1)) !== 0) return -1
  return 32 - Math.log2(inverted + 1)
}

function v4Mask (bits: number): number {
  return bits === 0 ? 0 : (-1 << (32 - bits))
}

function v6Match (p: Uint16Array, r: V6Range): boolean {
  let bits = r.bits
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = bits >= 16 ? 16 : bits
    const mask = (0xffff << (16 - take)) & 0xffff
    if ((p[i] & mask) !== (r.net[i] & mask)) return false
    bits -= take
  }
  return true
}

/**
 * Expands a trust list (array or comma-separated string) into matchers. Names are the ranges
 * above, `unix`, and the provider `presets`. Throws TrustError.
 */
export function compileList (input: string | readonly string[], presets: Presets = BUILTIN_PRESETS): Trust {
  const raw = typeof input === 'string' ? input.split(',') : input
  const v4Nets: number[] = []
  const v4Masks: number[] = []
  const v6: V6Range[] = []
  let unix = false
  const queue: string[] = []
  for (const item of raw) {
    if (typeof item !== 'string') throw new TrustError(String(item), 'is not a string')
    const entry = item.trim()
    if (entry === '') continue
    queue.push(entry)
  }
  if (queue.length === 0) throw new TrustError(String(input), 'names no address')
  for (let k = 0; k < queue.length; k++) {
    const entry = queue[k]
    const lower = entry.toLowerCase()
    if (lower === 'unix') { unix = true; continue }
    if (Object.hasOwn(NAMED, lower)) { queue.push(...NAMED[lower]); continue }
    if (Object.hasOwn(presets, lower)) { queue.push(...presets[lower]); continue }
    const slash = entry.indexOf('/')
    const base = parseIp(slash === -1 ? entry : entry.slice(0, slash))
    // a zone id is refused everywhere (also in a CIDR base): peers are matched without one
    if (base === null || entry.includes('%')) throw new TrustError(entry, 'is not an IP address, CIDR range or known name')
    const max = base.v6 === null ? 32 : 128
    let bits = max
    if (slash !== -1) {
      const suffix = entry.slice(slash + 1)
      if (/^\d{1,3}$/.test(suffix)) bits = Number(suffix)
      else bits = base.v6 === null ? netmaskBits(suffix) : -1
      if (bits < 0 || bits > max) throw new TrustError(entry, 'has an invalid prefix length or netmask')
    }
    if (base.v6 === null) {
      const mask = v4Mask(bits)
      v4Nets.push(base.v4 & mask)
      v4Masks.push(mask)
    } else if (base.v4 !== -1 && bits >= 96) {
      // An IPv4-mapped range (::ffff:a.b.c.d/n) is the IPv4 range a.b.c.d/(n-96).
      const mask = v4Mask(bits - 96)
      v4Nets.push(base.v4 & mask)
      v4Masks.push(mask)
    } else {
      v6.push({ net: base.v6, bits })
    }
  }
  const n4 = v4Nets.length
  const testV4 = (a: number): boolean => {
    for (let i = 0; i < n4; i++) if ((a & v4Masks[i]) === v4Nets[i]) return true
    return false
  }
  return {
    kind: 'list',
    count: 0,
    test (ip) {
      if (ip === null) return unix
      // IPv4 and IPv4-mapped peers are matched as IPv4 only (as proxy-addr does): a mapped
      // peer must get the same answer as the plain IPv4 one, so `::/0` trusts neither
      if (ip.v4 !== -1) return testV4(ip.v4)
      const p = ip.v6 as Uint16Array
      for (let i = 0; i < v6.length; i++) if (v6Match(p, v6[i])) return true
      return false
    },
    testV4
  }
}

export function compileFunction (fn: TrustFunction): Trust {
  return {
    kind: 'function',
    count: 0,
    test (ip, hop) {
      // A throwing user function fails closed: the hop is not trusted.
      try {
        return Boolean(fn(ip === null ? 'unix' : ip.text, hop))
      } catch {
        return false
      }
    }
  }
}

const never = (): boolean => false
const always = (): boolean => true

export const TRUST_OFF: Trust = { kind: 'off', count: 0, test: never }
export const TRUST_ALL: Trust = { kind: 'all', count: 0, test: always, testV4: always }

export function compileCount (count: number): Trust {
  return { kind: 'count', count, test: always }
}
