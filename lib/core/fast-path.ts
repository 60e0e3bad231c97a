// The commonest plan's walk, compiled by hand: X-Forwarded-* with an address-list (or function,
// or trust-all) trust, no hop count and no client-IP header. It is the general walk in
// resolve.ts over an XForwardedSource, read in place: no source, cursor or field-name lookups
// per request. test/fast-path.test.ts checks that both give the same view on every input.
import { parseHost, parsePort, parsePrefix, parseProto, withPort } from './field-values'
import { parseIPv4, parseNode, UNKNOWN } from './ip'
import { isOws, MAX_ELEMENT, MAX_ENTRIES, pick } from './list'
import type { Plan } from './options'
import { text, type Headers } from './sources'
import { TRUST_TOO_WIDE } from './warnings'
import type { ProxyView } from './view'

// Where quadBefore found its quad: value[quadStart, quadEnd), in the element after quadComma.
let quadStart = 0
let quadEnd = 0
let quadComma = 0

/** Most OWS characters read on either side of a quad here; more (no proxy writes that) is left to the general walk. */
const QUAD_OWS = 8

/**
 * The list element that ends just before `at`, read once from the right: when it is OWS, a
 * strict dotted quad and OWS, returns what parseIPv4 gives for the trimmed element and notes its
 * bounds (see lastQuad); otherwise -1, and the walk reads the element the general way. It stops
 * within QUAD_OWS + 16 characters of `at` on anything else. An element it accepts is at most
 * 2 * QUAD_OWS + 15 characters, so MAX_ELEMENT (which leaves longer ones untrimmed) never applies.
 */
export function quadBefore (value: string, at: number): number {
  let i = at - 1
  let low = i - QUAD_OWS
  while (i >= 0 && isOws(value.charCodeAt(i))) if (--i < low) return -1
  const end = i + 1
  let v4 = 0
  let place = 1
  let octet = 0
  // 1, 10, 100 for the next digit of the octet, leftwards; 1000 means four digits
  let scale = 1
  let digit = 0
  let dots = 0
  for (; i >= 0; i--) {
    const c = value.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (scale === 1000) return -1
      digit = c - 48
      octet += digit * scale
      scale *= 10
    } else if (c === 46) {
      // an empty octet, a leading zero (octal in inet_aton), over 255, or a fifth octet
      if (scale === 1 || (digit === 0 && scale > 10) || octet > 255 || dots === 3) return -1
      v4 += octet * place
      place *= 256
      octet = 0
      scale = 1
      dots++
    } else {
      break
    }
  }
  if (scale === 1 || (digit === 0 && scale > 10) || octet > 255 || dots !== 3) return -1
  const start = i + 1
  low = i - QUAD_OWS
  while (i >= 0 && isOws(value.charCodeAt(i))) if (--i < low) return -1
  if (i >= 0 && value.charCodeAt(i) !== 44) return -1
  quadStart = start
  quadEnd = end
  quadComma = i
  // unsigned: the first octet times 2^24 can pass 2^31
  return v4 + octet * place
}

/** The bounds quadBefore noted: the quad's start and end, and the comma before it (-1: none). */
export function lastQuad (): [number, number, number] {
  return [quadStart, quadEnd, quadComma]
}

/** X-Forwarded-For walked leftwards while each hop is trusted; returns the hop where it stopped (1 at least). */
function walkFor (v: ProxyView, plan: Plan, value: string): number {
  const trust = plan.trust
  const testV4 = trust.testV4
  let at = value.length
  let seen = 0
  let i = 0
  for (;;) {
    // the next non-empty element leftwards, trimmed of OWS (RightCursor.next, inlined)
    let s = 0
    let e = 0
    // the usual element, a plain dotted quad, is found and parsed in one pass
    let v4 = at > 0 && seen < MAX_ENTRIES ? quadBefore(value, at) : -1
    if (v4 !== -1) {
      seen++
      s = quadStart
      e = quadEnd
      at = quadComma === -1 ? 0 : quadComma
    } else {
      while (at > 0) {
        if (seen === MAX_ENTRIES) {
          v.reject(plan, 'X-Forwarded-For', `more than ${MAX_ENTRIES} entries`)
          s = e = -1
          break
        }
        seen++
        const comma = value.lastIndexOf(',', at - 1)
        s = comma + 1
        e = at
        at = comma === -1 ? 0 : comma
        if (e - s > MAX_ELEMENT) break
        while (s < e && isOws(value.charCodeAt(s))) s++
        while (e > s && isOws(value.charCodeAt(e - 1))) e--
        if (e > s) break
      }
    }
    if (e === s) {
      // every hop was trusted: the client is the leftmost only by default (not after an overflow)
      if (i > 0 && s !== -1 && trust.kind !== 'all') v.notices |= TRUST_TOO_WIDE
      break
    }
    i++
    // a plain dotted quad is parsed in place: digits and dots only, what parseNode returns for the slice
    if (v4 === -1) v4 = parseIPv4(value, s, e)
    if (v4 !== -1) {
      const ip = value.slice(s, e)
      v.ip = ip
      v.addHop(ip)
      // an address list answers on the number: no Ip is built for it
      if (testV4 !== undefined ? !testV4(v4) : !trust.test({ text: ip, v4, v6: null }, i)) break
      continue
    }
    const raw = value.slice(s, e)
    const node = parseNode(raw)
    if (node === null) v.reject(plan, 'X-Forwarded-For', raw)
    if (node === null || node === UNKNOWN) break
    v.ip = node.text
    v.addHop(node.text)
    if (!trust.test(node, i)) break
  }
  return i === 0 ? 1 : i
}

/**
 * The walk for a common plan from a trusted peer: the client address, then proto, host, port and
 * prefix from the hop where the address walk stopped (each list read from the right on its own).
 */
export function walkXForwarded (v: ProxyView, plan: Plan, headers: Headers): void {
  let k = 1
  if (plan.for > 0) {
    const value = text(headers['x-forwarded-for'])
    if (value !== undefined) k = walkFor(v, plan, value)
  }
  if (plan.proto > 0) {
    const raw = pick(text(headers['x-forwarded-proto']), k, true)
    if (raw !== undefined) {
      // the two values every proxy writes, compared before any case folding
      const proto = raw === 'https' ? 'https' : raw === 'http' ? 'http' : parseProto(raw)
      if (proto === null) v.reject(plan, 'X-Forwarded-Proto', raw)
      else v.protocol = proto
    }
  }
  if (plan.host > 0) {
    const raw = pick(text(headers['x-forwarded-host']), k, true)
    if (raw !== undefined) {
      const parts = parseHost(raw)
      if (parts === null) v.reject(plan, 'X-Forwarded-Host', raw)
      else v.setHost(parts)
    }
  }
  if (plan.port > 0) {
    const raw = pick(text(headers['x-forwarded-port']), k, true)
    if (raw !== undefined) {
      const port = parsePort(raw)
      if (port === -1) v.reject(plan, 'X-Forwarded-Port', raw)
      // a port without a hostname is not a host: with no Host header, nothing to put it on
      else if (v.hostname !== '') v.setHost(withPort(v.hostname, port))
    }
  }
  if (plan.prefix > 0) {
    const raw = pick(text(headers['x-forwarded-prefix']), k, true)
    if (raw !== undefined) {
      const prefix = parsePrefix(raw)
      if (prefix === null) v.reject(plan, 'X-Forwarded-Prefix', raw)
      else v.prefix = prefix
    }
  }
}
