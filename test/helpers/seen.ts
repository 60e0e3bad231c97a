// What a handler sees, over a real socket: the corrected request values as one object, the
// forged headers a client sends, and a raw client that can half-close or connect from an alias.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { portOf } from './ports'
import { raw } from './raw-http'

export interface Seen { ip: unknown, ips: unknown, host: string, protocol: string, url: string, trusted: boolean, original: unknown }

export function snapshot (req: FastifyRequest): Seen {
  return { ip: req.ip, ips: req.ips, host: req.host, protocol: req.protocol, url: req.proxy.url('/reset?t=1'), trusted: req.proxy.trusted, original: req.proxy.original.ip }
}

/** The header lines a client forges. */
export const FORGED = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n'

/** Sends raw bytes (from `localAddress`), half-closing at once or after 200 ms; everything the server wrote back. */
export function send (port: number, bytes: string | Buffer, opts: { localAddress?: string, halfClose?: boolean, path?: string } = {}): Promise<string> {
  return raw(port, bytes, { localAddress: opts.localAddress, path: opts.path, end: opts.halfClose === true ? 'now' : 'later', encoding: 'latin1' })
}

export async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return portOf(app.server)
}
