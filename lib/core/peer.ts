/**
 * Who is on the other end of a connection, captured once when it arrives.
 *
 * Node reports `socket.remoteAddress` as undefined for a Unix-socket peer, but also for a TCP
 * peer once it has closed or half-closed. A peer read lazily after an `await` could then pass for
 * a Unix-socket peer and have its forged headers believed. So the address is captured when the
 * connection arrives, and a peer counts as a Unix-socket peer only when its socket or server is
 * a pipe; a TCP peer whose address is unknown is never trusted.
 */
import { parseIp, type Ip } from './ip'

import type { ProxyProtocolInfo } from '../../types'

export type { ProxyProtocolInfo }

export interface Peer {
  /** The address the walk starts from: the PROXY protocol source, else the socket's peer. */
  readonly address: string | undefined
  /** The TCP peer's own address. */
  readonly socketAddress: string | undefined
  /** A Unix-domain socket peer: known from the socket or its server, never from a missing address. */
  readonly unix: boolean
  readonly proxyProtocol: ProxyProtocolInfo | null
  /** proxyFix's and hostRewrite's last verdict on this peer: a connection's peer does not change. */
  readonly fix: PeerMemo
  readonly rewrite: PeerMemo
  /** `address` parsed, on first use (see peerIp): null when it is absent or does not parse. */
  parsed?: Ip | null
}

export interface PeerMemo {
  plan: object | null
  trusted: boolean
}

export const kProxyProtocol = Symbol.for('fastify-proxy-fix.proxyProtocol')
/** Set by a PROXY protocol listener while it waits for the header: the peer is not known yet. */
export const kAwaitingHeader = Symbol.for('fastify-proxy-fix.awaitingProxyHeader')
const kPeer = Symbol('fastify-proxy-fix.peer')

interface ServerLike { address?: () => unknown }
interface SocketLike {
  remoteAddress?: unknown
  server?: ServerLike | null
  _handle?: { constructor?: { name?: string } } | null
  _parent?: SocketLike | null
  [kPeer]?: Peer
  [kProxyProtocol]?: ProxyProtocolInfo
  [kAwaitingHeader]?: boolean
}

export function makePeer (address: string | undefined, unix = false, socketAddress = address, proxyProtocol: ProxyProtocolInfo | null = null): Peer {
  return { address, socketAddress, unix, proxyProtocol, fix: { plan: null, trusted: false }, rewrite: { plan: null, trusted: false }, parsed: undefined }
}

/** The peer's address parsed, once per connection: every untrusted request asks (the forgotten-proxy check). */
export function peerIp (peer: Peer): Ip | null {
  if (peer.parsed === undefined) peer.parsed = peer.address === undefined ? null : parseIp(peer.address)
  return peer.parsed
}

function listensOnPath (server: ServerLike | null | undefined): boolean {
  return typeof server?.address === 'function' && typeof server.address() === 'string'
}

function isPipe (s: SocketLike): boolean {
  return s._handle?.constructor?.name === 'Pipe' || listensOnPath(s.server) || (s._parent != null && isPipe(s._parent))
}

function capture (s: SocketLike): Peer {
  const raw = s.remoteAddress
  const address = typeof raw === 'string' && raw !== '' ? raw : undefined
  const pp = s[kProxyProtocol] ?? s._parent?.[kProxyProtocol] ?? null
  const source = pp?.source?.address
  const peer = makePeer(source ?? address, source === undefined && address === undefined && isPipe(s), address, pp)
  try {
    s[kPeer] = peer
  } catch {
    // a socket that refuses properties is read again on the next request
  }
  return peer
}

/** Records the peer of a socket as it connects (a `connection` / `secureConnection` listener). */
export function onConnection (socket: unknown): void {
  try {
    // behind a PROXY protocol reader the peer is known once the header is in: read it on demand then
    if ((socket as SocketLike)[kAwaitingHeader] === true) return
  } catch {
    return
  }
  peerOf(socket)
}

/**
 * The peer of the connection a request came on: the one captured when it connected, else read
 * now. Never throws, whatever the socket is (an HTTP/2 socket proxy throws once unbound).
 */
export function peerOf (socket: unknown): Peer {
  if (socket == null || typeof socket !== 'object') return makePeer(undefined)
  try {
    const s = socket as SocketLike
    return s[kPeer] ?? capture(s)
  } catch {
    return makePeer(undefined)
  }
}

const kWatched = Symbol('fastify-proxy-fix.watched')

/** Captures every connection's peer on arrival, once per server. */
export function watchServer (server: unknown): void {
  const s = server as { on?: (event: string, fn: (socket: unknown) => void) => void, [kWatched]?: boolean } | null
  if (s == null || typeof s.on !== 'function' || s[kWatched] === true) return
  s[kWatched] = true
  s.on('connection', onConnection)
  s.on('secureConnection', onConnection)
}
