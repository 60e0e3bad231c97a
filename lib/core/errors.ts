import createError from '@fastify/error'

/** A bad plugin or route option, thrown at registration. */
export const FST_ERR_PROXY_FIX_INVALID_OPTION = createError<[string, string, string]>(
  'FST_ERR_PROXY_FIX_INVALID_OPTION', 'Invalid option "%s": %s %s', 500, TypeError)

/** `trust: true` where trusting every peer would be an open door. */
export const FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED = createError<[string, string]>(
  'FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED', 'Invalid option "trust": true is refused by %s: %s', 500, TypeError)

/** Fastify's own trustProxy is on, and it would fight the corrected getters. */
export const FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT = createError<[]>(
  'FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT',
  'request.ip is already defined in this scope (by Fastify\'s "trustProxy" or another plugin): turn trustProxy off and give its value as the "trust" option instead. A numeric trustProxy trusts nothing since Fastify 5.12.1; "trust: N" here is a hop count believed only from "peers"', 500)

/** A forwarded value from a trusted peer that is malformed, with `strict` on. */
export const FST_ERR_PROXY_FIX_MALFORMED_HEADER = createError<[string, string]>(
  'FST_ERR_PROXY_FIX_MALFORMED_HEADER', 'Malformed %s header from a trusted proxy: %s', 400, undefined, false)

/** The corrected host is outside `allowedHosts`. */
export const FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED = createError<[string]>(
  'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED', 'Host %s is not allowed', 400, undefined, false)

/** More than one Host header line (RFC 9112 §3.2), where allowedHosts or strict is set. */
export const FST_ERR_PROXY_FIX_DUPLICATE_HOST = createError<[]>(
  'FST_ERR_PROXY_FIX_DUPLICATE_HOST', 'More than one Host header line: the request is ambiguous (RFC 9112 section 3.2)', 400, undefined, false)

export function show (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  let text: string
  try {
    // a header value can be 16 KiB: cut it before quoting
    text = typeof value === 'string' ? JSON.stringify(value.length > 100 ? value.slice(0, 100) : value) : String(JSON.stringify(value) ?? value)
  } catch {
    text = String(value)
  }
  return text.length > 80 ? text.slice(0, 77) + '...' : text
}

/** A WebSocket upgrade reached a mounted app, which cannot take over the socket. */
export const FST_ERR_PROXY_FIX_UPGRADE_REFUSED = createError<[]>(
  'FST_ERR_PROXY_FIX_UPGRADE_REFUSED',
  'WebSocket upgrades are not passed to a mounted app: attach the WebSocket server to the HTTP server instead', 501)

/** Throws FST_ERR_PROXY_FIX_INVALID_OPTION naming the option and (a short form of) the value. */
export function invalidOption (option: string, value: unknown, why: string): never {
  throw new FST_ERR_PROXY_FIX_INVALID_OPTION(option, show(value), why)
}

/**
 * A request's 400, built without a stack trace: it is an answer to the client, never a bug to
 * trace, and capturing the stack was half the cost of a malformed 16 KiB header.
 */
export function requestError (build: () => Error): Error {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return build()
  } finally {
    Error.stackTraceLimit = limit
  }
}
