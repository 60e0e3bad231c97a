// The two header families as one interface for the walk in resolve.ts: "the address at the next
// hop" and "field f at hop k". Each knows how its header is split and how its values are named.
import { forwardedTail, parseForwarded, type ForwardedElement } from './forwarded'
import { parseIPv4, parseNode, UNKNOWN, type Ip } from './ip'
import { MAX_ENTRIES, pick, RightCursor } from './list'
import type { Plan } from './options'
import type { ProxyView } from './view'

export type Headers = Record<string, string | string[] | undefined>
export type FieldName = 'proto' | 'host' | 'port' | 'prefix'

/** No more hops in the header. */
export const END = 0

export interface HopSource {
  /** The next hop's address leftwards (the first call gives the nearest): END, or null when malformed (see `bad`). */
  next: () => Ip | typeof UNKNOWN | null | typeof END
  /** The malformed text that made `next` return null. */
  bad: string
  /** Set when `next` returned END because the header held more than MAX_ENTRIES elements. */
  overflow: boolean
  /** The header named in rejections of addresses. */
  readonly name: string
  /** Field `f` at hop `k` from the right; with `exact` false, the leftmost when there are fewer hops. */
  field: (f: FieldName, k: number, exact: boolean) => string | undefined
  /** How a bad field value is reported: the header name and the value shown. */
  describe: (f: FieldName, raw: string) => [string, string]
  /** The entry `next` last read, as written (only whoami's record asks). */
  written: () => string
}

export function text (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

const X_HEADERS = { proto: 'x-forwarded-proto', host: 'x-forwarded-host', port: 'x-forwarded-port', prefix: 'x-forwarded-prefix' } as const
const X_NAMES = { proto: 'X-Forwarded-Proto', host: 'X-Forwarded-Host', port: 'X-Forwarded-Port', prefix: 'X-Forwarded-Prefix' } as const

/** X-Forwarded-For plus one header per field; each list is read from the right on its own. */
export class XForwardedSource implements HopSource {
  bad = ''
  overflow = false
  readonly name = 'X-Forwarded-For'
  private readonly value: string
  private readonly cursor: RightCursor | null

  constructor (private readonly headers: Headers) {
    const value = text(headers['x-forwarded-for'])
    this.value = value ?? ''
    this.cursor = value === undefined ? null : new RightCursor(value)
  }

  next (): Ip | typeof UNKNOWN | null | typeof END {
    const c = this.cursor
    if (c === null) return END
    if (!c.next()) {
      this.overflow = c.overflow
      return END
    }
    // a plain dotted quad is parsed in place: digits and dots only, what parseNode returns for the slice
    const v4 = parseIPv4(this.value, c.start, c.end)
    if (v4 !== -1) return { text: c.text(), v4, v6: null }
    const node = parseNode(c.text())
    if (node === null) this.bad = c.text()
    return node
  }

  field (f: FieldName, k: number, exact: boolean): string | undefined {
    return pick(text(this.headers[X_HEADERS[f]]), k, !exact)
  }

  describe (f: FieldName, raw: string): [string, string] {
    return [X_NAMES[f], raw]
  }

  written (): string {
    return (this.cursor as RightCursor).text()
  }
}

/** RFC 7239 Forwarded: one element per hop, carrying that hop's for, proto and host together. */
export class ForwardedSource implements HopSource {
  bad = ''
  overflow = false
  readonly name = 'Forwarded'
  private readonly els: ForwardedElement[]
  private i = 0

  /** Without a view, a malformed header is salvaged without being reported (whoami's display of a chain no walk read). */
  constructor (raw: string, v?: ProxyView, plan?: Plan) {
    let els = parseForwarded(raw, MAX_ENTRIES)
    if (els === null) {
      v?.reject(plan as Plan, 'Forwarded', raw)
      els = forwardedTail(raw)
    }
    this.els = els
  }

  next (): Ip | typeof UNKNOWN | null | typeof END {
    const len = this.els.length
    if (this.i === Math.min(len, MAX_ENTRIES)) {
      this.overflow = len > MAX_ENTRIES
      return END
    }
    const f = this.els[len - ++this.i].for
    const node = f === undefined ? UNKNOWN : parseNode(f)
    if (node === null) this.bad = 'for=' + f
    return node
  }

  field (f: FieldName, k: number): string | undefined {
    const len = this.els.length
    return len >= k && (f === 'proto' || f === 'host') ? this.els[len - k][f] : undefined
  }

  describe (f: FieldName, raw: string): [string, string] {
    return ['Forwarded', f + '=' + raw]
  }

  written (): string {
    return this.els[this.els.length - this.i].for ?? 'unknown'
  }
}
