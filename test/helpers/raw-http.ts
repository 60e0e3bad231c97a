// Raw HTTP/1.1 over a socket, for the tests where the bytes matter: the request target goes out
// byte for byte (no client normalises `..`, `#` or `\`), duplicate or odd header lines stay as
// written, the client can half-close, and it can connect from a chosen loopback address.
import net from 'node:net'

export interface RawOptions {
  host?: string
  /** Connect from this local address (a 127.0.0.x alias). */
  localAddress?: string
  /** A Unix socket path instead of host and port. */
  path?: string
  /**
   * When the client ends its side: 'now' half-closes right after the bytes (as `socket.end(bytes)`),
   * 'later' after 200 ms, 'never' waits for the server to close (send `Connection: close`).
   */
  end?: 'now' | 'later' | 'never'
  encoding?: 'latin1' | 'utf8'
}

/** Writes `bytes` and resolves with everything the server sent, once it closed; rejects on a socket error. */
export function raw (port: number, bytes: string | Buffer, { host = '127.0.0.1', localAddress, path, end = 'now', encoding = 'utf8' }: RawOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = path !== undefined ? net.connect(path) : net.connect({ port, host, localAddress })
    const chunks: Buffer[] = []
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString(encoding)))
    socket.write(bytes)
    if (end === 'now') socket.end()
    else if (end === 'later') setTimeout(() => socket.end(), 200)
  })
}

/** A GET with `Connection: close` and the given header lines ("Name: value\r\n" each). */
export function rawGet (port: number, target: string, headerLines = '', opts: RawOptions = {}): Promise<string> {
  return raw(port, `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${headerLines}\r\n`, opts)
}

/** The body of a raw HTTP/1.1 response (after the blank line). */
export function bodyOf (response: string): string {
  return response.slice(response.indexOf('\r\n\r\n') + 4)
}

/** One request over its own connection, bytes as given; resolves with the status and body. */
export async function rawRequest (port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string, head: string }> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: app.test', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  if (method === 'PUT' || method === 'POST' || method === 'QUERY') lines.push('Content-Length: 0')
  // Fastify wants a Content-Type on QUERY (FST_ERR_ROUTE_MISSING_CONTENT_TYPE), before any route runs.
  if (method === 'QUERY') lines.push('Content-Type: text/plain')
  const data = await raw(port, lines.join('\r\n') + '\r\n\r\n', { end: 'never', encoding: 'latin1' })
  const split = data.indexOf('\r\n\r\n')
  return { status: Number(data.slice(9, 12)), head: data.slice(0, split), body: data.slice(split + 4) }
}
