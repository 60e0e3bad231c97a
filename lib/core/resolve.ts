import { FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED, requestError, show } from './errors'
import { parseHost, parsePort, parsePrefix, parseProto, withPort } from './field-values'
import { parseIp, parseIPv4, parseNode, UNKNOWN, type Ip } from './ip'
import { MAX_ENTRIES, trimOws } from './list'
import type { EdgeHeader, Plan } from './options'
import { makePeer, peerIp, type Peer, type PeerMemo } from './peer'
import { compileList } from './trust'
import { BOTH_FAMILIES, FORGOTTEN_PROXY, TRUST_TOO_WIDE } from './warnings'
import { END, ForwardedSource, text, XForwardedSource, type Headers, type HopSource } from './sources'
import { walkXForwarded } from './fast-path'
import { ProxyView } from './view'
import { WalkRecord } from './walk-record'

export type { Headers } from './sources'
export type { ProxyView, OriginalView } from './view'
export { WalkRecord, type WalkEntry } from './walk-record'

const LOCAL = compileList('private')

/**
 * Address trust: walk leftwards while each hop is trusted, or until `atEdge` says a hop is an
 * edge whose own header named the client. Returns the index where it stopped.
 */
function walkHops (v: ProxyView, plan: Plan, src: HopSource, atEdge: ((node: Ip) => boolean) | null): number {
  let i = 0
  for (;;) {
    const node = src.next()
    if (node === END) {
      if (src.overflow) v.reject(plan, src.name, `more than ${MAX_ENTRIES} entries`)
      // every hop was trusted: the client is the leftmost only by default
      else if (atEdge === null && i > 0 && plan.trust.kind !== 'all') v.notices |= TRUST_TOO_WIDE
      break
    }
    i++
    if (node === null) {
      v.reject(plan, src.name, src.bad)
      break
    }
    if (node === UNKNOWN) break
    v.ip = node.text
    v.addHop(node.text)
    if ((atEdge !== null && atEdge(node)) || !plan.trust.test(node, i)) break
  }
  return i === 0 ? 1 : i
}

/** Hop-count trust (Werkzeug): the nth hop from the right; a shorter or malformed list is ignored whole. */
function countHops (v: ProxyView, plan: Plan, src: HopSource): void {
  const nodes: Ip[] = []
  let client: Ip | typeof UNKNOWN = UNKNOWN
  for (let i = 0; i < plan.for; i++) {
    const node = src.next()
    if (node === END) return
    if (node === null) {
      v.reject(plan, src.name, src.bad)
      return
    }
    if (node !== UNKNOWN) nodes.push(node)
    client = node
  }
  for (const node of nodes) v.addHop(node.text)
  if (client !== UNKNOWN) v.ip = client.text
}

/**
 * One client-IP header's value: a single address. CloudFront-Viewer-Address is `ip:port`, with
 * an unbracketed IPv6 before the last colon. Under Cloudflare's pseudo IPv4, CF-Connecting-IP
 * holds a made-up class E address and CF-Connecting-IPv6 the real one.
 */
function clientHeader (v: ProxyView, plan: Plan, name: string, headers: Headers, record: WalkRecord | undefined): void {
  let raw = text(headers[name]) as string
  let header = name
  if (name === 'cf-connecting-ip') {
    // Only a pseudo IPv4 (class E, 240.0.0.0/4) in CF-Connecting-IP means Cloudflare wrote the real
    // address to CF-Connecting-IPv6; otherwise CF-Connecting-IPv6 is whatever the client sent.
    const v6 = text(headers['cf-connecting-ipv6'])
    const v4 = v6 === undefined ? -1 : parseIPv4(raw, 0, raw.length)
    if (v6 !== undefined && v4 !== -1 && v4 >= 0xf0000000) {
      raw = v6
      header = 'cf-connecting-ipv6'
    }
  }
  let value = raw.includes(',') ? '' : trimOws(raw)
  if (name === 'cloudfront-viewer-address') {
    const colon = value.lastIndexOf(':')
    value = colon > 0 && parsePort(value, colon + 1) !== -1 ? value.slice(0, colon) : ''
    if (value.charCodeAt(0) === 91 && value.charCodeAt(value.length - 1) === 93) value = value.slice(1, -1)
  }
  const node = name === 'cloudfront-viewer-address' ? parseIp(value) : parseNode(value)
  record?.add(raw, header, node === null || node === UNKNOWN ? null : node.text)
  if (node === null) v.reject(plan, header, raw)
  else if (node !== UNKNOWN) {
    v.ip = node.text
    v.addHop(node.text)
  }
}

/** Whether hop `ip` is the edge of a tied header that is present; if so, its value is the client. */
function edgeClient (v: ProxyView, plan: Plan, headers: Headers, ip: Ip, record: WalkRecord | undefined): boolean {
  for (const e of plan.edgeHeaders as EdgeHeader[]) {
    if (headers[e.name] !== undefined && e.edge.test(ip, 0)) {
      clientHeader(v, plan, e.name, headers, record)
      return true
    }
  }
  return false
}

/**
 * Tied client-IP headers (Caddy's client_ip_headers, nginx's real_ip_header): walk from the peer
 * through trusted hops; at the first hop inside a header's edge ranges, that header names the
 * client. A header is never believed from anywhere else, so a client that reaches another
 * trusted proxy cannot set it.
 */
function walkEdges (v: ProxyView, plan: Plan, headers: Headers, src: HopSource, peer: Ip | null, record: WalkRecord | undefined): number {
  if (peer !== null && edgeClient(v, plan, headers, peer, record)) return 1
  // a peer that is only an edge (not in trust), without its header, is where the walk ends
  if (peer === null ? !plan.trust.test(null, 0) : !plan.trust.test(peer, 0)) return 1
  return walkHops(v, plan, src, (node) => edgeClient(v, plan, headers, node, record))
}

/**
 * The one walk, over either header family: the client address first, then proto, host, port
 * and prefix from the same hop `k` where the address walk stopped (a count reads each field at
 * its own count instead).
 */
export function walk (v: ProxyView, plan: Plan, headers: Headers, src: HopSource, peer: Peer, record: WalkRecord | undefined): void {
  const counting = plan.trust.kind === 'count'
  let k = 1
  if (plan.for > 0) {
    if (plan.clientIpHeader !== null) {
      if (headers[plan.clientIpHeader] !== undefined) clientHeader(v, plan, plan.clientIpHeader, headers, record)
    } else if (plan.edgeHeaders !== null) {
      k = walkEdges(v, plan, headers, src, peer.unix ? null : peerIp(peer), record)
    } else if (counting) {
      countHops(v, plan, src)
    } else {
      k = walkHops(v, plan, src, null)
    }
  }
  if (plan.proto > 0) {
    const raw = src.field('proto', counting ? plan.proto : k, counting)
    if (raw !== undefined) {
      const proto = parseProto(raw)
      if (proto === null) v.reject(plan, ...src.describe('proto', raw))
      else v.protocol = proto
    }
  }
  if (plan.host > 0) {
    const raw = src.field('host', counting ? plan.host : k, counting)
    if (raw !== undefined) {
      const parts = parseHost(raw)
      if (parts === null) v.reject(plan, ...src.describe('host', raw))
      else v.setHost(parts)
    }
  }
  if (plan.port > 0) {
    const raw = src.field('port', counting ? plan.port : k, counting)
    if (raw !== undefined) {
      const port = parsePort(raw)
      if (port === -1) v.reject(plan, ...src.describe('port', raw))
      // a port without a hostname is not a host: with no Host header, nothing to put it on
      else if (v.hostname !== '') v.setHost(withPort(v.hostname, port))
    }
  }
  if (plan.prefix > 0) {
    const raw = src.field('prefix', counting ? plan.prefix : k, counting)
    if (raw !== undefined) {
      const prefix = parsePrefix(raw)
      if (prefix === null) v.reject(plan, ...src.describe('prefix', raw))
      else v.prefix = prefix
    }
  }
}

/** Settles the record's client, then records the rest of the chain, or all of it when no walk ran. */
function finish (record: WalkRecord, v: ProxyView, peer: Peer, headers: Headers, fix: Plan | undefined): void {
  record.settle(v.ips.length > (peer.address === undefined ? 0 : 1) ? v.ip : undefined)
  // a single client-IP header is the whole chain: the forwarded lists are not read at all
  if (fix !== undefined && fix.clientIpHeader !== null) return
  if (record.source !== null) {
    record.drain(record.source)
    return
  }
  const forwarded = fix?.forwarded === true
  const raw = forwarded ? text(headers.forwarded) : undefined
  if (!forwarded) record.drain(new XForwardedSource(headers))
  else if (raw !== undefined) record.drain(new ForwardedSource(raw))
}

function hostRewrite (v: ProxyView, plan: Plan, headers: Headers): void {
  const raw = headers[plan.header as string]
  if (raw === undefined) return
  // Two header lines (joined by Node with ", ") or a list is ambiguous: never pick one.
  const value = text(raw) as string
  const parts = Array.isArray(raw) || value.includes(',') ? null : parseHost(value)
  if (parts === null) v.reject(plan, plan.header as string, value)
  else v.setHost(parts)
}

function checkHost (v: ProxyView, plan: Plan | undefined): void {
  // The whole host must be well formed, not only its hostname: a Host header is not validated
  // on the way in, and `a.test:@evil.com` or `evil.com/.example.com` would pass a name check.
  if (plan !== undefined && plan.allowedHosts !== null && v.error === null && (!plan.allowedHosts(v.hostname) || parseHost(v.host) === null)) {
    v.error = requestError(() => new FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED(show(v.host)))
  }
}

/**
 * The peer's own verdict under one plan. A hop count asks `peers` (GHSA-3m5p-2c4r-xxw2: a count
 * alone trusts whoever connects); other forms ask the trust itself. A Unix-socket peer is tested
 * as `unix`; a TCP peer whose address is unknown or unparseable is never trusted.
 */
function peerVerdict (peer: Peer, plan: Plan): boolean {
  const trust = plan.trust.kind === 'count' ? plan.peers : plan.peerTrust
  if (peer.unix) return trust.test(null, 0)
  const ip = peerIp(peer)
  return ip !== null && trust.test(ip, 0)
}

/**
 * The verdict, memoised on the connection's peer when it comes from an address list: the peer of
 * a connection does not change, so keep-alive pays for matching it once. Only the peer's verdict
 * is kept, never anything read from headers; a trust function is asked every time.
 */
function trustedPeer (peer: Peer, plan: Plan, memo: PeerMemo): boolean {
  if (memo.plan === plan) return memo.trusted
  const trusted = peerVerdict(peer, plan)
  if ((plan.trust.kind === 'count' ? plan.peers : plan.peerTrust).kind === 'list') {
    memo.plan = plan
    memo.trusted = trusted
  }
  return trusted
}

/** An untrusted peer on a local or private address that sends forwarded headers: likely a proxy nobody listed. */
function forgottenProxy (peer: Peer, headers: Headers): boolean {
  if (headers['x-forwarded-for'] === undefined && headers.forwarded === undefined && headers['x-forwarded-proto'] === undefined && headers['x-forwarded-host'] === undefined) return false
  if (peer.unix) return true
  const ip = peerIp(peer)
  return ip !== null && LOCAL.test(ip, 0)
}

/**
 * The pure core: the peer and the socket's scheme, the headers and the compiled plans in; the
 * corrected view out. `fix` is proxyFix's plan, `rewrite` hostRewrite's; either may be absent.
 * `peer` is a captured connection peer (see peer.ts), or a TCP peer's address. With a `record`,
 * the walk also notes every entry it read (for the whoami page); without one it costs nothing.
 */
export function resolve (peer: Peer | string | undefined, encrypted: boolean, headers: Headers,
  fix: Plan | undefined, rewrite: Plan | undefined, record?: WalkRecord): ProxyView {
  const p = typeof peer === 'object' ? peer : makePeer(peer)
  const v = new ProxyView(p, text(headers.host) ?? text(headers[':authority']) ?? '', encrypted)
  if (fix !== undefined && fix.peerTrust.kind !== 'off') {
    if (trustedPeer(p, fix, p.fix)) {
      v.trusted = true
      if (!fix.forwarded) {
        if (record === undefined && fix.fastPath) {
          walkXForwarded(v, fix, headers)
        } else {
          const src = new XForwardedSource(headers)
          walk(v, fix, headers, record === undefined ? src : record.watch(src), p, record)
        }
        if (fix.warnings && headers.forwarded !== undefined) v.notices |= BOTH_FAMILIES
      } else {
        const raw = text(headers.forwarded)
        if (raw !== undefined) {
          const src = new ForwardedSource(raw, v, fix)
          walk(v, fix, headers, record === undefined ? src : record.watch(src), p, record)
        }
        if (fix.warnings && headers['x-forwarded-for'] !== undefined) v.notices |= BOTH_FAMILIES
      }
      if (!fix.warnings) v.notices = 0
    } else if (fix.warnings && forgottenProxy(p, headers)) {
      v.notices |= FORGOTTEN_PROXY
    }
  }
  if (rewrite !== undefined && rewrite.peerTrust.kind !== 'off' && trustedPeer(p, rewrite, p.rewrite)) {
    v.trusted = true
    hostRewrite(v, rewrite, headers)
  }
  checkHost(v, fix)
  checkHost(v, rewrite)
  if (record !== undefined) finish(record, v, p, headers, fix)
  return v
}
