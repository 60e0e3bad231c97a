import { hexValue, parseIPv6 } from './ip'

export interface HostParts {
  host: string
  hostname: string
  port: number | null
}

function isHostnameChar (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95
}

/** Decimal digits only, 1 to 65535. Returns -1 otherwise. */
export function parsePort (s: string, start = 0, end = s.length): number {
  if (start >= end || end - start > 5) return -1
  let v = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    v = v * 10 + (c - 48)
  }
  return v >= 1 && v <= 65535 ? v : -1
}

/**
 * Validates a forwarded host: a DNS name or IPv4 address, or a bracketed IPv6 literal, with an
 * optional port. Userinfo, paths, `?`, `#`, whitespace, controls and non-ASCII are all refused
 * (GHSA-7gcc-r8m5-44qm, GHSA-g2pf-xv49-m2h5); IDNs must arrive as punycode.
 */
export function parseHost (value: string): HostParts | null {
  const len = value.length
  if (len === 0 || len > 261) return null
  let nameEnd: number
  if (value.charCodeAt(0) === 91) {
    nameEnd = value.indexOf(']') + 1
    if (nameEnd === 0 || parseIPv6(value, 1, nameEnd - 1) === null) return null
  } else {
    nameEnd = 0
    while (nameEnd < len && isHostnameChar(value.charCodeAt(nameEnd))) nameEnd++
    if (nameEnd === 0 || nameEnd > 253) return null
  }
  if (nameEnd === len) return { host: value, hostname: value, port: null }
  if (value.charCodeAt(nameEnd) !== 58) return null
  const port = parsePort(value, nameEnd + 1, len)
  if (port === -1) return null
  return { host: value, hostname: value.slice(0, nameEnd), port }
}

/** The hostname part of a Host value, as Fastify's request.hostname reads it: a bracketed IPv6 literal, or the part before ':'. */
export function hostnameOf (host: string): string {
  if (host.charCodeAt(0) === 91) return host.slice(0, host.indexOf(']') + 1)
  const colon = host.indexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
}

/** Fastify's own reading of a Host header, kept for the socket's view (request.js semantics). */
export function splitHost (host: string): HostParts {
  const hostname = hostnameOf(host)
  let port: number | null = null
  let i = host.length
  while (i > 0) {
    const c = host.charCodeAt(i - 1)
    if (c < 48 || c > 57) break
    i--
  }
  if (i < host.length && i > 0 && host.charCodeAt(i - 1) === 58) port = parseInt(host.slice(i), 10)
  return { host, hostname, port }
}

/** Werkzeug's port step: replace the port of the host; a bare IPv6 literal has none to strip. */
export function withPort (hostname: string, port: number): HostParts {
  return { host: hostname + ':' + port, hostname, port }
}

/** http, https, ws or wss in any case. WebSocket schemes map to their HTTP twins. */
export function parseProto (value: string): 'http' | 'https' | null {
  if (value.length > 5) return null
  switch (value.toLowerCase()) {
    case 'http':
    case 'ws':
      return 'http'
    case 'https':
    case 'wss':
      return 'https'
    default:
      return null
  }
}

function isPathChar (c: number): boolean {
  // RFC 3986 pchar plus "/", without "\" (browsers read it as "/")
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) ||
    c === 45 || c === 46 || c === 95 || c === 126 || c === 37 || c === 33 || c === 36 ||
    (c >= 38 && c <= 44) || c === 59 || c === 61 || c === 58 || c === 64 || c === 47
}

/**
 * Validates X-Forwarded-Prefix: one leading "/", no "//", no "." or ".." segment (also when
 * percent-encoded), no malformed or slash-hiding percent-escape, no scheme, query or fragment. The trailing slash is removed; "/" is "".
 */
export function parsePrefix (value: string): string | null {
  const len = value.length
  if (len === 0 || value.charCodeAt(0) !== 47 || len > 1024) return null
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i)
    if (!isPathChar(c)) return null
    if (c === 37) {
      // a percent-escape must be well formed, and must not hide a "/" or "\\" (new segments)
      const hi = hexValue(value.charCodeAt(i + 1))
      const lo = hexValue(value.charCodeAt(i + 2))
      if (hi < 0 || lo < 0) return null
      const byte = hi * 16 + lo
      if (byte === 0x2f || byte === 0x5c) return null
      i += 2
    }
  }
  const out = value.charCodeAt(len - 1) === 47 ? value.slice(0, len - 1) : value
  const segments = out.split('/')
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i].replace(/%2e/gi, '.')
    if (seg === '' || seg === '.' || seg === '..') return null
  }
  return out
}

/** How many Host lines a request carried, from Node's rawHeaders (name, value, name, value ...). */
export function hostLines (rawHeaders: string[]): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (name.length === 4 && name.toLowerCase() === 'host') n++
  }
  return n
}
