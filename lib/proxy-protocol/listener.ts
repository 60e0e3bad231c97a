// Puts a PROXY protocol reader in front of a Node server (http, https, http2): the server's own
// 'connection' listeners run only once the header is read, with the bytes after it unshifted
// onto the socket, so the HTTP (or TLS) layer sees the stream exactly as sent after the header.
import type net from 'node:net'
import tls from 'node:tls'
import { parseIp } from '../core/ip'
import type { Trust } from '../core/trust'
import { kAwaitingHeader, kProxyProtocol } from '../core/peer'
import { parseHeader, type Accept } from './parse'
import type { ProxyProtocolInfo } from '../../types'

/** The key of the parsed header on the socket (and on the TLSSocket over it). */
export { kProxyProtocol }

export type { ProxyProtocolInfo }
type Peer = ProxyProtocolInfo['peer']

export interface ListenerConfig {
  from: Trust
  accept: Accept
  required: boolean
  headerTimeout: number
  /** One line per closed connection: the peer as text and the reason. */
  log: (peer: string, reason: string) => void
  /** Refusals of peers outside `from` (anyone can cause them) are logged once per this many ms. @default 10000 */
  quietMs?: number
}

type Listener = (socket: net.Socket) => void
type Tagged = net.Socket & { [kProxyProtocol]?: ProxyProtocolInfo, [kAwaitingHeader]?: boolean }

function preview (buf: Buffer): string {
  const n = buf.length < 16 ? buf.length : 16
  let out = ''
  for (let i = 0; i < n; i++) out += (i === 0 ? '' : ' ') + buf[i].toString(16).padStart(2, '0')
  return out + (buf.length > n ? ' ...' : '')
}

function peerText (peer: Peer): string {
  if (peer.address === null) return 'unix socket'
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`
}

const kAttached = Symbol('fastify-proxy-fix.proxyProtocolReader')

/**
 * Installs the reader on `server` (whose own 'connection' listeners are already in place). Returns
 * it. Listeners added later run as the socket arrives: such a socket is marked kAwaitingHeader
 * until its header is in (lib/core/peer.ts reads the peer on demand then).
 */
export function attach<S extends net.Server> (server: S, cfg: ListenerConfig): S {
  const marked = server as S & { [kAttached]?: true }
  // a second reader would read a second header: the client's first bytes
  if (marked[kAttached] === true) throw new TypeError('a PROXY protocol reader is already attached to this server')
  marked[kAttached] = true
  const downstream = server.listeners('connection') as Listener[]
  server.removeAllListeners('connection')
  const pending = new Set<net.Socket>()
  let quietUntil = 0
  let suppressed = 0

  const base = server as net.Server
  const close = base.close
  // A socket still waiting for its header is not the HTTP server's yet: close() ends it here.
  base.close = function (this: net.Server, callback?: (err?: Error) => void) {
    for (const socket of pending) socket.destroy()
    pending.clear()
    return close.call(this, callback)
  }

  if (server instanceof tls.Server) {
    // The HTTP layer sees the TLSSocket; it is created over the raw socket (its _parent).
    server.prependListener('secureConnection', (socket: Tagged & { _parent?: Tagged }) => {
      const info = socket._parent?.[kProxyProtocol]
      if (info !== undefined) socket[kProxyProtocol] = info
    })
  }

  function handOff (socket: net.Socket, rest: Buffer | null): void {
    // Paused, the bytes after the header wait in the socket's buffer. HTTP/1 listens for 'data'
    // and needs the flow back on; TLS and HTTP/2 take over the handle and read() the buffer
    // themselves, and a resumed socket would hand those bytes to no one.
    socket.pause()
    if (rest !== null && rest.length > 0) socket.unshift(rest)
    for (const listener of downstream) listener.call(server, socket)
    if (socket.listenerCount('data') > 0) socket.resume()
  }

  server.on('connection', (socket: Tagged) => {
    let peer: Peer
    const where = server.address()
    if (typeof where === 'string') {
      peer = { address: null, port: null }
      if (!cfg.from.test(null, 0)) return refuse(socket, peer)
    } else {
      const remote = socket.remoteAddress
      const ip = remote === undefined ? null : parseIp(remote)
      // no address: the client is already gone (remoteAddress reads undefined once it has closed)
      if (ip === null) return socket.destroy()
      peer = { address: ip.text, port: socket.remotePort as number }
      if (!cfg.from.test(ip, 0)) return refuse(socket, peer)
    }
    pending.add(socket)
    socket[kAwaitingHeader] = true
    let buf: Buffer | null = null
    const done = (): void => {
      clearTimeout(timer)
      pending.delete(socket)
      socket[kAwaitingHeader] = false
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
      socket.removeListener('error', onError)
      socket.removeListener('close', done)
    }
    const reject = (reason: string): void => {
      done()
      socket.destroy()
      cfg.log(peerText(peer), reason)
    }
    const onData = (chunk: Buffer): void => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk])
      const r = parseHeader(buf, cfg.accept)
      if (r.status === 'more') return
      if (r.status === 'invalid') return reject(r.reason)
      if (r.status === 'absent') {
        if (cfg.required) return reject(`no PROXY protocol header (the connection starts with ${preview(buf)})`)
        done()
        return handOff(socket, buf)
      }
      done()
      socket[kProxyProtocol] = { ...r.header, peer }
      handOff(socket, buf.subarray(r.length))
    }
    const onEnd = (): void => {
      if (buf === null) {
        // connected and left without a byte (a TCP health check): nothing to report
        done()
        socket.destroy()
        return
      }
      reject('the connection ended inside the PROXY protocol header')
    }
    const onError = (): void => {
      done()
      socket.destroy()
    }
    const timer = setTimeout(() => {
      if (buf === null) {
        // an idle connection (a preconnect): closed quietly
        done()
        socket.destroy()
        return
      }
      reject(`no complete PROXY protocol header within ${cfg.headerTimeout} ms (slow sender)`)
    }, cfg.headerTimeout)
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('error', onError)
    socket.on('close', done)
  })

  function refuse (socket: net.Socket, peer: Peer): void {
    if (!cfg.required) {
      // never parsed: whatever it sends goes to HTTP, where a PROXY line is not a request
      for (const listener of downstream) listener.call(server, socket)
      return
    }
    socket.destroy()
    const now = Date.now()
    if (now < quietUntil) {
      suppressed++
      return
    }
    quietUntil = now + (cfg.quietMs ?? 10000)
    const more = suppressed === 0 ? '' : ` (and ${suppressed} more since the last such line)`
    suppressed = 0
    cfg.log(peerText(peer), `the peer is not in "from", and a PROXY protocol header is required${more}`)
  }

  return server
}
