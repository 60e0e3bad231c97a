// What the walk read, for the whoami page: the page shows the chain as the resolver saw it,
// never a second parse of the headers.
import { UNKNOWN, type Ip } from './ip'
import { MAX_ENTRIES } from './list'
import { END, type FieldName, type HopSource } from './sources'

export interface WalkEntry {
  /** The entry as read: an address, `unknown`, or the malformed text. */
  address: string
  /** The header it came from. */
  from: string
}

/** A source that records every address the walk reads from it. */
class RecordedSource implements HopSource {
  constructor (private readonly src: HopSource, private readonly record: WalkRecord) {}

  get bad (): string { return this.src.bad }
  get overflow (): boolean { return this.src.overflow }
  get name (): string { return this.src.name }

  next (): Ip | typeof UNKNOWN | null | typeof END {
    const node = this.src.next()
    if (node !== END) this.record.add(this.src.written(), this.src.name, node === null || node === UNKNOWN ? null : node.text)
    return node
  }

  field (f: FieldName, k: number, exact: boolean): string | undefined {
    return this.src.field(f, k, exact)
  }

  describe (f: FieldName, raw: string): [string, string] {
    return this.src.describe(f, raw)
  }

  written (): string {
    return this.src.written()
  }
}

/**
 * Every entry of the forwarded chain, nearest first: those the walk read, in the order it read
 * them, then the rest of the header left of where it stopped. `client` is the entry the walk
 * took as the client (1-based), 0 when the peer stands.
 */
export class WalkRecord {
  readonly entries: WalkEntry[] = []
  client = 0
  /** The source the walk read, once it has read one. */
  source: HopSource | null = null
  private drained = false

  /** The address each entry gave the walk, null for `unknown` or a malformed entry. */
  private readonly taken: Array<string | null> = []

  add (address: string, from: string, taken: string | null): void {
    this.entries.push({ address, from })
    this.taken.push(taken)
  }

  watch (src: HopSource): HopSource {
    this.source = new RecordedSource(src, this)
    return this.source
  }

  /** Records what is left of a source (or all of one the walk never read); once per record. */
  drain (src: HopSource): void {
    if (this.drained) return
    this.drained = true
    const recorded = src instanceof RecordedSource ? src : new RecordedSource(src, this)
    for (let i = 0; i <= MAX_ENTRIES && recorded.next() !== END; i++);
  }

  /** The client is the last entry read whose address the view took; `ip` is undefined when none was taken. */
  settle (ip: string | undefined): void {
    if (ip === undefined) return
    for (let i = this.taken.length; i > 0; i--) {
      if (this.taken[i - 1] === ip) {
        this.client = i
        return
      }
    }
  }
}
