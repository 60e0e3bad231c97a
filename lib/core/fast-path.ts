// The commonest plan's walk, compiled by hand: X-Forwarded-* with an address-list (or function,
// or trust-all) trust, no hop count and no client-IP header. It is the general walk in
// resolve.ts over an XForwardedSource, read in place: no source, cursor or field-name lookups
// per request. test/fast-path.test.ts checks that both give the same view on every input.
import { parseHost, parsePort, parsePrefix, parseProto, withPort } from './field-values'
import { parseIPv4, parseNode, UNKNOWN, type Ip } from './ip'
import { isOws, MAX_ELEMENT, MAX_ENTRIES, pick } from './list'
import type { Plan } from './options'
import { text, type Headers } from './sources'
import { TRUST_TOO_WIDE } from './warnings'
import type { ProxyView } from './view'

/** X-Forwarded-For walked leftwards while each hop is trusted; returns the hop where it stopped (1 at least). */
function walkFor (v: ProxyView, plan: Plan, value: string): number {
  const trust = plan.trust
  let at = value.length
  let seen = 0
  let i = 0
  for (;;) {
    // the next non-empty element leftwards, trimmed of OWS (RightCursor.next, inlined)
    let s = 0
    let e = 0
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
    if (e === s) {
      // every hop was trusted: the client is the leftmost only by default (not after an overflow)
      if (i > 0 && s !== -1 && trust.kind !== 'all') v.notices |= TRUST_TOO_WIDE
      break
    }
    i++
    // a plain dotted quad is parsed in place: digits and dots only, what parseNode returns for the slice
    const v4 = parseIPv4(value, s, e)
    let node: Ip | typeof UNKNOWN | null
    if (v4 !== -1) {
      node = { text: value.slice(s, e), v4, v6: null }
    } else {
      const raw = value.slice(s, e)
      node = parseNode(raw)
      if (node === null) v.reject(plan, 'X-Forwarded-For', raw)
      if (node === null || node === UNKNOWN) break
    }
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
