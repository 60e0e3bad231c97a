// Header list parsing. Both parsers are single linear scans with no regular expressions, and the
// X-Forwarded-* reader works from the right, so a 16 KiB header costs no more than a short one.

/** Most entries read from one header. More are ignored (and rejected when strict). */
export const MAX_ENTRIES = 32

export function isOws (c: number): boolean {
  return c === 32 || c === 9
}

/**
 * Splits a comma-separated header value from the right: returns up to `max + 1` non-empty,
 * trimmed entries, nearest hop first. A result longer than `max` means the header held more.
 */
export function rightEntries (value: string, max: number): string[] {
  const out: string[] = []
  const c = new RightCursor(value)
  while (out.length <= max && c.next()) out.push(c.text())
  return out
}

/**
 * Steps through a comma-separated list from the right, nearest hop first, skipping empty entries
 * and trimming OWS, without copying: `start` and `end` bound the current entry.
 */
export class RightCursor {
  start = 0
  end = 0
  private at: number

  constructor (readonly value: string) {
    this.at = value.length
  }

  /** Moves to the next non-empty entry leftwards; false when there is none. */
  next (): boolean {
    const value = this.value
    while (this.at > 0) {
      const comma = value.lastIndexOf(',', this.at - 1)
      let s = comma + 1
      let e = this.at
      this.at = comma === -1 ? 0 : comma
      while (s < e && isOws(value.charCodeAt(s))) s++
      while (e > s && isOws(value.charCodeAt(e - 1))) e--
      if (e > s) {
        this.start = s
        this.end = e
        return true
      }
    }
    return false
  }

  text (): string {
    return this.value.slice(this.start, this.end)
  }
}

export interface ForwardedElement {
  for?: string
  by?: string
  host?: string
  proto?: string
}

// RFC 7230 tchar
const TCHAR = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1
for (let c = 48; c <= 57; c++) TCHAR[c] = 1
for (let c = 65; c <= 90; c++) TCHAR[c] = 1
for (let c = 97; c <= 122; c++) TCHAR[c] = 1

function isTchar (c: number): boolean {
  return c < 128 && TCHAR[c] === 1
}

const KNOWN = new Set(['for', 'by', 'host', 'proto'])
const MAX_PAIRS = 16

/**
 * Parses an RFC 7239 Forwarded header. Returns the elements (at most `max + 1`, the nearest
 * last), or null when the header is malformed anywhere: a broken list cannot be split reliably,
 * so none of it is used. Unknown parameters are allowed (section 5.5) and ignored.
 */
export function parseForwarded (value: string, max: number): ForwardedElement[] | null {
  const start = tailStart(value, max + 1)
  const out = parseFrom(value, start, max)
  // An empty element stands for the parts skipped unread: the walk stops there, as at `unknown`.
  if (out !== null && start > 0 && out.length <= max) out.unshift({})
  return out
}

/**
 * Where the last `keep` comma-separated parts begin, found by scanning from the right and
 * tracking quoted strings (a quote after an odd run of backslashes is escaped). Only the tail is
 * read, so a 16 KiB header costs no more than a short one. Trusted proxies append on the right,
 * so a client's unbalanced quote further left can not change how their elements split; the tail
 * is then parsed strictly from `start`.
 */
function tailStart (value: string, keep: number): number {
  let quoted = false
  let commas = 0
  for (let i = value.length - 1; i >= 0; i--) {
    const c = value.charCodeAt(i)
    if (c === 34) {
      let b = 0
      while (i - 1 - b >= 0 && value.charCodeAt(i - 1 - b) === 92) b++
      if ((b & 1) === 0) quoted = !quoted
    } else if (c === 44 && !quoted && ++commas === keep) {
      return i + 1
    }
  }
  return 0
}

function parseFrom (value: string, start: number, max: number): ForwardedElement[] | null {
  const out: ForwardedElement[] = []
  const len = value.length
  let i = start
  let el: ForwardedElement = {}
  let seen = 0
  let pairs = 0
  let empty = true
  for (;;) {
    while (i < len && isOws(value.charCodeAt(i))) i++
    if (i === len || value.charCodeAt(i) === 44) {
      // end of an element (empty list elements are allowed by the # rule)
      if (!empty) {
        out.push(el)
      }
      if (i === len) return out
      i++
      el = {}
      seen = 0
      pairs = 0
      empty = true
      continue
    }
    // forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] ): empty pairs are allowed
    if (value.charCodeAt(i) === 59) { i++; continue }
    const nameStart = i
    while (i < len && isTchar(value.charCodeAt(i))) i++
    if (i === nameStart || i === len || value.charCodeAt(i) !== 61) return null
    const name = value.slice(nameStart, i).toLowerCase()
    i++
    let v: string
    if (i < len && value.charCodeAt(i) === 34) {
      i++
      v = ''
      let start = i
      for (;;) {
        if (i === len) return null
        let c = value.charCodeAt(i)
        if (c === 34) break
        if (c === 92) {
          v += value.slice(start, i)
          i++
          if (i === len) return null
          start = i
          c = value.charCodeAt(i)
        }
        // quoted-pair takes HTAB / SP / VCHAR / obs-text only: an escaped control is refused too
        if ((c < 32 && c !== 9) || c === 127) return null
        i++
      }
      v += value.slice(start, i)
      i++
    } else {
      const start = i
      while (i < len && isTchar(value.charCodeAt(i))) i++
      if (i === start) return null
      v = value.slice(start, i)
    }
    if (++pairs > MAX_PAIRS) return null
    empty = false
    if (KNOWN.has(name)) {
      const bit = name === 'for' ? 1 : name === 'by' ? 2 : name === 'host' ? 4 : 8
      // section 4: each parameter MUST NOT occur more than once per element
      if ((seen & bit) !== 0) return null
      seen |= bit
      el[name as keyof ForwardedElement] = v
    }
    while (i < len && isOws(value.charCodeAt(i))) i++
    if (i < len && value.charCodeAt(i) !== 59 && value.charCodeAt(i) !== 44) return null
  }
}
