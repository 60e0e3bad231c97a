import fs from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { bindText, type Bind } from './bind-spec'
import { CliError } from './cli-error'

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

/**
 * Makes one server per bind around Fastify's handler. A user's factory (such as a PROXY-protocol
 * server) gets the same arguments as Fastify's `serverFactory`, with the TLS options when given.
 */
export type ServerFactory = (handler: Handler, opts: { https?: { key: Buffer, cert: Buffer }, http2?: boolean }) => net.Server

export interface Tls { key: Buffer, cert: Buffer }

export function readTls (certfile: string | null, keyfile: string | null): Tls | null {
  if (certfile === null || keyfile === null) return null
  const read = (flag: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file)
    } catch (err) {
      throw new CliError(`${flag} ${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code})`)
    }
  }
  return { cert: read('--certfile', certfile), key: read('--keyfile', keyfile) }
}

/**
 * The built-in factory: HTTP/1.1, HTTPS, or HTTP/2 over TLS (HTTP/1.1 clients still served).
 * `classes` (expressHttpOptions, for a mounted Express app) are the HTTP/1 request and response.
 */
export function defaultFactory (keepAliveMs: number, classes: http.ServerOptions = {}): ServerFactory {
  return (handler, opts) => {
    if (opts.https !== undefined && opts.http2 === true) {
      return http2.createSecureServer({ ...opts.https, allowHTTP1: true }, handler as never) as unknown as net.Server
    }
    const server = opts.https === undefined ? http.createServer(classes, handler) : https.createServer({ ...opts.https, ...classes }, handler)
    server.keepAliveTimeout = keepAliveMs
    return server
  }
}

/** A server and the connections it holds, so a drain can close them. */
export class Listener {
  readonly sockets = new Set<net.Socket>()
  readonly sessions = new Set<http2.Http2Session>()
  url = ''

  constructor (readonly server: net.Server, readonly bind: Bind) {
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    server.on('session', (session: http2.Http2Session) => {
      this.sessions.add(session)
      session.once('close', () => this.sessions.delete(session))
    })
  }

  /** Stops accepting; open connections stay until they end. Node's http close() would also drop idle keep-alive ones at once. */
  stopAccepting (): void {
    if (this.server.listening) net.Server.prototype.close.call(this.server)
  }

  /** Closes connections with no request in flight (and asks HTTP/2 clients to go away). */
  closeIdle (): void {
    const s = this.server as Partial<http.Server>
    if (typeof s.closeIdleConnections === 'function') s.closeIdleConnections()
    for (const session of this.sessions) session.close()
  }

  closeAll (): void {
    for (const session of this.sessions) session.destroy()
    for (const socket of this.sockets) socket.destroy()
  }
}

export function listenError (err: NodeJS.ErrnoException, where: string): Error {
  if (err.code === 'EADDRINUSE') return new CliError(`${where} is already in use (EADDRINUSE): is another server running?`)
  if (err.code === 'EACCES') return new CliError(`cannot listen on ${where}: permission denied (EACCES)`)
  if (err.code === 'EBADF' || err.code === 'ENOTSOCK' || err.code === 'EINVAL') return new CliError(`cannot listen on ${where}: not an inherited listening socket (${err.code})`)
  return err
}

export function urlOf (server: Pick<net.Server, 'address'>, tls: boolean): string {
  const address = server.address() as net.AddressInfo | string | null
  if (typeof address === 'string') return `unix:${address}`
  if (address === null) return 'an inherited socket'
  return `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}

export function listenerUrl (server: Pick<net.Server, 'address'>, bind: Bind, tls: boolean): string {
  return bind.kind === 'fd' ? `${urlOf(server, tls)} (fd://${bind.fd})` : urlOf(server, tls)
}

/** Listens on one bind. */
export function listenOn (listener: Listener, tls: boolean): Promise<void> {
  const { server, bind } = listener
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, bindText(bind)))
    server.once('error', onError)
    const done = (): void => {
      server.removeListener('error', onError)
      listener.url = listenerUrl(server, bind, tls)
      resolve()
    }
    if (bind.kind === 'unix') server.listen({ path: bind.path }, done)
    else if (bind.kind === 'fd') server.listen({ fd: bind.fd }, done)
    else server.listen({ host: bind.host, port: bind.port }, done)
  })
}

/**
 * A leftover socket file from a crashed server is removed, but only when nothing answers on it:
 * a live server's socket is never taken over.
 */
export async function clearStaleSocket (file: string): Promise<void> {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(file)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new CliError(`${file} exists and is not a socket: refusing to replace it`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => resolve(false))
  })
  if (live) throw new CliError(`${file} is already in use: a server is listening on it`)
  fs.unlinkSync(file)
}

/** Fails early, in the primary, when a TCP address is taken (workers would fail one by one). */
export async function checkBind (bind: Bind): Promise<void> {
  if (bind.kind === 'unix') return clearStaleSocket(bind.path)
  if (bind.kind !== 'tcp' || bind.port === 0) return
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: bind.host, port: bind.port, exclusive: true }, () => server.close(() => resolve()))
  }).catch((err: NodeJS.ErrnoException) => { throw listenError(err, bindText(bind)) })
}

/**
 * Drains the listeners: stop accepting, let keep-alive clients make one more request (answered
 * with `Connection: close`) for `lingerMs`, close idle connections, wait for the rest until
 * `deadline`. Resolves true when every connection ended in time; else closes them and resolves false.
 */
export async function drainListeners (listeners: Listener[], lingerMs: number, deadline: number): Promise<boolean> {
  for (const l of listeners) l.stopAccepting()
  const open = (): boolean => listeners.some((l) => l.sockets.size > 0)
  const lingerEnd = Math.min(Date.now() + lingerMs, deadline)
  while (open() && Date.now() < lingerEnd) await sleep(25)
  for (;;) {
    for (const l of listeners) l.closeIdle()
    if (!open()) return true
    if (Date.now() >= deadline) break
    await sleep(25)
  }
  for (const l of listeners) l.closeAll()
  return false
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
