import * as crypto from 'node:crypto'
import { tcharClass } from '../core/token'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The parts of an Express app and of its response that the send path reads. */
interface ExpressApp {
  get: (setting: string) => unknown
}
export type ExpressResponse = ServerResponse & { app?: ExpressApp, send: (...args: unknown[]) => unknown, json: (...args: unknown[]) => unknown }
type OneShot = (algorithm: string, data: string | Buffer, encoding: 'base64') => string

/** A content type that Express's setCharset(type, 'utf-8') would return unchanged. */
const UTF8_TYPE = new RegExp(`^${tcharClass('a-z')}+/${tcharClass('a-z')}+; charset=utf-8$`)
const HTML = 'text/html; charset=utf-8'
const OCTET = 'application/octet-stream'
const JSON_TYPE = 'application/json; charset=utf-8'
const EMPTY_TAG = '"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"'

/** True for an Express 4 or 5 application (not a Router, which never takes over `res`). */
export function isExpressApp (app: unknown): boolean {
  const candidate = app as { set?: unknown, get?: unknown, response?: { send?: unknown } }
  return typeof app === 'function' && typeof candidate.set === 'function' && typeof candidate.get === 'function' &&
    typeof candidate.response?.send === 'function'
}

/** SHA-1 in base64; crypto.hash (Node 20.12+) skips the Hash object, which costs more than hashing a small body. */
export function sha1With (oneShot: OneShot | undefined): (data: string | Buffer) => string {
  if (oneShot !== undefined) return (data) => oneShot('sha1', data, 'base64')
  return (data) => crypto.createHash('sha1').update(data).digest('base64')
}

const sha1 = sha1With((crypto as { hash?: OneShot }).hash)

/** The ETag of the `etag` package, which Express's `etag: true | 'weak' | 'strong'` settings use, byte for byte. */
export function entityTag (body: string | Buffer, weak: boolean): string {
  const tag = body.length === 0
    ? EMPTY_TAG
    : '"' + Buffer.byteLength(body).toString(16) + '-' + sha1(body).slice(0, 27) + '"'
  return weak ? 'W/' + tag : tag
}

/**
 * Express's res.send for its common case: a string or Buffer body, no conditional request, no
 * HEAD, no 204/205/304. It sets the headers Express would (Content-Type, Content-Length, and the
 * ETag of the app's `etag fn`, byte for byte) and ends the response, as Express does, but hashes
 * the body without copying it and writes a string body with the head in one piece. Returns false,
 * having changed nothing, for every other case, which Express's own send then answers. Falsy
 * headers count as unset, as in Express.
 */
export function sendDirect (req: IncomingMessage, res: ExpressResponse, body: unknown): boolean {
  const status = res.statusCode
  if (res.headersSent || req.method === 'HEAD' || status === 204 || status === 205 || status === 304) return false
  // Express answers these with 304 when fresh; its own send does that check.
  if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) return false
  if (res.getHeader('transfer-encoding') !== undefined) return false
  const app = res.app
  if (app === undefined) return false
  const type = res.getHeader('content-type')
  let setType: string | undefined
  if (typeof body === 'string') {
    if (type === undefined) setType = HTML
    else if (typeof type !== 'string' || !UTF8_TYPE.test(type)) return false
  } else if (Buffer.isBuffer(body)) {
    if (!type) setType = OCTET
  } else {
    return false
  }
  // In Express's order: the type and length are set before the ETag generator runs (and throws, if it does).
  if (setType !== undefined) res.setHeader('Content-Type', setType)
  res.setHeader('Content-Length', String(Buffer.byteLength(body)))
  if (!res.getHeader('etag')) {
    const generate = app.get('etag fn') as ((b: Buffer, e: undefined) => unknown) | undefined
    if (typeof generate === 'function') {
      const setting = app.get('etag')
      // Express's own generators (`etag: true | 'weak' | 'strong'`) give exactly entityTag(); any
      // other is handed the body as a Buffer and no encoding, as Express does.
      const tag = generate.name === 'generateETag' && (setting === true || setting === 'weak' || setting === 'strong')
        ? entityTag(body, setting !== 'strong')
        : generate(typeof body === 'string' ? Buffer.from(body) : body, undefined)
      // Express's res.set: a truthy tag is written as a string (or strings).
      if (tag) res.setHeader('ETag', Array.isArray(tag) ? tag.map(String) : String(tag))
    }
  }
  res.end(body)
  return true
}

/**
 * Express's res.json for an app without `json replacer`, `json spaces` or `json escape`: the same
 * body and Content-Type (`application/json; charset=utf-8`, what Express's res.set makes of
 * 'application/json'), without Express's MIME lookup. Returns the body for res.send (undefined
 * for a value JSON.stringify leaves out, as in Express), or false (having done nothing) when
 * Express's own res.json has to answer.
 */
export function jsonBody (res: ExpressResponse, value: unknown): string | undefined | false {
  const app = res.app
  if (app === undefined || Boolean(app.get('json replacer')) || Boolean(app.get('json spaces')) || Boolean(app.get('json escape'))) return false
  const body = JSON.stringify(value)
  if (!res.getHeader('content-type')) res.setHeader('Content-Type', JSON_TYPE)
  return body
}
