import { FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED, FST_ERR_PROXY_FIX_MALFORMED_HEADER, show } from './errors'
import { MAX_ENTRIES, parseForwarded, RightCursor, rightEntries, type ForwardedElement } from './forwarded'
import { parseHost, parsePort, parsePrefix, parseProto, splitHost, withPort, type HostParts } from './host'
import { parseIp, parseIPv4, parseNode, UNKNOWN, type Ip } from './ip'
import type { Plan } from './options'

export type Headers = Record<string, string | string[] | undefined>

export interface OriginalView {
  ip: string | undefined
  host: string
  hostname: string
  port: number | null
  protocol: 'http' | 'https'
}

/** What the request looks like after correction. Built by `resolve`, read by the getters. */
export class ProxyView {
  ip: string | undefined
  host: string
  protocol: 'http' | 'https'
  prefix: string
  trusted: boolean
  error: Error | null
  private parts: HostParts | null
  private readonly peer: string | undefined
  private readonly socketHost: string
  private readonly encrypted: boolean
  /** The addresses taken from the headers, nearest first (null: none). */
  private hops: string[] | null
  private list: string[] | null

  constructor (peer: string | undefined, host: string, encrypted: boolean) {
    this.ip = peer
    this.host = host
    this.protocol = encrypted ? 'https' : 'http'
    this.prefix = ''
    this.trusted = false
    this.error = null
    this.parts = null
    this.peer = peer
    this.socketHost = host
    this.encrypted = encrypted
    this.hops = null
    this.list = null
  }

  /** The socket peer first, then every address taken from the headers, the client last. Built on first read. */
  get ips (): string[] {
    if (this.list !== null) return this.list
    const list = this.peer === undefined ? [] : [this.peer]
    if (this.hops !== null) for (const hop of this.hops) list.push(hop)
    this.list = list
    return list
  }

  /** Records one more address taken from the headers. */
  addHop (ip: string): void {
    if (this.hops === null) this.hops = [ip]
    else this.hops.push(ip)
  }

  // hostname and port are split from the host only when read: most requests never ask.
  get hostname (): string {
    return (this.parts ??= splitHost(this.host)).hostname
  }

  get port (): number | null {
    return (this.parts ??= splitHost(this.host)).port
  }

  /** The socket's own view, before any correction. */
  get original (): OriginalView {
    const parts = splitHost(this.socketHost)
    return {
      ip: this.peer,
      host: this.socketHost,
      hostname: parts.hostname,
      port: parts.port,
      protocol: this.encrypted ? 'https' : 'http'
    }
  }

  /** The absolute external URL of `path`, behind the forwarded scheme, host, port and prefix. */
  url (path = '/'): string {
    let host = this.host
    const port = this.port
    if ((port === 443 && this.protocol === 'https') || (port === 80 && this.protocol === 'http')) host = this.hostname
    return this.protocol + '://' + host + this.prefix + (path.charCodeAt(0) === 47 ? path : '/' + path)
  }

  setHost (parts: HostParts): void {
    this.host = parts.host
    this.parts = parts
  }

  /** Records the first failure; the bad value itself is never used. */
  reject (plan: Plan, name: string, value: string): void {
    if (plan.strict && this.error === null) this.error = new FST_ERR_PROXY_FIX_MALFORMED_HEADER(name, show(value))
  }
}

function text (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

/** Werkzeug's pick: the nth value from the right, or (address trust) the leftmost when fewer. */
function pick (value: string | undefined, n: number, clamp: boolean): string | undefined {
  if (value === undefined) return undefined
  if (value.indexOf(',') === -1) {
    // one value, the usual case: no split
    const one = value.trim()
    return one === '' || (n > 1 && !clamp) ? undefined : one
  }
  // scan from the right, slicing only the entry picked
  const c = new RightCursor(value)
  let count = 0
  let lastStart = 0
  let lastEnd = 0
  while (c.next()) {
    if (++count === n) return c.text()
    lastStart = c.start
    lastEnd = c.end
  }
  return clamp && count > 0 ? value.slice(lastStart, lastEnd) : undefined
}

function applyFields (v: ProxyView, plan: Plan, headers: Headers, k: number): void {
  const counting = plan.trust.kind === 'count'
  const at = (count: number): number => counting ? count : k
  if (plan.proto > 0) {
    const raw = pick(text(headers['x-forwarded-proto']), at(plan.proto), !counting)
    if (raw !== undefined) {
      const proto = parseProto(raw)
      if (proto === null) v.reject(plan, 'X-Forwarded-Proto', raw)
      else v.protocol = proto
    }
  }
  if (plan.host > 0) {
    const raw = pick(text(headers['x-forwarded-host']), at(plan.host), !counting)
    if (raw !== undefined) {
      const parts = parseHost(raw)
      if (parts === null) v.reject(plan, 'X-Forwarded-Host', raw)
      else v.setHost(parts)
    }
  }
  if (plan.port > 0) {
    const raw = pick(text(headers['x-forwarded-port']), at(plan.port), !counting)
    if (raw !== undefined) {
      const port = parsePort(raw)
      if (port === -1) v.reject(plan, 'X-Forwarded-Port', raw)
      else v.setHost(withPort(v.hostname, port))
    }
  }
  if (plan.prefix > 0) {
    const raw = pick(text(headers['x-forwarded-prefix']), at(plan.prefix), !counting)
    if (raw !== undefined) {
      const prefix = parsePrefix(raw)
      if (prefix === null) v.reject(plan, 'X-Forwarded-Prefix', raw)
      else v.prefix = prefix
    }
  }
}

/** One X-Forwarded-For entry, `value[s, e)`: a plain dotted quad is parsed in place. */
function entryNode (value: string, s: number, e: number): Ip | typeof UNKNOWN | null {
  // digits and dots only: exactly what parseNode returns for the slice (no port, no brackets)
  const v4 = parseIPv4(value, s, e)
  if (v4 !== -1) return { text: value.slice(s, e), v4, v6: null }
  return parseNode(value.slice(s, e))
}

/**
 * Walks X-Forwarded-For from the socket leftwards, splitting lazily: the walk usually stops after
 * one or two entries, whatever the header's length. Returns the client's index from the right.
 */
function walkList (v: ProxyView, plan: Plan, value: string): number {
  const c = new RightCursor(value)
  let i = 0
  while (c.next()) {
    if (i === MAX_ENTRIES) {
      v.reject(plan, 'X-Forwarded-For', `more than ${MAX_ENTRIES} entries`)
      break
    }
    const node = entryNode(value, c.start, c.end)
    i++
    if (node === null) {
      v.reject(plan, 'X-Forwarded-For', c.text())
      break
    }
    if (node === UNKNOWN) break
    v.ip = node.text
    v.addHop(node.text)
    if (!plan.trust.test(node, i)) break
  }
  return i
}

/** Hop-count trust: the nth entry from the right, and the header is ignored when shorter. */
function countList (v: ProxyView, plan: Plan, value: string): void {
  const list = rightEntries(value, plan.for)
  if (list.length < plan.for) return
  const nodes: Ip[] = []
  let client: Ip | typeof UNKNOWN = UNKNOWN
  for (let i = 0; i < plan.for; i++) {
    const node = parseNode(list[i])
    if (node === null) {
      v.reject(plan, 'X-Forwarded-For', list[i])
      return
    }
    if (node !== UNKNOWN) nodes.push(node)
    client = node
  }
  for (const node of nodes) v.addHop(node.text)
  if (client !== UNKNOWN) v.ip = client.text
}

function clientHeader (v: ProxyView, plan: Plan, raw: string): void {
  const node = raw.includes(',') ? null : parseNode(raw.trim())
  if (node === null) v.reject(plan, plan.clientIpHeader as string, raw)
  else if (node !== UNKNOWN) {
    v.ip = node.text
    v.addHop(node.text)
  }
}

function fromXForwarded (v: ProxyView, plan: Plan, headers: Headers): void {
  let k = 1
  if (plan.for > 0) {
    if (plan.clientIpHeader !== null) {
      const raw = text(headers[plan.clientIpHeader])
      if (raw !== undefined) clientHeader(v, plan, raw)
    } else {
      const raw = text(headers['x-forwarded-for'])
      if (raw !== undefined) {
        if (plan.trust.kind === 'count') countList(v, plan, raw)
        else k = Math.max(1, walkList(v, plan, raw))
      }
    }
  }
  applyFields(v, plan, headers, k)
}

/**
 * The elements of a malformed Forwarded header that follow its last broken part, read one
 * comma-separated segment at a time from the right (linear in what is read). A proxy that
 * appends to a client's own broken Forwarded must not lose what it added: otherwise any client
 * could make request.ip the proxy's address. The walk then stops where the broken part starts,
 * as it does at a malformed X-Forwarded-For entry.
 */
function forwardedTail (raw: string): ForwardedElement[] {
  const out: ForwardedElement[] = []
  let end = raw.length
  for (let n = 0; n <= MAX_ENTRIES && end > 0; n++) {
    const comma = raw.lastIndexOf(',', end - 1)
    const els = parseForwarded(raw.slice(comma + 1, end), 1)
    if (els === null) break
    if (els.length > 0) out.push(els[0])
    end = comma
  }
  return out.reverse()
}

function fromForwarded (v: ProxyView, plan: Plan, headers: Headers): void {
  const raw = text(headers.forwarded)
  if (raw === undefined) return
  let els = parseForwarded(raw, MAX_ENTRIES)
  if (els === null) {
    v.reject(plan, 'Forwarded', raw)
    els = forwardedTail(raw)
  }
  const len = els.length
  const counting = plan.trust.kind === 'count'
  let k = 1
  if (plan.for > 0) {
    if (plan.clientIpHeader !== null) {
      const value = text(headers[plan.clientIpHeader])
      if (value !== undefined) clientHeader(v, plan, value)
    } else if (counting) {
      if (len >= plan.for) {
        for (let i = 1; i <= plan.for; i++) {
          const f = els[len - i].for
          const node = f === undefined ? UNKNOWN : parseNode(f)
          if (node === null) {
            v.reject(plan, 'Forwarded', 'for=' + f)
            break
          }
          if (node === UNKNOWN) continue
          v.addHop(node.text)
          if (i === plan.for) v.ip = node.text
        }
      }
    } else {
      const n = Math.min(len, MAX_ENTRIES)
      for (let i = 1; i <= n; i++) {
        k = i
        const f = els[len - i].for
        const node = f === undefined ? UNKNOWN : parseNode(f)
        if (node === null) {
          v.reject(plan, 'Forwarded', 'for=' + f)
          break
        }
        if (node === UNKNOWN) break
        v.ip = node.text
        v.addHop(node.text)
        if (!plan.trust.test(node, i)) break
        if (i === n && len > MAX_ENTRIES) v.reject(plan, 'Forwarded', `more than ${MAX_ENTRIES} elements`)
      }
    }
  }
  const el = (count: number): ForwardedElement | undefined => {
    const n = counting ? count : k
    return len >= n ? els[len - n] : undefined
  }
  if (plan.proto > 0) {
    const p = el(plan.proto)?.proto
    if (p !== undefined) {
      const proto = parseProto(p)
      if (proto === null) v.reject(plan, 'Forwarded', 'proto=' + p)
      else v.protocol = proto
    }
  }
  if (plan.host > 0) {
    const h = el(plan.host)?.host
    if (h !== undefined) {
      const parts = parseHost(h)
      if (parts === null) v.reject(plan, 'Forwarded', 'host=' + h)
      else v.setHost(parts)
    }
  }
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
    v.error = new FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED(show(v.host))
  }
}

/** The peer's own trust verdict for one plan: a hop count trusts it unseen, an unparseable peer never. */
function peerTrusted (peer: string | undefined, plan: Plan): boolean {
  if (plan.trust.kind === 'count') return true
  const ip = peer === undefined ? null : parseIp(peer)
  return (peer === undefined || ip !== null) && plan.trust.test(ip, 0)
}

/** A socket's memo of its peer's verdict under one plan. */
interface PeerMemo {
  peer: string | undefined
  plan: Plan
  trusted: boolean
}

const kFixPeer = Symbol('fastify-proxy-fix.peer')
const kRewritePeer = Symbol('fastify-proxy-fix.rewritePeer')

/**
 * The peer's verdict, memoised on the connection for address-list trust: the peer of a socket
 * does not change, so a keep-alive connection pays for parsing and matching it once. Only the
 * peer's verdict is kept, never anything read from headers, and a trust function is asked every
 * time (it may change its mind).
 */
function trustedPeer (peer: string | undefined, plan: Plan, socket: object | null | undefined, key: symbol): boolean {
  if (socket == null || plan.trust.kind !== 'list') return peerTrusted(peer, plan)
  const slots = socket as Record<symbol, PeerMemo | undefined>
  const memo = slots[key]
  if (memo !== undefined && memo.plan === plan && memo.peer === peer) return memo.trusted
  const trusted = peerTrusted(peer, plan)
  slots[key] = { peer, plan, trusted }
  return trusted
}

/**
 * The pure core: the socket's peer and scheme, the headers and the compiled plans in; the
 * corrected view out. `fix` is proxyFix's plan, `rewrite` hostRewrite's; either may be absent.
 * `socket`, when given, is the connection the peer belongs to: it holds the peer's verdicts.
 */
export function resolve (peer: string | undefined, encrypted: boolean, headers: Headers,
  fix: Plan | undefined, rewrite: Plan | undefined, socket?: object | null): ProxyView {
  const v = new ProxyView(peer, text(headers.host) ?? text(headers[':authority']) ?? '', encrypted)
  if (fix !== undefined && fix.trust.kind !== 'off' && trustedPeer(peer, fix, socket, kFixPeer)) {
    v.trusted = true
    if (fix.forwarded) fromForwarded(v, fix, headers)
    else fromXForwarded(v, fix, headers)
  }
  if (rewrite !== undefined && rewrite.trust.kind !== 'off' && trustedPeer(peer, rewrite, socket, kRewritePeer)) {
    v.trusted = true
    hostRewrite(v, rewrite, headers)
  }
  checkHost(v, fix)
  checkHost(v, rewrite)
  return v
}
