// Bypass class: a forged PROXY protocol header (from a peer outside `from`, or malformed, oversized,
// slow or truncated) taken for the balancer's, so a client picks its own address.
import { test } from 'tap'
import Fastify from 'fastify'
import net from 'node:net'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { proxyProtocolServer } from '../../lib/proxy-protocol/server'
import { portOf } from '../helpers/ports'
import { bodies, exchange, inet, v2 } from '../helpers/proxy-protocol'
import { GET, GET_CLOSE, V1, start } from '../helpers/proxy-protocol-app'
import { raw as send } from '../helpers/raw-http'

test('a forged header from a peer outside `from` is never believed', async (t) => {
  t.test('required: closed without a response; one line, then quiet', async (t) => {
    const { port, lines } = await start(t, { from: '127.0.0.2' })
    const r = await exchange(port, [V1 + GET], { localAddress: '127.0.0.66' })
    t.strictSame(r, { data: '', closed: true })
    const r2 = await exchange(port, [GET], { localAddress: '127.0.0.66' })
    t.strictSame(r2, { data: '', closed: true })
    t.equal(lines.length, 1, 'the second refusal inside the quiet window is not logged')
    t.match(lines[0], /closed the connection from 127\.0\.0\.66:\d+: the peer is not in "from"/)
  })
  t.test('not required: the bytes go to HTTP unparsed (a 400), a plain request is served as the socket', async (t) => {
    const { port, lines } = await start(t, { from: ['127.0.0.2'], required: false })
    const r = await exchange(port, [V1 + GET], { localAddress: '127.0.0.66' })
    t.match(r.data, /^HTTP\/1\.1 400 Bad Request/)
    t.notMatch(r.data, /203\.0\.113\.5/)
    const plain = await exchange(port, [GET_CLOSE], { localAddress: '127.0.0.66' })
    t.strictSame(bodies(plain.data)[0], { ip: '127.0.0.66', original: '127.0.0.66', id: null, pp: null })
    t.strictSame(lines, [])
  })
})

test('malformed, oversized, slow and truncated headers: closed, one line with the reason', async (t) => {
  const { port, lines } = await start(t, { headerTimeout: 300 })
  const cases: Array<[Array<string | Buffer | { wait: number }>, RegExp]> = [
    [['PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n' + GET], /source port|destination port "99999"/],
    [['PROXY TCP4 example.com 5.6.7.8 1 2\r\n' + GET], /source "example.com" is not an IPv4 address/],
    [['PROXY UNKNOWN ' + 'x'.repeat(300)], /no CRLF within 107 bytes/],
    [[v2({ verCmd: 0x21, fam: 0x11, length: 60000 })], /over the 2048-byte limit/],
    [[v2({ fam: 0x55, addr: inet('1.2.3.4', '5.6.7.8', 1, 2) })], /unknown family\/transport byte 0x55/],
    [['PROXY TCP4 1.2.', { wait: 20 }], /ended inside the PROXY protocol header/],
    [[...'PROXY TCP4 '].flatMap((c) => [c, { wait: 100 }]), /no complete PROXY protocol header within 300 ms \(slow sender\)/]
  ]
  for (const [steps, want] of cases) {
    const before = lines.length
    const last = steps[steps.length - 1]
    // the truncated case ends its side of the connection after its bytes
    const r = typeof last === 'object' && !Buffer.isBuffer(last) && last.wait === 20
      ? await endAfter(port, steps[0] as string)
      : await exchange(port, steps, { localAddress: '127.0.0.13' })
    t.strictSame(r, { data: '', closed: true }, String(want))
    t.equal(lines.length, before + 1)
    t.match(lines[lines.length - 1], want)
  }
})

function endAfter (port: number, bytes: string): Promise<{ data: string, closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.13' }, () => s.end(bytes))
    let data = ''
    s.on('data', (c) => { data += c })
    s.on('error', () => {})
    s.on('close', () => resolve({ data, closed: true }))
  })
}

test('a client that resets the connection inside its header is dropped quietly', async (t) => {
  const { port, lines } = await start(t)
  await new Promise<void>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.write('PROXY TCP4 1.2', () => setTimeout(() => { s.resetAndDestroy(); resolve() }, 30))
    })
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.strictSame(lines, [])
})

test('the header names the peer; original.ip keeps the balancer; X-Forwarded-For is walked from there', async (t) => {
  const app = Fastify({ serverFactory: proxyProtocolServer({ from: '127.0.0.2', logger: null }) })
  await app.register(proxyFix, { trust: ['198.51.100.0/24'] })
  app.get('/', async (req) => ({ ip: req.ip, ips: req.ips, original: req.proxy.original.ip, source: req.proxy.proxyProtocol?.source, protocol: req.protocol }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = portOf(app.server)
  const http = 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n'
  const direct = JSON.parse((await send(port, `PROXY TCP4 203.0.113.7 127.0.0.1 5000 80\r\n${http}X-Forwarded-For: 6.6.6.6\r\n\r\n`, { localAddress: '127.0.0.2' })).split('\r\n\r\n')[1])
  t.strictSame(direct, { ip: '203.0.113.7', ips: ['203.0.113.7'], original: '127.0.0.2', source: { address: '203.0.113.7', port: 5000 }, protocol: 'http' }, 'an untrusted source: its own address, its headers ignored')
  const viaProxy = JSON.parse((await send(port, `PROXY TCP4 198.51.100.4 127.0.0.1 5000 80\r\n${http}X-Forwarded-For: 192.0.2.9\r\nX-Forwarded-Proto: https\r\n\r\n`, { localAddress: '127.0.0.2' })).split('\r\n\r\n')[1])
  t.match(viaProxy, { ip: '192.0.2.9', ips: ['198.51.100.4', '192.0.2.9'], original: '127.0.0.2', protocol: 'https' }, 'a trusted proxy behind the balancer: its X-Forwarded-* are walked')
  const forged = await send(port, `PROXY TCP4 198.51.100.4 127.0.0.1 5000 80\r\n${http}\r\n`, { localAddress: '127.0.0.5' })
  t.equal(forged, '', 'a PROXY header from a peer outside from is never believed: closed without a response')
  await app.close()
})
