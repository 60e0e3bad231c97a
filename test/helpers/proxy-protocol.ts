// The PROXY protocol tests' tools: headers built byte by byte from HAProxy's proxy-protocol.txt,
// and raw TCP clients that write exactly the bytes given, from a chosen local address, and report
// everything the server sent back and whether it closed.
import net from 'node:net'
import { Duplex } from 'node:stream'

export const V2_SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]

export function u16 (n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff]
}

export function tlv (type: number, value: number[] | Buffer | string): number[] {
  const bytes = typeof value === 'string' ? [...Buffer.from(value, 'utf8')] : [...value]
  return [type, ...u16(bytes.length), ...bytes]
}

export function ipv4 (text: string): number[] {
  return text.split('.').map(Number)
}

/** Eight hextets from a full (uncompressed) IPv6 text. */
export function ipv6 (hextets: number[]): number[] {
  return hextets.flatMap((h) => u16(h))
}

export interface V2 {
  verCmd?: number
  fam?: number
  addr?: number[]
  tlvs?: number[]
  length?: number
}

/** A v2 header: signature, version/command, family/transport, length, addresses, TLVs. */
export function v2 ({ verCmd = 0x21, fam = 0x11, addr = [], tlvs = [], length }: V2 = {}): Buffer {
  const body = [...addr, ...tlvs]
  return Buffer.from([...V2_SIG, verCmd, fam, ...u16(length ?? body.length), ...body])
}

export function inet (src: string, dst: string, sport: number, dport: number): number[] {
  return [...ipv4(src), ...ipv4(dst), ...u16(sport), ...u16(dport)]
}

export type Step = string | Buffer | { wait: number }

export interface Exchange {
  /** Everything the server sent, as latin1 text. */
  data: string
  /** The server closed (or reset) the connection. */
  closed: boolean
}

/** Connects (from `localAddress`), plays the steps, and collects the reply until the server closes or `limit` ms pass. */
export function exchange (port: number, steps: Step[], { host = '127.0.0.1', localAddress, path, limit = 8000 }: { host?: string, localAddress?: string, path?: string, limit?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = path !== undefined ? net.connect(path) : net.connect({ port, host, localAddress })
    let data = ''
    let finished = false
    const finish = (closed: boolean): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ data, closed })
    }
    const timer = setTimeout(() => finish(false), limit)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('connect', async () => {
      for (const step of steps) {
        if (finished || socket.destroyed) return
        if (typeof step === 'object' && !Buffer.isBuffer(step)) await new Promise((resolve) => setTimeout(resolve, step.wait))
        else socket.write(step)
      }
    })
  })
}

/** The JSON bodies of the HTTP/1.1 responses in `data`. */
export function bodies (data: string): any[] {
  return [...data.matchAll(/\r\n\r\n(\{.*?\})(?=HTTP\/1\.1|$)/gs)].map((m) => JSON.parse(m[1]))
}

/**
 * A Duplex over a TCP socket that writes `head` in front of the first bytes its user writes, so
 * a TLS or HTTP/2 client's first flight goes out together with the PROXY header.
 */
export function prefixed (raw: net.Socket, head: Buffer | string): Duplex {
  let first = true
  const d = new Duplex({
    write (chunk: Buffer, _enc, cb) {
      if (first) {
        first = false
        chunk = Buffer.concat([Buffer.from(head), chunk])
      }
      raw.write(chunk, cb)
    },
    read () { raw.resume() },
    final (cb) {
      raw.end()
      cb()
    },
    destroy (err, cb) {
      raw.destroy()
      cb(err)
    }
  })
  raw.on('data', (c) => { if (!d.push(c)) raw.pause() })
  raw.on('end', () => d.push(null))
  raw.on('error', (err) => d.destroy(err))
  raw.on('close', () => d.destroy())
  return d
}
