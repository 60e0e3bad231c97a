// The PROXY protocol source as the peer proxyFix starts from, over real sockets.
import { test } from 'tap'
import Fastify from 'fastify'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { proxyProtocolServer } from '../lib/proxy-protocol/server'
import { portOf } from './helpers/ports'
import { raw as send } from './helpers/raw-http'

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
