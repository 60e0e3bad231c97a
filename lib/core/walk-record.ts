// What the walk read, for the whoami page: the page shows the chain as the resolver saw it,
// never a second parse of the headers.
import { UNKNOWN } from './ip'
import { MAX_ENTRIES } from './list'
import { END, type HopSource } from './sources'

export interface WalkEntry {
  /** The entry as read: an address, `unknown`, or the malformed text. */
  address: string
  /** The header it came from. */
  from: string
}

/** The same source, but every address the walk reads from it is also added to `record`. */
function recorded (src: HopSource, record: WalkRecord): HopSource {
  return {
    get bad () { return src.bad },
    get overflow () { return src.overflow },
    name: src.name,
    next () {
      const node = src.next()
      if (node !== END) record.add(src.written(), src.name, node === null || node === UNKNOWN ? null : node.text)
      return node
    },
    field: src.field.bind(src),
    describe: src.describe.bind(src),
    written: src.written.bind(src)
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

  /** The address each entry gave the walk, null for `unknown` or a malformed entry. */
  private readonly taken: Array<string | null> = []

  add (address: string, from: string, taken: string | null): void {
    this.entries.push({ address, from })
    this.taken.push(taken)
  }

  watch (src: HopSource): HopSource {
    this.source = recorded(src, this)
    return this.source
  }

  /** Records what is left of a source, or all of one the walk never read. */
  drain (src: HopSource): void {
    const read = src === this.source ? src : recorded(src, this)
    for (let i = 0; i <= MAX_ENTRIES && read.next() !== END; i++);
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
