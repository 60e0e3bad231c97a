// Misconfiguration warnings over real sockets: each logged once per process, kind and peer.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Writable } from 'node:stream'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { lostPrefix, resetWarnings } from '../lib/core/warnings'
import { mountApp } from '../lib/mount/mount-app'
import { portOf } from './helpers/ports'
import { rawGet } from './helpers/raw-http'

async function app (opts: Record<string, unknown>): Promise<{ f: FastifyInstance, port: number, logs: Array<Record<string, unknown>> }> {
  resetWarnings()
  const logs: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(JSON.parse(String(chunk))); cb() } })
  const f = Fastify({ logger: { level: 'warn', stream } })
  await f.register(proxyFix, opts)
  f.get('/', async (req) => ({ ip: req.ip }))
  await f.listen({ port: 0, host: '127.0.0.1' })
  return { f, port: portOf(f.server), logs }
}

const get = async (port: number, headers: string, localAddress = '127.0.0.1'): Promise<string> => await rawGet(port, '/', headers, { localAddress })

const codes = (logs: Array<Record<string, unknown>>): string[] => logs.filter((l) => typeof l.code === 'string').map((l) => `${String(l.code)}@${String(l.peer)}`)

test('a forgotten proxy: forwarded headers from an untrusted local peer, named with the option that trusts it', async (t) => {
  const { f, port, logs } = await app({ trust: ['10.0.0.0/8'] })
  await get(port, 'X-Forwarded-For: 203.0.113.9\r\n', '127.0.0.2')
  await get(port, 'X-Forwarded-Proto: https\r\n', '127.0.0.2')
  await get(port, 'Forwarded: for=203.0.113.9\r\n', '127.0.0.3')
  await get(port, '', '127.0.0.4')
  t.strictSame(codes(logs), ['FPF_W_FORGOTTEN_PROXY@127.0.0.2', 'FPF_W_FORGOTTEN_PROXY@127.0.0.3'], 'once per peer, and only with forwarded headers')
  t.match(logs[0].msg, /trust: \['127.0.0.2'\] \(serve --trust 127.0.0.2\)/)
  const pub = await f.inject({ url: '/', remoteAddress: '203.0.113.1', headers: { 'x-forwarded-for': '6.6.6.6' } })
  t.equal(pub.json().ip, '203.0.113.1')
  t.equal(codes(logs).length, 2, 'a public peer sending the headers is an attacker or a client, not a forgotten proxy')
  await f.inject({ url: '/', remoteAddress: '100.64.1.2', headers: { 'x-forwarded-host': 'a.example' } })
  t.strictSame(codes(logs).slice(2), ['FPF_W_FORGOTTEN_PROXY@100.64.1.2'], 'carrier-grade NAT counts as private')
  await f.close()
})

test('trust too wide: every address in the chain trusted', async (t) => {
  const { f, port, logs } = await app({ trust: ['loopback', '10.0.0.0/8'] })
  t.match(await get(port, 'X-Forwarded-For: 10.0.0.5, 10.0.0.6\r\n'), /"ip":"10.0.0.5"/)
  await get(port, 'X-Forwarded-For: 10.0.0.7\r\n')
  await get(port, 'X-Forwarded-For: 203.0.113.9, 10.0.0.6\r\n', '127.0.0.2')
  t.strictSame(codes(logs), ['FPF_W_TRUST_TOO_WIDE@127.0.0.1'])
  t.match(logs[0].msg, /includes client ranges/)
  await f.close()
})

test('both header families from a trusted peer', async (t) => {
  for (const forwarded of [false, true]) {
    const { f, port, logs } = await app({ forwarded })
    await get(port, 'X-Forwarded-For: 203.0.113.9\r\nForwarded: for=198.51.100.1\r\n')
    await get(port, 'X-Forwarded-For: 203.0.113.9\r\nForwarded: for=198.51.100.1\r\n')
    t.strictSame(codes(logs), ['FPF_W_BOTH_FAMILIES@127.0.0.1'], `forwarded: ${String(forwarded)}`)
    t.match(logs[0].msg, forwarded ? /only Forwarded is read/ : /only X-Forwarded-\* is read/)
    await f.close()
  }
})

test('warnings: false turns them off', async (t) => {
  const { f, port, logs } = await app({ trust: ['loopback', '10.0.0.0/8'], warnings: false })
  await get(port, 'X-Forwarded-For: 10.0.0.5\r\nForwarded: for=1.2.3.4\r\n')
  await get(port, 'X-Forwarded-For: 10.0.0.5\r\n', '127.0.0.2')
  const other = await app({ trust: ['10.0.0.0/8'], warnings: false })
  await get(other.port, 'X-Forwarded-For: 10.0.0.5\r\n', '127.0.0.2')
  t.strictSame(codes(logs), [])
  t.strictSame(codes(other.logs), [])
  await f.close()
  await other.f.close()
})

test('startup warnings carry codes: trust true, peers true', async (t) => {
  const a = await app({ trust: true })
  t.strictSame(codes(a.logs), ['FPF_W_TRUST_ALL@undefined'])
  await a.f.close()
  const b = await app({ trust: 1, peers: true })
  t.strictSame(codes(b.logs), ['FPF_W_UNCHECKED_COUNT@undefined'])
  await b.f.close()
})

test('tied client-IP header over a real socket: believed only from its edge', async (t) => {
  const { f, port } = await app({ trust: false, clientIpHeader: { 'CF-Connecting-IP': ['127.0.0.9'] } })
  t.match(await get(port, 'CF-Connecting-IP: 203.0.113.50\r\n', '127.0.0.9'), /"ip":"203.0.113.50"/, 'from the edge')
  t.match(await get(port, 'CF-Connecting-IP: 203.0.113.50\r\n', '127.0.0.5'), /"ip":"127.0.0.5"/, 'from anyone else: ignored')
  await f.close()
})

test('tied client-IP headers never reach a mounted app', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: false, clientIpHeader: { 'cf-connecting-ip': ['198.51.100.0/24'] } })
  await f.register(mountApp, { prefix: '/legacy', app: (req: { headers: object, ip?: string }, res: { end: (s: string) => void }) => res.end(JSON.stringify({ headers: req.headers, ip: req.ip })) })
  const res = await f.inject({ url: '/legacy/x', remoteAddress: '198.51.100.5', headers: { 'cf-connecting-ip': '203.0.113.4' } })
  t.notOk('cf-connecting-ip' in res.json().headers, 'the tied header is removed')
  t.equal(res.json().ip, '203.0.113.4', 'the app sees the client it named')
  await f.close()
})

test('the Fastify migration trap: a numeric trustProxy beside proxyFix is refused with what to use instead', async (t) => {
  const f = Fastify({ trustProxy: 1 as unknown as boolean })
  await t.rejects(f.register(proxyFix).ready(), { code: 'FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT', message: /numeric trustProxy trusts nothing since Fastify 5.12.1; "trust: N" here is a hop count believed only from "peers"/ })
})

test('a lost prefix: a mounted app redirects to a path without the forwarded prefix', async (t) => {
  for (const warnings of [true, false]) {
    resetWarnings()
    const logs: Array<Record<string, unknown>> = []
    const stream = new Writable({ write (chunk, _enc, cb) { logs.push(JSON.parse(String(chunk))); cb() } })
    const f = Fastify({ logger: { level: 'warn', stream } })
    await f.register(proxyFix, { warnings })
    await f.register(mountApp, {
      prefix: '/legacy',
      app: (req: { url: string }, res: { statusCode: number, setHeader: (n: string, v: string) => void, end: () => void }) => {
        res.statusCode = 302
        res.setHeader('location', req.url === '/good' ? '/app/legacy/login' : req.url === '/abs' ? 'https://elsewhere.example/login' : '/legacy/login')
        res.end()
      }
    })
    await f.listen({ port: 0, host: '127.0.0.1' })
    const port = portOf(f.server)
    const req = async (path: string, headers = 'X-Forwarded-Prefix: /app\r\n'): Promise<string> => await rawGet(port, path, headers)
    await req('/legacy/good')
    await req('/legacy/abs')
    await req('/legacy/x', '')
    t.strictSame(codes(logs), [], `${String(warnings)}: a redirect under the prefix, an absolute one, or no prefix: nothing`)
    await req('/legacy/bad')
    await req('/legacy/bad')
    const lost = logs.filter((l) => l.code === 'FPF_W_LOST_PREFIX')
    if (warnings) {
      t.equal(lost.length, 1, 'once per prefix')
      t.match(lost[0], { prefix: '/app', location: '/legacy/login', msg: /without the forwarded prefix \/app/ })
    } else {
      t.equal(lost.length, 0, 'warnings: false')
    }
    await f.close()
  }
})

test('lostPrefix: only a same-site path outside the prefix counts', async (t) => {
  resetWarnings()
  const lines: unknown[] = []
  const log = { warn: (obj: object) => lines.push(obj) }
  for (const location of [undefined, ['/x'], '//cdn.example/x', '/app', '/app/x', '/app?next=1', 'relative']) lostPrefix(log, '/app', location)
  t.equal(lines.length, 0)
  lostPrefix(log, '/app', '/application')
  t.equal(lines.length, 1, '/application is not under /app')
})
