// expressHttpOptions(app): a server whose requests and responses are born with the Express app's
// prototypes. The mounted app must behave exactly as it does on a server created without it:
// compared over real sockets, for Express 4 and 5, with proxyFix correcting the values.
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import middie from '@fastify/middie'
import express from 'express'
import connect from 'connect'
import http from 'node:http'
import { born, expressHttpOptions } from '../lib/mount/express-server'
import { mountApp } from '../lib/mount/mount-app'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { request } from './helpers/http'
import { portOf } from './helpers/ports'
import { raw, rawRequest } from './helpers/raw-http'

const express4 = require('express4') as typeof express

function echoApp (factory: typeof express): express.Express {
  const app = factory()
  app.get('/echo/:name', (req, res) => {
    res.json({
      ip: req.ip,
      ips: req.ips,
      protocol: req.protocol,
      secure: req.secure,
      hostname: req.hostname,
      host: (req as unknown as { host?: string }).host,
      subdomains: req.subdomains,
      path: req.path,
      url: req.url,
      originalUrl: req.originalUrl,
      baseUrl: req.baseUrl,
      query: req.query,
      params: req.params,
      fresh: req.fresh,
      xhr: req.xhr,
      getHost: req.get('host'),
      headers: req.headers
    })
  })
  app.get('/text', (_req, res) => { res.set('x-app', 'a').cookie('c', '1').send('plain text') })
  app.get('/teapot', (_req, res) => { res.status(418).send({ short: 'and stout' }) })
  app.get('/go', (_req, res) => { res.redirect('/elsewhere') })
  app.get('/fail', (_req, _res, next) => { next(Object.assign(new Error('no coffee'), { status: 418 })) })
  app.get('/fail-500', () => { throw new Error('secret detail') })
  return app
}

async function serve (app: express.Express, options: FastifyServerOptions): Promise<FastifyInstance> {
  const f = Fastify(options)
  await f.register(proxyFix, { trust: ['127.0.0.1'] })
  await f.register(mountApp, { app, prefix: '/legacy' })
  f.get('/native', (req) => ({ ip: req.ip, protocol: req.protocol, host: req.host, hostname: req.hostname }))
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}

const FORWARDED = { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com:8443' }
const TARGETS = ['/legacy/echo/al%20ice?a=1&b=2', '/legacy/ECHO/bob', '/legacy/text', '/legacy/teapot', '/legacy/go', '/legacy/fail', '/legacy/fail-500', '/legacy/none', '/native']
/** Headers that differ by time, or by nothing the app decides. */
const VOLATILE = new Set(['date', 'keep-alive', 'connection'])

for (const [name, factory] of [['Express 5', express], ['Express 4', express4]] as const) {
  test(`${name}: mounted on a server with expressHttpOptions behaves as on one without`, async (t) => {
    const plainApp = echoApp(factory)
    const fastApp = echoApp(factory)
    const plain = await serve(plainApp, {})
    const fast = await serve(fastApp, { http: expressHttpOptions(fastApp) })
    t.teardown(() => Promise.all([plain.close(), fast.close()]))
    for (const target of TARGETS) {
      // one Host for both servers: their ports differ
      for (const headers of [{ host: 'app.test' }, { host: 'app.test', ...FORWARDED }, { host: 'app.test', 'x-requested-with': 'XMLHttpRequest', 'if-none-match': 'W/"x"' }]) {
        const [a, b] = await Promise.all([
          request(`http://127.0.0.1:${portOf(plain.server)}${target}`, { headers }),
          request(`http://127.0.0.1:${portOf(fast.server)}${target}`, { headers })
        ])
        const strip = (h: http.IncomingHttpHeaders): Record<string, unknown> => Object.fromEntries(Object.entries(h).filter(([k]) => !VOLATILE.has(k)))
        t.equal(b.status, a.status, `${target} ${JSON.stringify(headers)}: status`)
        t.same(strip(b.headers), strip(a.headers), `${target}: headers`)
        t.equal(b.body, a.body, `${target}: body`)
      }
    }
    // the comparison saw corrected values, not just two identical wrong ones
    const echoed = JSON.parse((await request(`http://127.0.0.1:${portOf(fast.server)}/legacy/echo/x`, { headers: FORWARDED })).body)
    t.same([echoed.ip, echoed.protocol, echoed.hostname, echoed.secure], ['10.0.0.1', 'https', 'shop.example.com', true], 'the nearest untrusted hop is the client')
  })
}

test('a server made for one Express app mounts another as it is, with its own settings', async (t) => {
  const first = express()
  first.get('/who', (_req, res) => { res.json({ app: 'first' }) })
  const second = express()
  second.disable('x-powered-by')
  second.set('json spaces', 2)
  second.get('/who', (req, res) => { res.json({ app: 'second', ip: req.ip }) })
  const f = Fastify({ http: expressHttpOptions(first) })
  f.register(mountApp, { app: first, prefix: '/first' })
  f.register(mountApp, { app: second, prefix: '/second' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const base = `http://127.0.0.1:${portOf(f.server)}`
  const a = await request(`${base}/first/who`)
  t.equal(a.headers['x-powered-by'], 'Express')
  t.equal(a.body, '{"app":"first"}')
  const b = await request(`${base}/second/who`)
  t.notOk('x-powered-by' in b.headers, 'the second app\'s own setting, not the first\'s response methods')
  t.equal(b.body, '{\n  "app": "second",\n  "ip": "127.0.0.1"\n}')
})

test('Fastify routes on such a server: the getters work, and a request without Host is no error', async (t) => {
  const app = express()
  const f = await serve(app, { http: expressHttpOptions(app) })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const r = JSON.parse((await request(`http://127.0.0.1:${port}/native`, { headers: FORWARDED })).body)
  t.same(r, { ip: '10.0.0.1', protocol: 'https', host: 'shop.example.com:8443', hostname: 'shop.example.com' })
  // HTTP/1.0 without Host: Express's own host getter says undefined, and has no setter
  const old = await raw(port, 'GET /native HTTP/1.0\r\n\r\n')
  t.match(old, /^HTTP\/1\.1 200 /)
  t.same(JSON.parse(old.slice(old.indexOf('\r\n\r\n') + 4)), { ip: '127.0.0.1', protocol: 'http', host: '', hostname: '' })
  const mounted = await rawRequest(port, 'GET', '/legacy/none')
  t.equal(mounted.status, 404)
})

test('a standalone Express server can use the options too', async (t) => {
  const app = express()
  app.get('/x', (req, res) => { res.send(`${req.ip} ${req.protocol}`) })
  const server = http.createServer(expressHttpOptions(app), app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const res = await request(`http://127.0.0.1:${portOf(server)}/x`)
  t.equal(res.body, '127.0.0.1 http')
})

test('expressHttpOptions takes an Express app and nothing else', async (t) => {
  for (const bad of [connect(), (req: unknown, res: unknown) => {}, express.Router(), {}, null, 'express']) {
    t.throws(() => expressHttpOptions(bad), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"app"/ })
  }
})

test('the rest of such a server sees plain requests: middleware in any scope, @fastify/express, a Connect app, Fastify routes', async (t) => {
  const app = express()
  app.set('trust proxy', true) // the app's own trust: never what the rest of the server reads
  app.get('/who', (req, res) => { res.json({ ip: req.ip, protocol: req.protocol, hostname: req.hostname }) })
  const f = Fastify({ http: expressHttpOptions(app) })
  await f.register(proxyFix, { trust: ['10.0.0.0/8'] })
  f.register(mountApp, { app, prefix: '/legacy' })
  // middie in a sibling scope: it assigns req.raw.ip, hostname, protocol (Express has getters there)
  f.register(async (scope) => {
    await scope.register(middie)
    scope.use((req: http.IncomingMessage & Record<string, unknown>, _res: http.ServerResponse, next: () => void) => {
      req.seen = { ip: req.ip, protocol: req.protocol, hostname: req.hostname }
      next()
    })
    scope.get('/mw', (request) => (request.raw as unknown as Record<string, unknown>).seen)
  })
  // a Connect app mounted beside it sets req.query, which Express 5 defines as a getter
  const plain = connect()
  plain.use((req: http.IncomingMessage & { query?: unknown }, res: http.ServerResponse) => {
    req.query = { from: 'connect' }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ query: req.query, ip: (req as unknown as { ip: string }).ip }))
  })
  f.register(mountApp, { app: plain, prefix: '/connect' })
  // a Fastify route reading the raw request: what a plain IncomingMessage says, never Express's reading
  f.get('/native', (request) => {
    const raw = request.raw as unknown as Record<string, unknown>
    return { ip: request.ip, raw: [raw.ip, raw.ips, raw.protocol, raw.secure, raw.hostname, raw.host, raw.query] }
  })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const base = `http://127.0.0.1:${portOf(f.server)}`
  const forged = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }
  t.same(JSON.parse((await request(`${base}/legacy/who`, { headers: { host: 'app.test', ...forged } })).body),
    { ip: '127.0.0.1', protocol: 'http', hostname: 'app.test' }, 'the app: proxyFix\'s values, not its own trust proxy')
  t.same(JSON.parse((await request(`${base}/mw`, { headers: { host: 'app.test', ...forged } })).body),
    { ip: '127.0.0.1', protocol: 'http', hostname: 'app.test' }, 'middie middleware: the corrected values')
  t.same(JSON.parse((await request(`${base}/connect/x?a=1`, { headers: forged })).body), { query: { from: 'connect' }, ip: '127.0.0.1' })
  const native = JSON.parse((await request(`${base}/native?q=1`, { headers: forged })).body)
  t.equal(native.ip, '127.0.0.1')
  t.same(native.raw, [null, null, null, null, null, null, null], 'the raw request of a Fastify route has none of Express\'s readings (undefined, as JSON null)')
  // expressHttpOptions twice for one app: the getters are prepared once
  t.doesNotThrow(() => expressHttpOptions(app))
  t.equal(JSON.parse((await request(`${base}/legacy/who`, { headers: { host: 'app.test' } })).body).ip, '127.0.0.1')
})

test('@fastify/express on such a server, with no mountApp: its middleware runs and sees the corrected values', async (t) => {
  const app = express()
  const f = Fastify({ http: expressHttpOptions(app) })
  await f.register(proxyFix, { trust: ['127.0.0.1'] })
  await f.register(require('@fastify/express'))
  f.use('/legacy', (req: http.IncomingMessage & { ip?: string }, res: http.ServerResponse) => { res.end(String(req.ip)) })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  t.equal((await request(`http://127.0.0.1:${portOf(f.server)}/legacy/x`, { headers: { 'x-forwarded-for': '203.0.113.4' } })).body, '203.0.113.4')
})

test('a hook that read request.hostname first, on a request without Host: the app\'s req.host is the corrected one', async (t) => {
  const cases = [['Express 5', express, { host: 'h.test:81', hostname: 'h.test' }], ['Express 4', express4, { host: 'h.test', hostname: 'h.test' }]] as const
  for (const [name, factory, want] of cases) {
    for (const made of [true, false]) {
      const app = factory()
      app.get('/host', (req, res) => { res.json({ host: (req as unknown as { host?: string }).host, hostname: req.hostname }) })
      const f = Fastify(made ? { http: expressHttpOptions(app) } : {})
      await f.register(proxyFix, { trust: ['127.0.0.1'] })
      f.addHook('onRequest', async (request) => { t.type(request.hostname, 'string') })
      await f.register(mountApp, { app, prefix: '/legacy' })
      await f.listen({ port: 0, host: '127.0.0.1' })
      // HTTP/1.0 without Host: the host comes from the trusted proxy's X-Forwarded-Host
      const res = await raw(portOf(f.server), 'GET /legacy/host HTTP/1.0\r\nX-Forwarded-Host: h.test:81\r\n\r\n')
      t.same(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4)), want, `${name}, ${made ? 'with' : 'without'} expressHttpOptions`)
      await f.close()
    }
  }
})

test('born(): objects made by a constructor function or a class, with the given prototype', async (t) => {
  const proto = { kind: 'proto' }
  function Plain (this: { a?: number }, a: number): void { this.a = a }
  class Modern { a: number; constructor (a: number) { this.a = a } }
  for (const base of [Plain as unknown as new (a: number) => object, Modern]) {
    const Made = born(base, proto)
    const made = new Made(7) as { a: number, kind: string }
    t.equal(Object.getPrototypeOf(made), proto, base.name)
    t.same([made.a, made.kind], [7, 'proto'], base.name)
  }
})
