// Bypass class: a forged hop count, believed from any peer (GHSA-3m5p-2c4r-xxw2), in X-Forwarded-*
// and Forwarded.
import { test } from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { FORGED, listen, send, snapshot } from '../helpers/seen'

test('a hop count is believed only from `peers` (GHSA-3m5p-2c4r-xxw2), in both header families', async (t) => {
  for (const forwarded of [false, true]) {
    const app = Fastify()
    await app.register(proxyFix, { trust: 1, peers: ['127.0.0.2'], forwarded })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    const headers = forwarded ? 'Forwarded: for=6.6.6.6;proto=https;host=evil.example\r\n' : FORGED
    const get = (from: string): Promise<string> => send(port, `GET / HTTP/1.1\r\nHost: real.example\r\nConnection: close\r\n${headers}\r\n`, { localAddress: from })
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
  t.match(await send(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`, { localAddress: '127.0.0.5' }), /"ip":"6.6.6.6"/)
  await app.close()
})
