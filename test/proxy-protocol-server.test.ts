import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import Fastify from 'fastify'
import { proxyProtocolServer, withProxyProtocol } from '../lib/proxy-protocol/server'
import { attach, kProxyProtocol } from '../lib/proxy-protocol/listener'
import { compileList } from '../lib/core/trust'
import { bodies, exchange, inet, prefixed, tlv, v2 } from './helpers/proxy-protocol'
import { GET, GET_CLOSE, V1, start } from './helpers/proxy-protocol-app'

// Real sockets: a Fastify app whose server comes from proxyProtocolServer(), raw clients on
// loopback aliases (127.0.0.x), and the handler reporting what it sees on its socket.

test('v1 and v2 headers: the handler sees the source; bytes after the header reach HTTP unchanged', async (t) => {
  const { port, lines } = await start(t)
  const one = await exchange(port, [V1 + GET_CLOSE], { localAddress: '127.0.0.7' })
  const [b1] = bodies(one.data)
  t.match(b1.pp, { version: 1, command: 'PROXY', family: 'TCP4', source: { address: '203.0.113.5', port: 41000 }, destination: { address: '198.51.100.1', port: 443 }, peer: { address: '127.0.0.7' } })
  t.equal(b1.ip, '203.0.113.5', 'request.ip is the header\'s source')
  t.equal(b1.original, '127.0.0.7', 'request.proxy.original.ip is the TCP peer')
  t.ok(b1.pp.peer.port > 0)
  const header = v2({ addr: inet('192.0.2.44', '10.0.0.2', 5555, 80), tlvs: [...tlv(0x01, 'http/1.1'), ...tlv(0xea, [1, ...Buffer.from('vpce-0abc')])] })
  const two = await exchange(port, [Buffer.concat([header, Buffer.from(GET_CLOSE)])], { localAddress: '127.0.0.8' })
  t.match(bodies(two.data)[0].pp, { version: 2, source: { address: '192.0.2.44', port: 5555 }, tlvs: { alpn: 'http/1.1', awsVpceId: 'vpce-0abc' }, peer: { address: '127.0.0.8' } })
  t.strictSame(lines, [])
})

test('a trusted proxy behind the balancer: X-Forwarded-For is walked from the header\'s source', async (t) => {
  const { port } = await start(t)
  const xff = 'GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.9\r\nConnection: close\r\n\r\n'
  // the header names a loopback (trusted) proxy: its X-Forwarded-For is believed
  const trusted = await exchange(port, ['PROXY TCP4 127.0.0.50 127.0.0.1 40000 80\r\n' + xff], { localAddress: '127.0.0.7' })
  t.match(bodies(trusted.data)[0], { ip: '198.51.100.9', original: '127.0.0.7' })
  // the header names a client: what it sends in X-Forwarded-For is not
  const client = await exchange(port, [V1 + xff], { localAddress: '127.0.0.7' })
  t.match(bodies(client.data)[0], { ip: '203.0.113.5', original: '127.0.0.7' })
})

test('the header split across segments, byte by byte, and with the request in its last segment', async (t) => {
  const { port } = await start(t)
  const steps = [...V1.slice(0, -3)].flatMap((c) => [c, { wait: 2 }])
  const r = await exchange(port, [...steps, V1.slice(-3) + 'GET / HT', { wait: 20 }, 'TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { localAddress: '127.0.0.9' })
  t.match(bodies(r.data)[0].pp, { source: { address: '203.0.113.5' } })
  const header = v2({ fam: 0x21, addr: [...Array(15).fill(0), 1, ...Array(15).fill(0), 2, 0, 80, 0, 81] })
  const parts: Array<Buffer | { wait: number }> = []
  for (let i = 0; i < header.length; i += 5) parts.push(header.subarray(i, i + 5), { wait: 3 })
  const r2 = await exchange(port, [...parts, GET_CLOSE], { localAddress: '127.0.0.9' })
  t.match(bodies(r2.data)[0].pp, { family: 'TCP6', source: { address: '::1', port: 80 } })
})

test('keep-alive: the header is parsed once, and pipelined requests all see it', async (t) => {
  const { port } = await start(t)
  const r = await exchange(port, [V1 + GET + GET, { wait: 50 }, GET_CLOSE], { localAddress: '127.0.0.10' })
  const got = bodies(r.data)
  t.equal(got.length, 3)
  t.equal(new Set(got.map((b) => b.id)).size, 1, 'one info object for the connection')
  t.ok(got.every((b) => b.pp.source.address === '203.0.113.5'))
})

test('a peer in `from` without a header', async (t) => {
  t.test('required: closed and logged with the first bytes', async (t) => {
    const { port, lines } = await start(t)
    const r = await exchange(port, [GET], { localAddress: '127.0.0.11' })
    t.strictSame(r, { data: '', closed: true })
    t.match(lines, [/127\.0\.0\.11:\d+: no PROXY protocol header \(the connection starts with 47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a \.\.\.\)/])
  })
  t.test('not required: served as the socket peer', async (t) => {
    const { port } = await start(t, { required: false })
    const r = await exchange(port, [GET_CLOSE], { localAddress: '127.0.0.12' })
    t.strictSame(bodies(r.data)[0], { ip: '127.0.0.12', original: '127.0.0.12', id: null, pp: null })
    const r2 = await exchange(port, [V1 + GET_CLOSE], { localAddress: '127.0.0.12' })
    t.match(bodies(r2.data)[0].pp, { source: { address: '203.0.113.5' } }, 'a header is still read when sent')
  })
})

test('quiet closes: a TCP check that sends nothing, an idle connection past the timeout', async (t) => {
  const { port, lines } = await start(t, { headerTimeout: 200 })
  await new Promise<void>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.end())
    s.on('close', () => resolve())
  })
  const idle = await exchange(port, [], { localAddress: '127.0.0.14' })
  t.strictSame(idle, { data: '', closed: true })
  t.strictSame(lines, [])
})

test('LOCAL and UNKNOWN keep the socket\'s address; the header is still on the socket', async (t) => {
  const { port } = await start(t)
  const local = await exchange(port, [Buffer.concat([v2({ verCmd: 0x20, fam: 0x00 }), Buffer.from(GET_CLOSE)])], { localAddress: '127.0.0.15' })
  t.match(bodies(local.data)[0], { ip: '127.0.0.15', original: '127.0.0.15', pp: { command: 'LOCAL', source: null, peer: { address: '127.0.0.15' } } })
  const unknown = await exchange(port, ['PROXY UNKNOWN\r\n' + GET_CLOSE], { localAddress: '127.0.0.15' })
  t.match(bodies(unknown.data)[0], { ip: '127.0.0.15', pp: { family: 'UNKNOWN', source: null } })
  const unspec = await exchange(port, [Buffer.concat([v2({ fam: 0x00 }), Buffer.from(GET_CLOSE)])], { localAddress: '127.0.0.15' })
  t.match(bodies(unspec.data)[0], { pp: { command: 'PROXY', family: 'UNKNOWN', source: null } })
})

test('version: v1 only refuses v2, v2 only refuses v1', async (t) => {
  const one = await start(t, { version: 'v1' })
  const r = await exchange(one.port, [Buffer.concat([v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2) }), Buffer.from(GET)])])
  t.strictSame(r, { data: '', closed: true })
  t.match(one.lines, [/no PROXY protocol header \(the connection starts with 0d 0a 0d 0a/])
  const two = await start(t, { version: 'v2' })
  t.strictSame(await exchange(two.port, [V1 + GET]), { data: '', closed: true })
  t.match(two.lines, [/starts with 50 52 4f 58 59/])
})

test('IPv6 and IPv4-mapped peers', async (t) => {
  const six = await start(t, { from: '::1' }, {}, { host: '::1', port: 0 })
  const r = await exchange(six.port, [V1 + GET_CLOSE], { host: '::1' })
  t.match(bodies(r.data)[0].pp, { source: { address: '203.0.113.5' }, peer: { address: '::1' } })
  t.strictSame(await exchange(six.port, [GET], { host: '::1' }), { data: '', closed: true })
  t.match(six.lines, [/from \[::1\]:\d+: no PROXY/])
  const dual = await start(t, { from: '127.0.0.0/8' }, {}, { host: '::', port: 0 })
  const m = await exchange(dual.port, [V1 + GET_CLOSE], { host: '127.0.0.1', localAddress: '127.0.0.16' })
  t.match(bodies(m.data)[0].pp, { source: { address: '203.0.113.5' }, peer: { address: '::ffff:127.0.0.16' } }, 'a mapped peer matches an IPv4 range')
})

test('a Unix-domain socket: `unix` in from', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-pp-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const yes = await start(t, { from: 'unix' }, {}, { path: path.join(dir, 'a.sock') })
  const r = await exchange(0, [V1 + GET_CLOSE], { path: path.join(dir, 'a.sock') })
  t.match(bodies(r.data)[0].pp, { source: { address: '203.0.113.5' }, peer: { address: null, port: null } })
  const no = await start(t, { from: 'loopback' }, {}, { path: path.join(dir, 'b.sock') })
  t.strictSame(await exchange(0, [V1 + GET], { path: path.join(dir, 'b.sock') }), { data: '', closed: true })
  t.match(no.lines, [/from unix socket: the peer is not in "from"/])
  t.equal(yes.lines.length, 0)
})

let cert: { key: Buffer, cert: Buffer } | null = null
function tlsFiles (): { key: Buffer, cert: Buffer } {
  if (cert !== null) return cert
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-pp-tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=localhost', '-days', '1'], { stdio: 'ignore' })
  cert = { key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }
  fs.rmSync(dir, { recursive: true, force: true })
  return cert
}

function tlsGet (port: number, head: string | Buffer, localAddress: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host: '127.0.0.1', localAddress })
    const s = tls.connect({ socket: prefixed(raw, head), rejectUnauthorized: false })
    let data = ''
    s.setEncoding('latin1')
    s.on('data', (c) => { data += c })
    s.on('error', reject)
    s.on('close', () => resolve({ body: bodies(data)[0], encrypted: true }))
    s.write(GET_CLOSE)
  })
}

test('HTTPS: the PROXY header comes before TLS; the TLSSocket carries the info', { skip: whichOpenssl() }, async (t) => {
  const { port } = await start(t, { https: tlsFiles() })
  const r = await tlsGet(port, V1, '127.0.0.17')
  t.match(r.body, { ip: '203.0.113.5', original: '127.0.0.17', pp: { source: { address: '203.0.113.5' }, peer: { address: '127.0.0.17' } } })
  // Fastify's own https option is used when the factory has none
  const viaFastify = await start(t, {}, { https: tlsFiles() })
  t.match((await tlsGet(viaFastify.port, V1, '127.0.0.17')).body, { pp: { source: { address: '203.0.113.5' } } })
})

function whichOpenssl (): string | false {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return false
  } catch {
    return 'openssl not installed: apt-get install openssl'
  }
}

function h2Get (url: string, port: number, head: string | Buffer, secure: boolean): Promise<any> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.18' })
    const stream = prefixed(raw, head)
    const session = http2.connect(url, {
      createConnection: () => (secure ? tls.connect({ socket: stream, rejectUnauthorized: false, ALPNProtocols: ['h2'] }) : stream) as any
    })
    session.on('error', reject)
    const req = session.request({ ':path': '/' })
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (c) => { data += c })
    req.on('error', reject)
    req.on('end', () => {
      session.close()
      resolve(JSON.parse(data))
    })
  })
}

test('HTTP/2: cleartext (h2c) and over TLS, with the header and the first frames in one segment', async (t) => {
  const h2c = await start(t, { http2: true }, { http2: true, http2SessionTimeout: 5000 })
  t.match(await h2Get(`http://127.0.0.1:${h2c.port}`, h2c.port, V1, false), { pp: { source: { address: '203.0.113.5' }, peer: { address: '127.0.0.18' } } })
  if (whichOpenssl() !== false) return
  const h2 = await start(t, { http2: true, https: { ...tlsFiles(), allowHTTP1: true } }, { http2: true })
  const header = v2({ addr: inet('198.51.100.77', '10.0.0.1', 3000, 443), tlvs: tlv(0x01, 'h2') })
  t.match(await h2Get(`https://127.0.0.1:${h2.port}`, h2.port, header, true), { pp: { version: 2, source: { address: '198.51.100.77' }, tlvs: { alpn: 'h2' } } })
  t.match((await tlsGet(h2.port, V1, '127.0.0.19')).body, { pp: { source: { address: '203.0.113.5' } } }, 'HTTP/1.1 on the same listener (allowHTTP1)')
})

test('Fastify\'s timeouts reach the server it builds; close() ends connections still in their header', async (t) => {
  const { app, port } = await start(t, { headerTimeout: 60000 }, { keepAliveTimeout: 1234, requestTimeout: 5678, maxRequestsPerSocket: 9, connectionTimeout: 4321 })
  const server = app.server as http.Server
  t.same([server.keepAliveTimeout, server.requestTimeout, server.maxRequestsPerSocket, server.timeout], [1234, 5678, 9, 4321])
  const pending = exchange(port, ['PROXY TCP4 '])
  await new Promise((resolve) => setTimeout(resolve, 100))
  await app.close()
  t.strictSame(await pending, { data: '', closed: true }, 'closed by app.close(), long before the header timeout')
})

test('a socket already gone when the connection event runs is dropped', async (t) => {
  const { app } = await start(t)
  const socket = new net.Socket()
  app.server.emit('connection', socket)
  t.ok(socket.destroyed)
})

test('the default log line goes to stderr; factory.logger can be set after Fastify exists', async (t) => {
  const factory = proxyProtocolServer()
  const app = Fastify({ serverFactory: factory })
  app.get('/', async () => 'ok')
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const port = (app.server.address() as net.AddressInfo).port
  const written: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string) => { written.push(chunk); return true }) as typeof process.stderr.write
  try {
    await exchange(port, ['PROXY TCP9 x\r\n'], { localAddress: '127.0.0.20' })
  } finally {
    process.stderr.write = write
  }
  t.match(written, [/^fastify-proxy-fix: PROXY protocol: closed the connection from 127\.0\.0\.20:\d+: v1: unknown family "TCP9"\n$/])
  const lines: string[] = []
  factory.logger = { warn: (obj: any, msg) => { lines.push(`${obj.reason} | ${msg}`) } }
  await exchange(port, ['PROXY TCP9 x\r\n'], { localAddress: '127.0.0.20' })
  t.match(lines, [/^v1: unknown family "TCP9" \| PROXY protocol: closed the connection from 127\.0\.0\.20:\d+: v1: unknown family "TCP9"$/])
})

test('withProxyProtocol() puts the reader in front of a server made elsewhere', async (t) => {
  const server = http.createServer((req, res) => {
    res.end(JSON.stringify({ pp: (req.socket as any)[kProxyProtocol]?.source ?? null }))
  })
  const lines: string[] = []
  withProxyProtocol(server, { from: '127.0.0.21', logger: { warn: (_o, msg) => { lines.push(msg) } } })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  const r = await exchange(port, [V1 + GET_CLOSE], { localAddress: '127.0.0.21' })
  t.match(r.data, /\{"pp":\{"address":"203\.0\.113\.5","port":41000\}\}/)
  await exchange(port, [GET], { localAddress: '127.0.0.22' })
  t.match(lines, [/not in "from"/])
  const plain = http.createServer()
  withProxyProtocol(plain)
  const written: string[] = []
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
  t.teardown(() => plain.close())
  const write = process.stderr.write
  process.stderr.write = ((chunk: string) => { written.push(chunk); return true }) as typeof process.stderr.write
  try {
    await exchange((plain.address() as net.AddressInfo).port, [GET])
  } finally {
    process.stderr.write = write
  }
  t.match(written, [/no PROXY protocol header/])
  t.throws(() => withProxyProtocol(http.createServer(), { https: true } as any), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"https": true is not an option of withProxyProtocol/ })
  t.throws(() => withProxyProtocol(http.createServer(), { http2: false } as any), { message: /"http2": false is not an option of withProxyProtocol/ })
  t.throws(() => withProxyProtocol(server), { message: 'a PROXY protocol reader is already attached to this server' }, 'one reader per server')
})

test('bad options fail at creation with FST_ERR_PROXY_FIX_INVALID_OPTION naming the option and value', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ from: 'nowhere' }, /Invalid option "from": "nowhere" is not an IP address, CIDR range or known name/],
    [{ from: '10.0.0.0/33' }, /"from": "10.0.0.0\/33" has an invalid prefix length/],
    [{ from: 42 }, /"from": 42 must be a list of IPs/],
    [{ from: true }, /"from": true must be a list/],
    [{ from: [] }, /"from": \[\] names no address/],
    [{ from: ['10.0.0.1', 'bad one'] }, /"from": "bad one" is not an IP address/],
    [{ version: 'v3' }, /"version": "v3" must be 'v1', 'v2' or 'auto'/],
    [{ version: 2 }, /"version": 2 must be/],
    [{ required: 'yes' }, /"required": "yes" must be a boolean/],
    [{ headerTimeout: 0 }, /"headerTimeout": 0 must be a whole number/],
    [{ headerTimeout: 1.5 }, /"headerTimeout": 1.5/],
    [{ headerTimeout: 2 ** 31 }, /"headerTimeout": 2147483648/],
    [{ logger: console.log }, /"logger": a function must have a warn/],
    [{ logger: {} }, /"logger": \{\} must have a warn/],
    [{ http2: 'yes' }, /"http2": "yes" must be a boolean/],
    [{ https: 'cert.pem' }, /"https": "cert.pem" must be TLS server options/],
    [{ https: [] }, /"https": \[\] must be TLS/],
    [{ form: 'loopback' }, /"form": "loopback" is not an option of proxyProtocolServer/],
    [null, /"proxyProtocol": null must be an object/],
    ['loopback', /"proxyProtocol": "loopback" must be an object/]
  ]
  for (const [options, want] of bad) {
    t.throws(() => proxyProtocolServer(options as any), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: want }, JSON.stringify(options))
  }
  t.doesNotThrow(() => proxyProtocolServer({ from: 'loopback, 10.0.0.0/8, unix', version: 'v1', required: false, headerTimeout: 1, logger: null, http2: false, https: null }))
  t.doesNotThrow(() => proxyProtocolServer(undefined))
  const handler = (): void => {}
  t.ok(proxyProtocolServer({ https: true })(handler) instanceof https.Server, 'https: true is TLS with Node\'s defaults')
  t.ok(proxyProtocolServer()(handler) instanceof http.Server)
})

test('refusals of outsiders: one line per quiet window, with the count of those not logged', async (t) => {
  const lines: string[] = []
  const server = attach(http.createServer(), { from: compileList('127.0.0.2'), accept: 3, required: true, headerTimeout: 1000, quietMs: 150, log: (peer, reason) => { lines.push(reason) } })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  for (let i = 0; i < 3; i++) await exchange(port, [GET])
  await new Promise((resolve) => setTimeout(resolve, 200))
  await exchange(port, [GET])
  t.strictSame(lines, ['the peer is not in "from", and a PROXY protocol header is required', 'the peer is not in "from", and a PROXY protocol header is required (and 2 more since the last such line)'])
})

test('a short first segment that is no header is shown whole', async (t) => {
  const { port, lines } = await start(t)
  await exchange(port, ['HELLO'])
  t.match(lines, [/starts with 48 45 4c 4c 4f\)$/])
})

test('the package exports proxyProtocolServer, withProxyProtocol and kProxyProtocol (CommonJS and ESM)', async (t) => {
  const dist = path.join(__dirname, '..', 'dist', 'index.js')
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { proxyProtocolServer, withProxyProtocol, kProxyProtocol } from ${JSON.stringify('file://' + dist)}
    import cjs from ${JSON.stringify('file://' + dist)}
    console.log(JSON.stringify([typeof proxyProtocolServer, typeof withProxyProtocol, kProxyProtocol === Symbol.for('fastify-proxy-fix.proxyProtocol'), cjs.proxyProtocolServer === proxyProtocolServer]))
  `]).toString()
  t.strictSame(JSON.parse(out), ['function', 'function', true, true])
})
