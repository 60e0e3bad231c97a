// Bypass class: a client that half-closes (or whose socket loses its address) so a TCP peer is
// taken for a trusted Unix-socket peer and its forged headers believed.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type net from 'node:net'
import http from 'node:http'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { FORGED, listen, send, snapshot, type Seen } from '../helpers/seen'

/** A route whose handler reads the corrected values only after the client's socket closed. */
function lateView (app: FastifyInstance): { seen: Seen[], done: Promise<void> } {
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
  return { seen, done }
}

test('half-close: a TCP peer whose address is gone is never taken for a Unix-socket peer', async (t) => {
  for (const trust of ['unix', 'loopback-is-not-listed'] as const) {
    const app = Fastify()
    await app.register(proxyFix, { trust: trust === 'unix' ? 'unix' : ['10.0.0.0/8', 'unix'] })
    const { seen, done } = lateView(app)
    const port = await listen(app)
    await send(port, `GET / HTTP/1.1\r\nHost: real.example:${port}\r\n${FORGED}\r\n`, { halfClose: true, localAddress: '127.0.0.2' })
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
  const { seen, done } = lateView(app)
  await app.listen({ path })
  await send(0, 'GET / HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 198.51.100.4\r\nX-Forwarded-Proto: https\r\n\r\n', { halfClose: true, path })
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
    const res = await send(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`)
    t.match(res, /^HTTP\/1.1 200/, `remoteAddress ${String(value)}: 200`)
    t.match(res, /"trusted":false/, `remoteAddress ${String(value)}: not trusted, not a Unix peer`)
    t.notMatch(res, /6\.6\.6\.6|evil/, `remoteAddress ${String(value)}: nothing forged`)
    await app.close()
  }
})
