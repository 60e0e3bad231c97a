// whoami draws the chain from the resolver's own record of its walk (lib/core/walk-record.ts):
// every family, the client-IP headers and a hop count, as the walk read them.
import { test } from 'tap'
import { compileOptions } from '../lib/core/options'
import { resolve, WalkRecord } from '../lib/core/resolve'
import { makePeer } from '../lib/core/peer'

type Headers = Record<string, string | string[] | undefined>

function walk (options: Record<string, unknown> | undefined, headers: Headers, peer: string | ReturnType<typeof makePeer> = '127.0.0.1'): [string[], number, string | undefined] {
  const plan = options === undefined ? undefined : compileOptions(options, 'proxyFix')
  const record = new WalkRecord()
  const view = resolve(peer, false, headers, plan, undefined, record)
  return [record.entries.map((e) => `${e.from}:${e.address}`), record.client, view.ip]
}

test('X-Forwarded-For: the entries read, then the rest, the client among them', async (t) => {
  t.strictSame(walk({ trust: 'loopback' }, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 127.0.0.2' }),
    [['X-Forwarded-For:127.0.0.2', 'X-Forwarded-For:203.0.113.9', 'X-Forwarded-For:6.6.6.6'], 2, '203.0.113.9'])
  t.strictSame(walk({ trust: 'loopback' }, {}), [[], 0, '127.0.0.1'], 'no header: the peer stands')
  t.strictSame(walk({ trust: 'loopback' }, { 'x-forwarded-for': 'unknown, 127.0.0.3' }),
    [['X-Forwarded-For:127.0.0.3', 'X-Forwarded-For:unknown'], 1, '127.0.0.3'], 'unknown ends the walk; the last address taken is the client')
  t.strictSame(walk({ trust: 'loopback' }, { 'x-forwarded-for': '1.1.1.1, 127.0.0.3' }, '203.0.113.1'),
    [['X-Forwarded-For:127.0.0.3', 'X-Forwarded-For:1.1.1.1'], 0, '203.0.113.1'], 'an untrusted peer: drawn, not read')
  t.strictSame(walk(undefined, { 'x-forwarded-for': '1.1.1.1' }), [['X-Forwarded-For:1.1.1.1'], 0, '127.0.0.1'], 'no proxyFix at all')
  t.strictSame(walk({ trust: 'loopback' }, { 'x-forwarded-for': '1.1.1.1, 127.0.0.1' }),
    [['X-Forwarded-For:127.0.0.1', 'X-Forwarded-For:1.1.1.1'], 2, '1.1.1.1'], 'a hop equal to the peer is still a hop')
  const long = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`).join(', ')
  const [entries] = walk({ trust: 'private' }, { 'x-forwarded-for': long })
  t.equal(entries.length, 32, 'an overlong list is drawn as far as the walk reads it')
})

test('a hop count: the nth entry from the right is the client', async (t) => {
  t.strictSame(walk({ trust: 2 }, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 198.51.100.1' }),
    [['X-Forwarded-For:198.51.100.1', 'X-Forwarded-For:203.0.113.9', 'X-Forwarded-For:6.6.6.6'], 2, '203.0.113.9'])
})

test('Forwarded: entries as written, a malformed header from its salvaged tail', async (t) => {
  t.strictSame(walk({ trust: 'loopback,203.0.113.1', forwarded: true }, { forwarded: 'for=6.6.6.6, for="[2001:db8::7]:443"' }, '203.0.113.1'),
    [['Forwarded:[2001:db8::7]:443', 'Forwarded:6.6.6.6'], 1, '2001:db8::7'])
  t.strictSame(walk({ trust: 'loopback', forwarded: true }, { forwarded: 'for=6.6.6.6, by=x' }),
    [['Forwarded:unknown', 'Forwarded:6.6.6.6'], 0, '127.0.0.1'], 'an element without for= is unknown, and ends the walk')
  t.strictSame(walk({ trust: 'loopback', forwarded: true }, { forwarded: 'for=1.1.1.1' }, '203.0.113.1'),
    [['Forwarded:1.1.1.1'], 0, '203.0.113.1'], 'untrusted: drawn from Forwarded without a walk')
  t.strictSame(walk({ trust: 'loopback', forwarded: true }, { forwarded: 'for="unterminated, for=198.51.100.2' }, '203.0.113.1')[0], ['Forwarded:198.51.100.2'],
    'untrusted and malformed: the tail, with no error on the request')
  t.strictSame(walk({ trust: 'loopback', forwarded: true }, {}, '203.0.113.1'), [[], 0, '203.0.113.1'])
  t.strictSame(walk({ trust: 'loopback', forwarded: true }, { forwarded: 'for=bad-address' }),
    [['Forwarded:bad-address'], 0, '127.0.0.1'], 'a malformed for= is drawn as written')
})

test('client-IP headers: the header the walk believed', async (t) => {
  t.strictSame(walk({ trust: 'loopback', clientIpHeader: 'x-real-ip' }, { 'x-real-ip': '203.0.113.7' }),
    [['x-real-ip:203.0.113.7'], 1, '203.0.113.7'])
  t.strictSame(walk({ trust: 'loopback', clientIpHeader: 'x-real-ip' }, { 'x-real-ip': 'nonsense' }),
    [['x-real-ip:nonsense'], 0, '127.0.0.1'])
  t.strictSame(walk({ trust: 'loopback', clientIpHeader: 'cloudfront-viewer-address' }, { 'cloudfront-viewer-address': '[2001:db8::1]:4431' }),
    [['cloudfront-viewer-address:[2001:db8::1]:4431'], 1, '2001:db8::1'])
  t.strictSame(walk({ trust: 'loopback', clientIpHeader: { 'x-real-ip': ['127.0.0.2'] } }, { 'x-real-ip': '203.0.113.7', 'x-forwarded-for': '9.9.9.9, 127.0.0.2' }),
    [['X-Forwarded-For:127.0.0.2', 'x-real-ip:203.0.113.7', 'X-Forwarded-For:9.9.9.9'], 2, '203.0.113.7'], 'an edge header where the walk met its edge')
})

test('the whoami page over a socket: a client-IP header is a hop of the chain', async (t) => {
  const Fastify = (await import('fastify')).default
  const { proxyFix } = await import('../lib/fastify/proxy-fix')
  const { whoami } = await import('../lib/server/whoami')
  const app = Fastify()
  await app.register(proxyFix, { trust: 'loopback', clientIpHeader: 'x-real-ip' })
  await app.register(whoami, { prefix: '/_whoami' })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const res = await fetch(`${address}/_whoami`, { headers: { 'x-real-ip': '203.0.113.7', 'x-forwarded-for': '6.6.6.6' } })
  const body = await res.json() as { hops: Array<{ address: string, from: string, role: string }>, why: string[] }
  t.strictSame(body.hops.map((h) => `${h.from}:${h.address}:${h.role}`), ['socket:127.0.0.1:trusted proxy', 'x-real-ip:203.0.113.7:client'])
  t.match(body.why.join(' '), /The client-IP header x-real-ip, read through trusted hops, names the client: 203\.0\.113\.7\./)
  t.notMatch(body.why.join(' '), /walked from the right/)
})

test('a bad field value is reported as the header says it, with or without a record', async (t) => {
  const plan = compileOptions({ trust: 'loopback', strict: true }, 'proxyFix')
  const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'gopher' }
  const record = new WalkRecord()
  const recorded = resolve('127.0.0.1', false, headers, plan, undefined, record)
  const plain = resolve('127.0.0.1', false, headers, plan, undefined)
  t.match(recorded.error?.message, /X-Forwarded-Proto.*gopher/)
  t.equal(recorded.error?.message, plain.error?.message, 'the record changes nothing the request sees')
  t.equal(recorded.ip, plain.ip)
})

test('a hop count whose nth entry is unknown: the peer stands, the entries are drawn', async (t) => {
  t.strictSame(walk({ trust: 2 }, { 'x-forwarded-for': 'unknown, 198.51.100.1' }),
    [['X-Forwarded-For:198.51.100.1', 'X-Forwarded-For:unknown'], 0, '127.0.0.1'])
})
