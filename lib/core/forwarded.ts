// RFC 7239 Forwarded. A single linear scan with no regular expressions; only the header's tail
// (the elements trusted proxies appended) is read, so a 16 KiB header costs no more than a short one.
import { isTchar } from './token'
import { isOws, MAX_ENTRIES } from './list'

/**
 * Most characters of a Forwarded header read, from its right end: 32 elements of
 * `for=a.b.c.d;proto=https;host=...` fit, and the cost of any 16 KiB value stays bounded.
 */
export const MAX_TAIL = 2048

export interface ForwardedElement {
  for?: string
  by?: string
  host?: string
  proto?: string
}

const QUOTED_PAIR = /\\([\s\S])/g
const KNOWN = new Set(['for', 'by', 'host', 'proto'])
const MAX_PAIRS = 16

/**
 * Parses an RFC 7239 Forwarded header. Returns the elements (at most `max + 1`, the nearest
 * last), or null when the header is malformed anywhere: a broken list cannot be split reliably,
 * so none of it is used. Unknown parameters are allowed (section 5.5) and ignored.
 */
export function parseForwarded (value: string, max: number): ForwardedElement[] | null {
  const start = tailStart(value, max + 1)
  if (start === -1) return null
  const out = parseFrom(value, start, max)
  // An empty element stands for the parts skipped unread: the walk stops there, as at `unknown`.
  if (out !== null && start > 0 && out.length <= max) out.unshift({})
  return out
}

/**
 * Where the last `keep` comma-separated parts begin, found by scanning from the right and
 * tracking quoted strings (a quote after an odd run of backslashes is escaped). Trusted proxies
 * append on the right, so a client's unbalanced quote further left can not change how their
 * elements split; the tail is then parsed strictly from `start`. At most MAX_TAIL characters are
 * read: past that, the tail starts after the leftmost comma seen (the parts further left are
 * skipped unread), or is -1 when the region holds no whole part.
 */
function tailStart (value: string, keep: number): number {
  const floor = value.length > MAX_TAIL ? value.length - MAX_TAIL : 0
  let quoted = false
  let commas = 0
  let leftmost = -1
  for (let i = value.length - 1; i >= floor; i--) {
    const c = value.charCodeAt(i)
    if (c === 34) {
      let b = 0
      while (i - 1 - b >= floor && value.charCodeAt(i - 1 - b) === 92) b++
      if ((b & 1) === 0) quoted = !quoted
    } else if (c === 44 && !quoted) {
      if (++commas === keep) return i + 1
      leftmost = i
    }
  }
  return floor === 0 ? 0 : leftmost === -1 ? -1 : leftmost + 1
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
      const start = ++i
      let escaped = false
      for (;;) {
        if (i === len) return null
        let c = value.charCodeAt(i)
        if (c === 34) break
        if (c === 92) {
          escaped = true
          if (++i === len) return null
          c = value.charCodeAt(i)
        }
        // quoted-pair takes HTAB / SP / VCHAR / obs-text only: an escaped control is refused too
        if ((c < 32 && c !== 9) || c === 127) return null
        i++
      }
      // one pass over the escapes (not a concatenation per escape)
      v = escaped ? value.slice(start, i).replace(QUOTED_PAIR, '$1') : value.slice(start, i)
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

/**
 * The elements of a malformed Forwarded header that follow its last broken part, read one
 * comma-separated segment at a time from the right. A proxy that appends to a client's own broken
 * Forwarded must not lose what it added: otherwise any client could make request.ip the proxy's
 * address. The walk then stops where the broken part starts, as at a malformed X-Forwarded-For
 * entry. Empty segments count toward MAX_ENTRIES.
 */
export function forwardedTail (raw: string): ForwardedElement[] {
  const out: ForwardedElement[] = []
  const floor = raw.length > MAX_TAIL ? raw.length - MAX_TAIL : 0
  let end = raw.length
  for (let n = 0; n <= MAX_ENTRIES && end > 0; n++) {
    // not lastIndexOf: with no comma in the tail, it would read all 16 KiB to the left of it
    let comma = end - 1
    while (comma >= 0 && comma >= floor - 1 && raw.charCodeAt(comma) !== 44) comma--
    // a segment that starts left of the tail is not read
    if (comma < floor - 1) break
    const els = parseForwarded(raw.slice(comma + 1, end), 1)
    if (els === null) break
    if (els.length > 0) out.push(els[0])
    end = comma
  }
  return out.reverse()
}
