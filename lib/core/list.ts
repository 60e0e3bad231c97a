// Comma-separated header lists (RFC 9110 §5.6.1), read from the right: trusted proxies append on
// the right, so the walk usually stops after one or two entries, whatever the header's length.

/** Most elements read from one header, empty ones included. More are ignored (and rejected when strict). */
export const MAX_ENTRIES = 32

/**
 * Longest list element trimmed, OWS included. A longer one is returned untrimmed and fails to
 * parse: no forwarded value is that long, and trimming is the only scan of an element's body.
 */
export const MAX_ELEMENT = 2048

/** Optional whitespace (RFC 9110 §5.6.3): SP and HTAB only, never CR, LF, NBSP or other Unicode spaces. */
export function isOws (c: number): boolean {
  return c === 32 || c === 9
}

/** `value` without leading and trailing SP/HTAB (unlike String#trim, which also strips CR, LF and U+00A0). */
export function trimOws (value: string): string {
  if (value.length > MAX_ELEMENT) return value
  let s = 0
  let e = value.length
  while (s < e && isOws(value.charCodeAt(s))) s++
  while (e > s && isOws(value.charCodeAt(e - 1))) e--
  return s === 0 && e === value.length ? value : value.slice(s, e)
}

/**
 * Steps through a comma-separated list from the right, nearest hop first, skipping empty
 * entries and trimming OWS, without copying: `start` and `end` bound the current entry. Empty
 * elements count toward MAX_ENTRIES, so `, , ,` padding costs no more than real entries;
 * `overflow` is set once more than MAX_ENTRIES elements were seen.
 */
export class RightCursor {
  start = 0
  end = 0
  overflow = false
  private at: number
  private seen = 0

  constructor (readonly value: string) {
    this.at = value.length
  }

  /** Moves to the next non-empty entry leftwards; false when there is none (or the cap is reached). */
  next (): boolean {
    const value = this.value
    while (this.at > 0) {
      if (this.seen === MAX_ENTRIES) {
        this.overflow = true
        return false
      }
      this.seen++
      const comma = value.lastIndexOf(',', this.at - 1)
      let s = comma + 1
      let e = this.at
      this.at = comma === -1 ? 0 : comma
      if (e - s > MAX_ELEMENT) {
        this.start = s
        this.end = e
        return true
      }
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

/** Werkzeug's pick: the nth entry from the right, or with `clamp` the leftmost when there are fewer. */
export function pick (value: string | undefined, n: number, clamp: boolean): string | undefined {
  if (value === undefined) return undefined
  if (value.indexOf(',') === -1) {
    // one value, the usual case: no cursor
    const one = trimOws(value)
    return one === '' || (n > 1 && !clamp) ? undefined : one
  }
  const c = new RightCursor(value)
  let count = 0
  let lastStart = 0
  let lastEnd = 0
  while (c.next()) {
    if (++count === n) return c.text()
    lastStart = c.start
    lastEnd = c.end
  }
  return clamp && count > 0 ? value.slice(lastStart, lastEnd) : undefined
}
