import type { FastifyReply } from 'fastify'
import { IncomingMessage } from 'node:http'

/** The corrected values the mounted app reads, in Express's shapes. */
export interface Corrected {
  ip: string | undefined
  /** Express order: client first, closest proxy last, socket left out. */
  ips: string[]
  protocol: 'http' | 'https'
  host: string
  hostname: string
  /** The trusted X-Forwarded-Prefix ('' when none). */
  prefix: string
}

const STRIPPED = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix']
const STRIP = new Set(STRIPPED)

export function socketProtocol (raw: IncomingMessage): 'http' | 'https' {
  return (raw.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
}

function carries (headers: IncomingMessage['headers'], extra: string[]): boolean {
  for (let i = 0; i < STRIPPED.length; i++) if (headers[STRIPPED[i]] !== undefined) return true
  for (const name of extra) if (headers[name] !== undefined) return true
  return false
}

/**
 * The headers the app sees: forwarded headers are never passed on as sent. Host carries the
 * corrected host, and X-Forwarded-For / -Proto / -Host / -Prefix are written back with the
 * corrected values only when they differ from what the socket alone says (that is, a trusted
 * proxy supplied them). With nothing to strip or write (a direct client), the headers are passed
 * on as they are.
 */
export function rewriteHeaders (raw: IncomingMessage, c: Corrected, extra: string[]): IncomingMessage['headers'] {
  const source = raw.headers
  const proto = c.protocol !== socketProtocol(raw)
  const host = c.host !== (source.host ?? '')
  if (!proto && !host && c.ips.length === 0 && c.prefix === '' && !carries(source, extra)) return source
  const headers: IncomingMessage['headers'] = {}
  for (const name in source) {
    if (!STRIP.has(name) && !extra.includes(name)) headers[name] = source[name]
  }
  if (c.host !== '') headers.host = c.host
  if (c.ips.length > 0) headers['x-forwarded-for'] = c.ips.join(', ')
  if (proto) headers['x-forwarded-proto'] = c.protocol
  if (host) headers['x-forwarded-host'] = c.host
  if (c.prefix !== '') headers['x-forwarded-prefix'] = c.prefix
  return headers
}

export function setHeaders (req: IncomingMessage, headers: IncomingMessage['headers']): void {
  if (req instanceof IncomingMessage) req.headers = headers
  // Http2ServerRequest's headers has a getter only.
  else Object.defineProperty(req, 'headers', { value: headers, writable: true, configurable: true, enumerable: true })
}

let kReplyHeaders: symbol | null | undefined

/**
 * The headers set on the reply so far (by hooks, before the app runs). reply.getHeaders() merges
 * the raw response's headers into a new object on every call, a measurable share of a mounted
 * request; the reply's own table, found once by its symbol's description, is all the mount copies
 * across. Where a Fastify keeps it elsewhere, getHeaders() answers.
 */
export function replyHeaders (reply: FastifyReply): Record<string, unknown> {
  if (kReplyHeaders === undefined) kReplyHeaders = Object.getOwnPropertySymbols(reply).find((s) => s.description === 'fastify.reply.headers') ?? null
  if (kReplyHeaders === null) return reply.getHeaders()
  return (reply as unknown as Record<symbol, Record<string, unknown>>)[kReplyHeaders]
}
