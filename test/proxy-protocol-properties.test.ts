// Property tests for the PROXY protocol reader. 10,000 parser runs per property when CI is set,
// 1,000 locally; the socket properties run a tenth of that (at least 100).
// Rerun a failure with FC_SEED=<seed> FC_PATH=<path> npx tap test/proxy-protocol-properties.test.ts
import { test } from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import Fastify from 'fastify'
import { parseHeader } from '../lib/proxy-protocol/parse'
import { proxyProtocolServer } from '../lib/proxy-protocol/server'
import { kProxyProtocol } from '../lib/proxy-protocol/listener'
import { bodies, exchange, tlv, u16, v2 } from './helpers/proxy-protocol'
import { params, RUNS } from './helpers/fast-check'

const SOCKET_RUNS = Math.max(100, Math.floor(RUNS / 10))

/** The canonical text of an IPv6 address, from the system's inet_ntop (an independent oracle). */
function canonical6 (text: string): string {
  return new net.SocketAddress({ address: text, family: 'ipv6' }).address
}

// glibc prints IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) in dotted form;
// RFC 5952 and this parser print hex. Those are left out of the oracle comparison.
const hextets = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .filter((h) => !(h.slice(0, 6).every((x) => x === 0) && h[6] !== 0))
const port = fc.integer({ min: 0, max: 65535 })
const v6text = hextets.map((h) => h.map((x) => x.toString(16)).join(':'))

interface Case { family: 'TCP4' | 'TCP6', src: string, dst: string, sport: number, dport: number }

const v1case: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ family: fc.constant('TCP4' as const), src: fc.ipV4(), dst: fc.ipV4(), sport: port, dport: port }),
  fc.record({ family: fc.constant('TCP6' as const), src: fc.oneof(fc.ipV6(), v6text), dst: fc.oneof(fc.ipV6(), v6text), sport: port, dport: port })
    .filter((c) => [c.src, c.dst].every((a) => { const n = canonical6(a); return !n.includes('.') || n.startsWith('::ffff:') }))
)

function expected (c: Case): { source: object, destination: object } {
  const norm = c.family === 'TCP4' ? (a: string) => a : canonical6
  return { source: { address: norm(c.src), port: c.sport }, destination: { address: norm(c.dst), port: c.dport } }
}

const v2case = fc.record({
  six: fc.boolean(),
  src4: fc.ipV4(),
  dst4: fc.ipV4(),
  src6: hextets,
  dst6: hextets,
  sport: port,
  dport: port,
  tlvs: fc.array(fc.record({ type: fc.constantFrom(0x04, 0xf0, 0xf1, 0xe5), value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 4 })
})

function v2bytes (c: fc.RecordValue<any>): { bytes: Buffer, source: object } {
  const addr = c.six
    ? [...c.src6.flatMap(u16), ...c.dst6.flatMap(u16), ...u16(c.sport), ...u16(c.dport)]
    : [...c.src4.split('.').map(Number), ...c.dst4.split('.').map(Number), ...u16(c.sport), ...u16(c.dport)]
  const src = c.six ? canonical6(c.src6.map((x: number) => x.toString(16)).join(':')) : c.src4
  const bytes = v2({ fam: c.six ? 0x21 : 0x11, addr, tlvs: c.tlvs.flatMap((x: { type: number, value: Uint8Array }) => tlv(x.type, Buffer.from(x.value))) })
  return { bytes, source: { address: src, port: c.sport } }
}

test('parser: any valid v1 header round-trips, whatever follows it', async (t) => {
  fc.assert(fc.property(v1case, fc.uint8Array({ maxLength: 30 }), (c, tail) => {
    const line = `PROXY ${c.family} ${c.src} ${c.dst} ${c.sport} ${c.dport}\r\n`
    const r = parseHeader(Buffer.concat([Buffer.from(line), tail]))
    if (r.status !== 'done') throw new Error(`${JSON.stringify(line)}: ${JSON.stringify(r)}`)
    const want = expected(c)
    return r.length === line.length && JSON.stringify([r.header.source, r.header.destination]) === JSON.stringify([want.source, want.destination])
  }), params(RUNS))
  t.pass(`${RUNS} runs`)
})

test('parser: any valid v2 header (IPv4 or IPv6, with TLVs) round-trips', async (t) => {
  fc.assert(fc.property(v2case, (c) => {
    const { bytes, source } = v2bytes(c)
    const r = parseHeader(bytes)
    return r.status === 'done' && r.length === bytes.length && JSON.stringify(r.header.source) === JSON.stringify(source) && r.header.tlvs.raw.length === c.tlvs.length
  }), params(RUNS))
  t.pass(`${RUNS} runs`)
})

/** Valid headers, cut short, with bytes flipped or inserted, or plain noise. */
const mangled = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 120 }).map((a) => Buffer.from(a)),
  fc.tuple(v1case, fc.nat(), fc.nat(255), fc.boolean()).map(([c, at, byte, insert]) => mangle(Buffer.from(`PROXY ${c.family} ${c.src} ${c.dst} ${c.sport} ${c.dport}\r\n`), at, byte, insert)),
  fc.tuple(v2case, fc.nat(), fc.nat(255), fc.boolean()).map(([c, at, byte, insert]) => mangle(v2bytes(c).bytes, at, byte, insert)),
  fc.tuple(v1case, fc.nat()).map(([c, at]) => { const b = Buffer.from(`PROXY ${c.family} ${c.src} ${c.dst} ${c.sport} ${c.dport}\r\n`); return b.subarray(0, at % b.length) })
)

function mangle (b: Buffer, at: number, byte: number, insert: boolean): Buffer {
  const i = at % b.length
  if (insert) return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)])
  const out = Buffer.from(b)
  out[i] = byte
  return out
}

test('parser: any input gets a verdict, and "more" only while the input is shorter than a header can be', async (t) => {
  fc.assert(fc.property(mangled, (bytes) => {
    const r = parseHeader(bytes)
    if (r.status === 'more') return bytes.length < 16 + 2048
    return true
  }), params(RUNS))
  t.pass(`${RUNS} runs`)
})

test('sockets: valid headers are believed; anything else is closed, never hung, never answered', async (t) => {
  const app = Fastify({ serverFactory: proxyProtocolServer({ headerTimeout: 150, logger: { warn () {} } }) })
  app.get('/', async (request) => ({ pp: (request.raw.socket as any)[kProxyProtocol]?.source ?? null }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const port = (app.server.address() as net.AddressInfo).port
  const GET = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  let served = 0
  let closed = 0
  await fc.assert(fc.asyncProperty(fc.oneof(
    v1case.map((c) => ({ bytes: Buffer.from(`PROXY ${c.family} ${c.src} ${c.dst} ${c.sport} ${c.dport}\r\n`), want: expected(c).source as object | null })),
    v2case.map((c) => { const { bytes, source } = v2bytes(c); return { bytes, want: source as object | null } }),
    mangled.map((bytes) => ({ bytes, want: null as object | null }))
  ), async ({ bytes, want }) => {
    const verdict = parseHeader(bytes)
    const r = await exchange(port, [bytes, GET], { limit: 5000 })
    if (!r.closed) return false // hung
    if (verdict.status === 'done') {
      served++
      const body = bodies(r.data)[0]
      return body !== undefined && (want === null || JSON.stringify(body.pp) === JSON.stringify(want))
    }
    closed++
    return r.data === ''
  }), params(SOCKET_RUNS))
  t.pass(`${SOCKET_RUNS} runs: ${served} served, ${closed} closed without a response`)
})
