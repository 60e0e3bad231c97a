// A raw HTTP/1.1 client for the mount tests: the request target goes out byte for byte.
import net from 'node:net'

/** One request over its own connection, bytes as given; resolves with the status and body. */
export async function rawRequest (port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string, head: string }> {
  const socket = net.connect(port, '127.0.0.1')
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: app.test', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  if (method === 'PUT' || method === 'POST' || method === 'QUERY') lines.push('Content-Length: 0')
  // Fastify wants a Content-Type on QUERY (FST_ERR_ROUTE_MISSING_CONTENT_TYPE), before any route runs.
  if (method === 'QUERY') lines.push('Content-Type: text/plain')
  socket.write(lines.join('\r\n') + '\r\n\r\n')
  let data = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk) => { data += chunk })
  await new Promise((resolve) => socket.on('close', resolve))
  const split = data.indexOf('\r\n\r\n')
  return { status: Number(data.slice(9, 12)), head: data.slice(0, split), body: data.slice(split + 4) }
}
