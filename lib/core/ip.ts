// Strict IP parsing. Only dotted-quad decimal IPv4 and RFC 4291 IPv6 text are accepted:
// `127.1`, `0177.0.0.1` and `0x7f.0.0.1` are rejected (CVE-2024-29415, CVE-2023-42282).

export interface Ip {
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (IPv4-mapped kept as `::ffff:a.b.c.d`). */
  text: string
  /** IPv4 value as an unsigned 32-bit int (also set for IPv4-mapped IPv6), or -1. */
  v4: number
  /** The eight hextets of an IPv6 address, or null for IPv4. */
  v6: Uint16Array | null
}

export const UNKNOWN = 'unknown'

/** Parses a strict dotted quad in `s[start, end)`. Returns the unsigned 32-bit value, or -1. */
export function parseIPv4 (s: string, start: number, end: number): number {
  // 0.0.0.0 to 255.255.255.255: anything shorter or longer is refused unread
  if (end - start < 7 || end - start > 15) return -1
  let value = 0
  // the octet being read, -1 before its first digit
  let octet = -1
  let dots = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (octet === -1 || dots === 3) return -1
      // unsigned arithmetic: a signed shift would make 255.255.255.255 collide with -1
      value = value * 256 + octet
      octet = -1
      dots++
    } else {
      // a leading zero (octal in inet_aton) is refused: a 0 may only stand alone; with no
      // leading zero, a fourth digit is over 255, so the range check bounds the length too
      if (c < 48 || c > 57 || octet === 0) return -1
      octet = octet === -1 ? c - 48 : octet * 10 + (c - 48)
      if (octet > 255) return -1
    }
  }
  return octet === -1 || dots !== 3 ? -1 : value * 256 + octet
}

/** A hex digit's value, -1 for any other character. */
export function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

export function parseIPv6 (s: string, start: number, end: number): Uint16Array | null {
  if (end - start < 2) return null
  const parts = new Uint16Array(8)
  let n = 0
  let gap = -1
  let i = start
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return null
    gap = 0
    i += 2
    if (i === end) return parts
  }
  for (;;) {
    if (n === 8) return null
    const first = i
    let group = 0
    while (i < end) {
      const h = hexValue(s.charCodeAt(i))
      if (h < 0) break
      group = (group << 4) | h
      i++
    }
    if (i < end && s.charCodeAt(i) === 46) {
      if (n > 6) return null
      const v4 = parseIPv4(s, first, end)
      if (v4 === -1) return null
      parts[n++] = v4 >>> 16
      parts[n++] = v4 & 0xffff
      break
    }
    const len = i - first
    if (len === 0 || len > 4) return null
    parts[n++] = group
    if (i === end) break
    if (s.charCodeAt(i) !== 58) return null
    i++
    // never look at s[end]: callers pass a slice of a longer string (`[v6]:port`)
    if (i === end) return null
    if (s.charCodeAt(i) === 58) {
      if (gap !== -1) return null
      gap = n
      i++
      if (i === end) break
    }
  }
  if (gap === -1) return n === 8 ? parts : null
  if (n === 8) return null
  const tail = n - gap
  // move the groups after the gap to the end; every vacated slot is zeroed on the way
  for (let k = 0; k < tail; k++) {
    parts[7 - k] = parts[n - 1 - k]
    parts[n - 1 - k] = 0
  }
  return parts
}

function isMapped (p: Uint16Array): boolean {
  return p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0xffff
}

export function formatIPv4 (v: number): string {
  return ((v >>> 24) & 255) + '.' + ((v >>> 16) & 255) + '.' + ((v >>> 8) & 255) + '.' + (v & 255)
}

export function formatIPv6 (p: Uint16Array): string {
  if (isMapped(p)) return '::ffff:' + formatIPv4(p[6] * 65536 + p[7])
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (p[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && p[j] === 0) j++
    if (j - i > bestLen) { bestStart = i; bestLen = j - i }
    i = j
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::'
      i += bestLen - 1
      continue
    }
    if (out !== '' && !out.endsWith(':')) out += ':'
    out += p[i].toString(16)
  }
  return out
}

function fromV6 (parts: Uint16Array): Ip {
  return { text: formatIPv6(parts), v4: isMapped(parts) ? parts[6] * 65536 + parts[7] : -1, v6: parts }
}

/** An IPv6 zone id: the characters node:net accepts, at least one. */
function isZone (s: string, start: number): boolean {
  if (start === s.length) return false
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46)) return false
  }
  return true
}

/** Parses a bare address (a socket peer, a CIDR base). An IPv6 zone (`%eth0`) is dropped. */
export function parseIp (s: string): Ip | null {
  const v4 = parseIPv4(s, 0, s.length)
  if (v4 !== -1) return { text: s, v4, v6: null }
  let end = s.indexOf('%')
  if (end === -1) end = s.length
  else if (!isZone(s, end + 1)) return null
  const v6 = parseIPv6(s, 0, end)
  return v6 === null ? null : fromV6(v6)
}

function isDigits (s: string, start: number, end: number): boolean {
  if (start >= end || end - start > 5) return false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

function isObfuscated (s: string, start: number, end: number): boolean {
  // RFC 7239 section 6.3: obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")
  if (end - start < 2 || s.charCodeAt(start) !== 95) return false
  for (let i = start + 1; i < end; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 45)) return false
  }
  return true
}

/**
 * Parses one node of X-Forwarded-For or of a Forwarded `for=`: an address with an optional
 * port, `[v6]` with an optional port, or one of RFC 7239's non-addresses (`unknown`, `_obf`).
 * Returns the Ip, UNKNOWN for a valid non-address, or null when malformed.
 */
/** Longest node parsed (an obfuscated identifier could otherwise be any length). */
export const MAX_NODE = 256

export function parseNode (s: string): Ip | typeof UNKNOWN | null {
  const len = s.length
  // no address, with its port or zone, comes near this: a longer node is refused unread
  if (len === 0 || len > MAX_NODE) return null
  const c0 = s.charCodeAt(0)
  if (c0 === 91) {
    const close = s.indexOf(']')
    if (close === -1) return null
    if (close !== len - 1 && (s.charCodeAt(close + 1) !== 58 || !isPort(s, close + 2, len))) return null
    // a '%' can only sit inside the brackets (the port was checked), and never parses as IPv4
    if (s.indexOf('%', 1) !== -1) return parseIp(s.slice(1, close))
    const v6 = parseIPv6(s, 1, close)
    return v6 === null ? null : fromV6(v6)
  }
  const colon = s.indexOf(':')
  if (colon === -1 || s.indexOf(':', colon + 1) === -1) {
    const end = colon === -1 ? len : colon
    if (colon !== -1 && !isPort(s, colon + 1, len)) return null
    const v4 = parseIPv4(s, 0, end)
    if (v4 !== -1) return { text: end === len ? s : s.slice(0, end), v4, v6: null }
    if ((end === 7 && s.slice(0, 7).toLowerCase() === UNKNOWN) || isObfuscated(s, 0, end)) return UNKNOWN
    return null
  }
  // two or more colons: only IPv6 can parse
  return parseIp(s)
}

function isPort (s: string, start: number, end: number): boolean {
  return isDigits(s, start, end) || isObfuscated(s, start, end)
}
