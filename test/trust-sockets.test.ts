// Trust rules that depend on the connection, tried over real sockets (issue: trust you can rely on).
import { test } from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import { Writable } from 'node:stream'
import proxyaddr from 'proxy-addr'
import fastifyProxyAddr from '@fastify/proxy-addr'
import express from 'express'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { makePeer, onConnection, peerOf, watchServer, kProxyProtocol } from '../lib/core/peer'
import { FORGED, listen, send, snapshot } from './helpers/seen'

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
    t.match(await send(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.2.3\r\n\r\n', { localAddress: '127.0.0.3' }), /"ip":"203.0.113.9"/, `${name}: walks to the first untrusted hop`)
    t.strictSame(seen, ['127.0.0.3', '10.1.2.3', '203.0.113.9'], `${name}: asked with canonical addresses`)
    seen.length = 0
    t.match(await send(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6, 0x7f.0.0.1\r\n\r\n', { localAddress: '127.0.0.3' }), /"ip":"127.0.0.3"/, `${name}: a lax address stops the walk`)
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
    t.match(await send(port, `GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${FORGED}\r\n`), /"ip":"127.0.0.1".*"trusted":false/)
    await app.close()
  }
})
