// Trust rules that depend on the connection, tried over real sockets (issue: trust you can rely on).
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import net from 'node:net'
import http from 'node:http'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import proxyaddr from 'proxy-addr'
import fastifyProxyAddr from '@fastify/proxy-addr'
import express from 'express'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { makePeer, onConnection, peerOf, watchServer, kProxyProtocol } from '../lib/core/peer'

interface Seen { ip: unknown, ips: unknown, host: string, protocol: string, url: string, trusted: boolean, original: unknown }

function snapshot (req: FastifyRequest): Seen {
  return { ip: req.ip, ips: req.ips, host: req.host, protocol: req.protocol, url: req.proxy.url('/reset?t=1'), trusted: req.proxy.trusted, original: req.proxy.original.ip }
}

/** Sends raw bytes from `localAddress` and resolves with everything the server wrote back. */
function raw (port: number, bytes: string | Buffer, opts: { localAddress?: string, halfClose?: boolean, path?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = opts.path !== undefined ? net.connect(opts.path) : net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress })
    const chunks: Buffer[] = []
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.write(bytes)
    if (opts.halfClose === true) socket.end()
    else setTimeout(() => socket.end(), 200)
  })
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as net.AddressInfo).port
}

const FORGED = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n'

test('half-close: a TCP peer whose address is gone is never taken for a Unix-socket peer', async (t) => {
  for (const trust of ['unix', 'loopback-is-not-listed'] as const) {
    const app = Fastify()
    await app.register(proxyFix, { trust: trust === 'unix' ? 'unix' : ['10.0.0.0/8', 'unix'] })
    const seen: Seen[] = []
    const done = new Promise<void>((resolve) => {
      app.get('/', async (req) => {
        // the handler awaits before it first reads the corrected values, as real handlers do
        await once(req.raw.socket, 'close')
        seen.push(snapshot(req))
        resolve()
        return 'late'
      })
    })
    const port = await listen(app)
    await raw(port, `GET / HTTP/1.1\r\nHost: real.example:${port}\r\n${FORGED}\r\n`, { halfClose: true, localAddress: '127.0.0.2' })
    await done
    t.strictSame(seen[0], { ip: '127.0.0.2', ips: ['127.0.0.2'], host: `real.example:${port}`, protocol: 'http', url: `http://real.example:${port}/reset?t=1`, trusted: false, original: '127.0.0.2' },
      `${trust}: the peer captured on arrival stands, nothing forged is believed`)
    await app.close()
  }
})

test('half-close on a real Unix socket: still a Unix-socket peer', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'fpf-unix-')), 'app.sock')
  const app = Fastify()
  await app.register(proxyFix, { trust: 'unix' })
  const seen: Seen[] = []
  const done = new Promise<void>((resolve) => {
    app.get('/', async (req) => {
      await once(req.raw.socket, 'close')
      seen.push(snapshot(req))
      resolve()
      return 'late'
    })
  })
  await app.listen({ path })
  await raw(0, 'GET / HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 198.51.100.4\r\nX-Forwarded-Proto: https\r\n\r\n', { halfClose: true, path })
  await done
  t.match(seen[0], { ip: '198.51.100.4', protocol: 'https', trusted: true, original: undefined })
  await app.close()
})

test('request.ip never throws, whatever the socket reports', async (t) => {
  for (const value of [null, undefined, 42, '']) {
    const server = http.createServer()
    // a custom serverFactory whose sockets report an odd remoteAddress, set before any listener runs
    server.prependListener('connection', (socket: net.Socket) => { Object.defineProperty(socket, 'remoteAddress', { get: () => value }) })
    const app = Fastify({ serverFactory: (handler) => server.on('request', handler) })
    await app.register(proxyFix, { trust: ['unix', '127.0.0.1'] })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    const res = await raw(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`)
    t.match(res, /^HTTP\/1.1 200/, `remoteAddress ${String(value)}: 200`)
    t.match(res, /"trusted":false/, `remoteAddress ${String(value)}: not trusted, not a Unix peer`)
    t.notMatch(res, /6\.6\.6\.6|evil/, `remoteAddress ${String(value)}: nothing forged`)
    await app.close()
  }
})

test('peerOf: the captured peer, never a throw', async (t) => {
  t.strictSame(peerOf(null), makePeer(undefined))
  t.strictSame(peerOf('socket'), makePeer(undefined))
  const throwing = new Proxy({}, { get () { throw new Error('unbound') } })
  t.strictSame(peerOf(throwing), makePeer(undefined), 'an HTTP/2 socket proxy that throws')
  onConnection(throwing)
  const frozen = Object.freeze({ remoteAddress: '10.0.0.1' })
  t.equal(peerOf(frozen).address, '10.0.0.1', 'a socket that refuses properties is read on demand')
  onConnection(frozen)
  const s: Record<string | symbol, unknown> = { remoteAddress: '10.0.0.9' }
  onConnection(s)
  s.remoteAddress = undefined
  t.equal(peerOf(s).address, '10.0.0.9', 'captured on connection, kept after the address is gone')
  t.equal(peerOf(s), peerOf(s), 'once per connection')
  t.equal(peerOf({ remoteAddress: undefined }).unix, false, 'no address and no pipe: not a Unix peer')
  t.equal(peerOf({ remoteAddress: undefined, server: { address: () => '/tmp/x.sock' } }).unix, true, 'a server listening on a path')
  t.equal(peerOf({ remoteAddress: undefined, server: { address: () => ({ port: 1 }) } }).unix, false, 'a TCP server')
  t.equal(peerOf({ _parent: { _handle: { constructor: { name: 'Pipe' } } } }).unix, true, 'a TLS socket over a pipe')
  const pp = { remoteAddress: '127.0.0.1', [kProxyProtocol]: { source: { address: '203.0.113.5', port: 4000 } } }
  t.match(peerOf(pp), { address: '203.0.113.5', socketAddress: '127.0.0.1', unix: false }, 'a PROXY protocol source is the peer')
  const tls = { remoteAddress: '127.0.0.1', _parent: { [kProxyProtocol]: { source: null } } }
  t.match(peerOf(tls), { address: '127.0.0.1', socketAddress: '127.0.0.1' }, 'LOCAL/UNSPEC keep the socket address, read through a TLS socket')
  const watched = new http.Server()
  watchServer(watched)
  watchServer(watched)
  t.equal(watched.listenerCount('connection'), 2, 'watched once (plus Node\'s own listener)')
  watchServer(null)
  watchServer({})
})

test('a hop count is believed only from `peers` (GHSA-3m5p-2c4r-xxw2), in both header families', async (t) => {
  for (const forwarded of [false, true]) {
    const app = Fastify()
    await app.register(proxyFix, { trust: 1, peers: ['127.0.0.2'], forwarded })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    const headers = forwarded ? 'Forwarded: for=6.6.6.6;proto=https;host=evil.example\r\n' : FORGED
    const get = (from: string): Promise<string> => raw(port, `GET / HTTP/1.1\r\nHost: real.example\r\nConnection: close\r\n${headers}\r\n`, { localAddress: from })
    const fromPublic = await get('127.0.0.5')
    t.match(fromPublic, /"ip":"127.0.0.5"/, `${forwarded ? 'Forwarded' : 'X-Forwarded'}: a peer outside peers keeps its own address`)
    t.notMatch(fromPublic, /6\.6\.6\.6|evil|https/, 'and nothing it sent is used')
    const fromProxy = await get('127.0.0.2')
    t.match(fromProxy, /"ip":"6.6.6.6".*"protocol":"https"/, 'the listed peer has its count believed')
    await app.close()
  }
})

test('peers: true restores unchecked counting, with a startup warning', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(proxyFix, { trust: 1, peers: true })
  app.get('/', async (req) => snapshot(req))
  const port = await listen(app)
  t.match(lines.join(''), /peers is true/)
  t.match(await raw(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`, { localAddress: '127.0.0.5' }), /"ip":"6.6.6.6"/)
  await app.close()
})

test('two Host lines are a 400 wherever allowedHosts or strict is set (RFC 9112 §3.2)', async (t) => {
  const twoHosts = 'GET / HTTP/1.1\r\nHost: allowed.example\r\nhost: evil.example\r\nConnection: close\r\n\r\n'
  for (const [name, plugin, opts] of [
    ['allowedHosts', proxyFix, { allowedHosts: ['allowed.example'] }],
    ['strict', proxyFix, { strict: true }],
    ['hostRewrite allowedHosts', hostRewrite, { header: 'x-fhost', allowedHosts: 'allowed.example' }]
  ] as const) {
    const app = Fastify()
    await app.register(plugin as typeof proxyFix, opts as Record<string, unknown>)
    app.get('/', async (req) => ({ host: req.host }))
    const port = await listen(app)
    const res = await raw(port, twoHosts)
    t.match(res, /^HTTP\/1.1 400/, `${name}: 400`)
    t.match(res, /FST_ERR_PROXY_FIX_DUPLICATE_HOST.*More than one Host header line/, `${name}: the reason`)
    t.match(await raw(port, 'GET / HTTP/1.1\r\nHost: allowed.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/, `${name}: one Host line passes`)
    await app.close()
  }
  const plain = Fastify()
  await plain.register(proxyFix)
  plain.get('/', async (req) => ({ host: req.host }))
  const port = await listen(plain)
  t.match(await raw(port, twoHosts), /^HTTP\/1.1 200.*"host":"allowed.example"/s, 'without allowedHosts or strict, not counted (Node keeps the first)')
  await plain.close()
})

test('only SP and HTAB are trimmed: a trailing NBSP (0xA0) is not a valid host, even over a socket', async (t) => {
  for (const strict of [false, true]) {
    const app = Fastify()
    await app.register(proxyFix, { strict })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    const bytes = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: real.example\r\nConnection: close\r\nX-Forwarded-Host: evil.example'), Buffer.from([0xa0]), Buffer.from('\r\nX-Forwarded-Proto: https\u0009\r\n\r\n')])
    const res = await raw(port, bytes)
    if (strict) t.match(res, /^HTTP\/1.1 400.*X-Forwarded-Host/s, 'strict: 400 naming the header')
    else t.match(res, /"host":"real.example","protocol":"https"/, 'not strict: ignored; a trailing HTAB is OWS and trimmed')
    await app.close()
  }
})

test('duplicate X-Forwarded-Host and -Proto lines are joined like X-Forwarded-For, and read from the right', async (t) => {
  const app = Fastify()
  await app.register(proxyFix)
  app.get('/', async (req) => snapshot(req))
  const port = await listen(app)
  const res = await raw(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Host: Pub.Example\r\n\r\n')
  t.match(res, /"ip":"203.0.113.9".*"host":"Pub.Example","protocol":"https"/, 'the entries of the client hop, the last line; an uppercase host is kept as sent')
  await app.close()
})

test('allowedHosts refuses a trailing-dot name; uppercase matches', async (t) => {
  const app = Fastify()
  await app.register(proxyFix, { allowedHosts: ['allowed.example'] })
  app.get('/', async (req) => ({ host: req.host }))
  const port = await listen(app)
  t.match(await raw(port, 'GET / HTTP/1.1\r\nHost: allowed.example.\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 400.*FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED/s)
  t.match(await raw(port, 'GET / HTTP/1.1\r\nHost: ALLOWED.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200.*"host":"ALLOWED.example"/s)
  await app.close()
})

test('HTTP/1.0 without Host and a forwarded port: the host stays empty, never ":8080"', async (t) => {
  const app = Fastify()
  await app.register(proxyFix)
  app.get('/', async (req) => snapshot(req))
  const port = await listen(app)
  const res = await raw(port, 'GET / HTTP/1.0\r\nX-Forwarded-Port: 8080\r\nX-Forwarded-Proto: https\r\n\r\n')
  t.match(res, /"host":"","protocol":"https"/)
  t.notMatch(res, /:8080/)
  await app.close()
})

test('trust functions from proxy-addr, @fastify/proxy-addr and Express work unchanged; strict parsing runs first', async (t) => {
  const app0 = express()
  app0.set('trust proxy', 'loopback, 10.0.0.0/8')
  const seen: string[] = []
  const record = (fn: (a: string, i: number) => boolean) => (a: string, i: number) => { seen.push(a); return fn(a, i) }
  const fns: Array<[string, (a: string, i: number) => unknown]> = [
    ['proxyaddr.compile', proxyaddr.compile(['loopback', '10.0.0.0/8'])],
    ['@fastify/proxy-addr compile', fastifyProxyAddr.compile(['loopback', '10.0.0.0/8'])],
    ["Express app.get('trust proxy fn')", app0.get('trust proxy fn')]
  ]
  for (const [name, fn] of fns) {
    const app = Fastify()
    await app.register(proxyFix, { trust: record(fn as (a: string, i: number) => boolean) })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    seen.length = 0
    t.match(await raw(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.2.3\r\n\r\n', { localAddress: '127.0.0.3' }), /"ip":"203.0.113.9"/, `${name}: walks to the first untrusted hop`)
    t.strictSame(seen, ['127.0.0.3', '10.1.2.3', '203.0.113.9'], `${name}: asked with canonical addresses`)
    seen.length = 0
    t.match(await raw(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6, 0x7f.0.0.1\r\n\r\n', { localAddress: '127.0.0.3' }), /"ip":"127.0.0.3"/, `${name}: a lax address stops the walk`)
    t.strictSame(seen, ['127.0.0.3'], `${name}: and never reaches the function`)
    await app.close()
  }
})

test('an empty trust (an unset environment variable) trusts nothing, logged once', async (t) => {
  for (const [plugin, trust] of [[proxyFix, []], [proxyFix, ''], [hostRewrite, '']] as const) {
    const lines: string[] = []
    const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    const app = Fastify({ logger: { level: 'info', stream } })
    await app.register(plugin as typeof proxyFix, plugin === hostRewrite ? { trust, header: 'x-fhost' } : { trust })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    t.equal(lines.filter((l) => l.includes('trust is empty')).length, 1, `${JSON.stringify(trust)}: one log line`)
    t.match(await raw(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`), /"ip":"127.0.0.1".*"trusted":false/)
    await app.close()
  }
})
