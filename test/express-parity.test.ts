// Mounted vs alone: Express's req.* and res.* behaviours, compared over real sockets. The same app
// answers the same request twice: mounted under /legacy by mountApp, and mounted under /legacy by
// Express itself (`express().use('/legacy', app)`) on a plain http server. Status, headers and
// body must be equal, except the cases marked `differs`, which docs/mount.md lists. A third server
// mounts it on a server made with expressHttpOptions(app), and must answer as the mount does.
import { test } from 'tap'
import Fastify from 'fastify'
import express from 'express'
import express4 from 'express4'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mountApp } from '../lib/mount/mount-app'
import { expressHttpOptions } from '../lib/mount/express-server'

type Factory = typeof express
type Json = Record<string, any>
type Handler = (req: express.Request & Json, res: express.Response & Json, next: express.NextFunction) => unknown

interface Req { method?: string, path: string, headers?: http.OutgoingHttpHeaders, body?: string }
interface Res { status: number, headers: Record<string, string | string[]>, body: string }
interface Case {
  name: string
  /** Adds the app's routes; by default GET /r with `handler`. */
  setup?: (app: express.Express, e: Factory) => void
  handler?: Handler
  requests: Req[]
  /** A known difference: checks the mounted answer instead of comparing. */
  differs?: (t: Tap.Test, mounted: Res, alone: Res) => void
}

const IGNORED = new Set(['date', 'connection', 'keep-alive'])
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-parity-'))
fs.writeFileSync(path.join(DIR, 'file.txt'), 'file body '.repeat(20))
fs.mkdirSync(path.join(DIR, 'sub'))
fs.writeFileSync(path.join(DIR, 'sub', 'index.html'), '<p>index</p>')
fs.writeFileSync(path.join(DIR, 'page.txt'), 'unused')
const EXPIRES = new Date('2030-01-01T00:00:00Z')

function call (port: number, r: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers: r.headers, agent: false }, (res) => {
      const headers: Record<string, string | string[]> = {}
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i].toLowerCase()
        if (IGNORED.has(name)) continue
        const prior = headers[name]
        headers[name] = prior === undefined ? res.rawHeaders[i + 1] : ([] as string[]).concat(prior, res.rawHeaders[i + 1])
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode as number, headers, body: Buffer.concat(chunks).toString('latin1') }))
    })
    req.on('error', reject)
    req.end(r.body)
  })
}

const json = (body: unknown): http.OutgoingHttpHeaders => ({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(JSON.stringify(body)) })
const describe: Handler = (req, res) => res.json({
  path: req.path,
  url: req.url,
  originalUrl: req.originalUrl,
  baseUrl: req.baseUrl,
  method: req.method,
  query: req.query,
  params: req.params,
  route: req.route?.path,
  hostname: req.hostname,
  host: req.host,
  ip: req.ip,
  ips: req.ips,
  protocol: req.protocol,
  secure: req.secure,
  xhr: req.xhr,
  subdomains: req.subdomains,
  fresh: req.fresh,
  stale: req.stale,
  app: req.app.get('label'),
  locals: res.locals,
  appLocals: req.app.locals.shared
})

const CASES: Case[] = [
  { name: 'req.path, url, query, params, route, hostname, ip, protocol', setup: (a) => a.get('/r/:id', describe), requests: [{ path: '/legacy/r/7?a=1&b=2&a=3' }, { path: '/legacy/r/x%20y?q=%2F' }] },
  { name: 'a trailing slash and another case (Express\'s own matching)', setup: (a) => a.get('/r/:id', describe), requests: [{ path: '/legacy/r/7/' }, { path: '/legacy/R/7' }] },
  { name: 'nested query strings (each version\'s own parser)', handler: describe, requests: [{ path: '/legacy/r?a[b]=1&c=2&c=3' }] },
  { name: 'req.subdomains and req.hostname from Host', handler: describe, requests: [{ path: '/legacy/r', headers: { host: 'a.b.example.com:8080' } }, { path: '/legacy/r', headers: { host: '[::1]:3000' } }] },
  { name: 'req.xhr', handler: describe, requests: [{ path: '/legacy/r', headers: { 'x-requested-with': 'XMLHttpRequest' } }] },
  { name: 'forwarded headers without trust proxy are ignored', handler: describe, requests: [{ path: '/legacy/r', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-host': 'evil.example' } }] },
  { name: 'the app\'s own trust proxy (loopback)', setup: (a) => { a.set('trust proxy', 'loopback'); a.get('/r', describe) }, requests: [{ path: '/legacy/r', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.5', 'x-forwarded-host': 'public.example' } }] },
  { name: 'req.get / req.header', handler: (req, res) => res.json({ host: req.get('Host'), ua: req.header('user-agent'), ref: req.get('referrer'), none: req.get('x-none') ?? null }), requests: [{ path: '/legacy/r', headers: { 'user-agent': 'ua/1', referer: 'http://ref/' } }] },
  { name: 'req.is and express.json bodies', setup: (a, e) => { a.use(e.json()); a.post('/r', (req, res) => res.json({ is: req.is('json'), body: req.body })) }, requests: [{ method: 'POST', path: '/legacy/r', headers: json({ a: [1, 'é'] }), body: JSON.stringify({ a: [1, 'é'] }) }] },
  { name: 'express.urlencoded bodies', setup: (a, e) => { a.use(e.urlencoded({ extended: false })); a.post('/r', (req, res) => res.json(req.body)) }, requests: [{ method: 'POST', path: '/legacy/r', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 11 }, body: 'a=1&b=x%20y' }] },
  { name: 'req.accepts, acceptsEncodings, acceptsCharsets, acceptsLanguages', handler: (req, res) => res.json({ type: req.accepts(['html', 'json']), enc: req.acceptsEncodings('gzip', 'br'), cs: req.acceptsCharsets('utf-8'), lang: req.acceptsLanguages('fr', 'en') }), requests: [{ path: '/legacy/r', headers: { accept: 'application/json;q=0.9, text/html;q=0.5', 'accept-encoding': 'br', 'accept-language': 'en-GB, fr;q=0.1' } }] },
  { name: 'req.range', handler: (req, res) => res.json({ range: req.range(1000) }), requests: [{ path: '/legacy/r', headers: { range: 'bytes=0-99,200-' } }, { path: '/legacy/r', headers: { range: 'bytes=5000-' } }] },
  { name: 'req.app settings and locals, res.locals', setup: (a) => { a.set('label', 'legacy'); a.locals.shared = 1; a.use((_q, s, n) => { s.locals.user = 'u'; n() }); a.get('/r', describe) }, requests: [{ path: '/legacy/r' }] },
  { name: 'a Router under a path: baseUrl and originalUrl', setup: (a, e) => { const r = e.Router(); r.get('/r', describe); a.use('/sub', r) }, requests: [{ path: '/legacy/sub/r?x=1' }] },
  { name: 'res.status().send(), res.sendStatus()', setup: (a) => { a.get('/r', (_q, s) => s.status(201).send('made')); a.get('/s', (_q, s) => s.sendStatus(418)); a.get('/n', (_q, s) => s.sendStatus(204)) }, requests: [{ path: '/legacy/r' }, { path: '/legacy/s' }, { path: '/legacy/n' }] },
  { name: 'res.set, res.get, res.append, res.vary', handler: (_q, s) => { s.set({ 'X-A': '1', 'Content-Type': 'text/plain' }); s.append('Link', '<a>'); s.append('Link', '<b>'); s.vary('Accept'); s.vary('Origin'); s.send(String(s.get('X-A'))) }, requests: [{ path: '/legacy/r' }] },
  { name: 'res.cookie, res.clearCookie', handler: (_q, s) => { s.cookie('a', 'b', { httpOnly: true, path: '/', expires: EXPIRES }); s.cookie('j', { x: 1 }, { expires: EXPIRES }); s.clearCookie('old'); s.end() }, requests: [{ path: '/legacy/r' }] },
  { name: 'res.location, res.redirect', setup: (a) => { a.get('/r', (_q, s) => s.location('/there').end()); a.get('/go', (_q, s) => s.redirect('/elsewhere?x=1')); a.get('/perm', (_q, s) => s.redirect(301, 'http://other.example/')) }, requests: [{ path: '/legacy/r' }, { path: '/legacy/go', headers: { accept: 'text/html' } }, { path: '/legacy/go', headers: { accept: 'text/plain' } }, { path: '/legacy/perm' }] },
  { name: 'res.type with a Buffer, res.attachment', setup: (a) => { a.get('/r', (_q, s) => s.type('png').send(Buffer.from([1, 2, 3]))); a.get('/att', (_q, s) => s.attachment('report é.pdf').send('pdf')) }, requests: [{ path: '/legacy/r' }, { path: '/legacy/att' }] },
  { name: 'res.format', handler: (_q, s) => s.format({ 'application/json': () => s.json({ f: 'json' }), 'text/plain': () => s.send('text') }), requests: [{ path: '/legacy/r', headers: { accept: 'application/json' } }, { path: '/legacy/r', headers: { accept: 'text/plain' } }] },
  {
    name: 'res.format with nothing acceptable: the 406 as Fastify error JSON',
    handler: (_q, s) => s.format({ 'application/json': () => s.json({ f: 'json' }) }),
    requests: [{ path: '/legacy/r', headers: { accept: 'image/png' } }],
    differs: (t, m, a) => {
      t.same([a.status, m.status], [406, 406])
      t.same(JSON.parse(m.body).message, 'Not Acceptable')
    }
  },
  { name: 'res.links', handler: (_q, s) => s.links({ next: '/p/2', last: '/p/9' }).send('ok'), requests: [{ path: '/legacy/r' }] },
  { name: 'res.json with settings, res.jsonp, res.send(object)', setup: (a) => { a.set('json spaces', 2); a.get('/r', (_q, s) => s.json({ a: [1, '<'] })); a.get('/p', (_q, s) => s.jsonp({ p: 1 })); a.get('/o', (_q, s) => s.send({ o: true })) }, requests: [{ path: '/legacy/r' }, { path: '/legacy/p?callback=cb' }, { path: '/legacy/o' }] },
  { name: 'res.write and res.end (chunked)', handler: (_q, s) => { s.write('a'); s.write('b'); s.end('c') }, requests: [{ path: '/legacy/r' }, { path: '/legacy/r', method: 'HEAD' }] },
  { name: 'ETags and 304s from res.send', handler: (_q, s) => s.send('tagged body'), requests: [{ path: '/legacy/r' }, { path: '/legacy/r', headers: { 'if-none-match': 'W/"b-WnGNbdpxLGbZ5wW3m0ySOHCNXXQ"' } }, { path: '/legacy/r', method: 'HEAD' }] },
  { name: 'res.sendFile with Range and conditional requests', handler: (_q, s) => s.sendFile(path.join(DIR, 'file.txt')), requests: [{ path: '/legacy/r' }, { path: '/legacy/r', headers: { range: 'bytes=10-29' } }, { path: '/legacy/r', headers: { 'if-modified-since': new Date(Date.now() + 60000).toUTCString() } }] },
  { name: 'res.download', handler: (_q, s) => s.download(path.join(DIR, 'file.txt'), 'renamed.txt'), requests: [{ path: '/legacy/r' }] },
  { name: 'res.render with an engine', setup: (a) => { a.engine('txt', (_f: string, o: Json, cb: (e: unknown, s?: string) => void) => cb(null, `hello ${String(o.name)} ${String(o.settings?.label)}`)); a.set('views', DIR); a.set('label', 'L'); a.get('/r', (_q, s) => s.render('page.txt', { name: 'n' })) }, requests: [{ path: '/legacy/r' }] },
  { name: 'express.static: files, directory redirects, index', setup: (a, e) => a.use(e.static(DIR)), requests: [{ path: '/legacy/file.txt' }, { path: '/legacy/sub' }, { path: '/legacy/sub/' }, { path: '/legacy/file.txt', method: 'HEAD' }] },
  { name: 'OPTIONS: Express\'s automatic Allow', setup: (a) => { a.get('/r', (_q, s) => s.send('g')); a.post('/r', (_q, s) => s.send('p')) }, requests: [{ path: '/legacy/r', method: 'OPTIONS' }] },
  { name: 'HEAD answered from GET', handler: (_q, s) => s.set('x-h', '1').send('body'), requests: [{ path: '/legacy/r', method: 'HEAD' }] },
  { name: 'the app\'s own error handler', setup: (a) => { a.get('/r', (_q, _s, n) => n(Object.assign(new Error('bad'), { status: 422 }))); a.use((err: Json, _q: unknown, s: express.Response, _n: unknown) => { s.status(err.status).json({ caught: err.message }) }) }, requests: [{ path: '/legacy/r' }] },
  {
    name: 'no route in the app: Fastify\'s 404 JSON, not Express\'s page',
    handler: (_q, s) => s.send('r'),
    requests: [{ path: '/legacy/missing' }],
    differs: (t, m, a) => {
      t.equal(a.status, 404)
      t.match(a.body, /Cannot GET \/legacy\/missing/)
      t.same([m.status, JSON.parse(m.body).message], [404, 'Route GET:/legacy/missing not found'])
    }
  },
  {
    name: 'an error with no error handler: Fastify\'s error JSON, not Express\'s page',
    handler: (_q, _s, n) => n(Object.assign(new Error('teapot here'), { status: 418 })),
    requests: [{ path: '/legacy/r' }],
    differs: (t, m, a) => {
      t.equal(a.status, 418)
      t.match(a.headers['content-type'], /text\/html/)
      t.same([m.status, JSON.parse(m.body).message, m.headers['content-type']], [418, 'teapot here', 'application/json; charset=utf-8'])
    }
  }
]

async function pair (factory: Factory, c: Case): Promise<{ alone: number, mounted: number, fast: number, close: () => Promise<void> }> {
  const build = (): express.Express => {
    const app = factory()
    if (c.setup !== undefined) c.setup(app, factory)
    else app.get('/r', c.handler as Handler)
    return app
  }
  const outer = factory()
  outer.use('/legacy', build())
  const alone = http.createServer(outer)
  await new Promise<void>((resolve) => alone.listen(0, '127.0.0.1', resolve))
  const f = Fastify()
  await f.register(mountApp, { app: build(), prefix: '/legacy' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  const own = build()
  const g = Fastify({ http: expressHttpOptions(own) })
  await g.register(mountApp, { app: own, prefix: '/legacy' })
  await g.listen({ port: 0, host: '127.0.0.1' })
  return {
    alone: (alone.address() as AddressInfo).port,
    mounted: (f.server.address() as AddressInfo).port,
    fast: (g.server.address() as AddressInfo).port,
    close: async () => {
      await f.close()
      await g.close()
      await new Promise((resolve) => alone.close(resolve))
    }
  }
}

test('mounted vs alone: Express\'s req.* and res.* behaviours', async (t) => {
  t.teardown(() => fs.rmSync(DIR, { recursive: true, force: true }))
  let same = 0
  let differs = 0
  let fastSame = 0
  for (const [version, factory] of [['express 5', express], ['express 4', express4]] as const) {
    for (const c of CASES) {
      const servers = await pair(factory, c)
      for (const r of c.requests) {
        const label = `${version}: ${c.name}: ${r.method ?? 'GET'} ${r.path}`
        const alone = await call(servers.alone, { ...r, headers: { host: 'localhost', ...r.headers } })
        const mounted = await call(servers.mounted, { ...r, headers: { host: 'localhost', ...r.headers } })
        const fast = await call(servers.fast, { ...r, headers: { host: 'localhost', ...r.headers } })
        t.same(fast, mounted, `${label}: with expressHttpOptions as without`)
        fastSame++
        if (c.differs !== undefined) {
          c.differs(t, mounted, alone)
          differs++
          continue
        }
        t.same(mounted, alone, label)
        same++
      }
      await servers.close()
    }
  }
  t.comment(`mounted vs alone: ${same} responses equal, ${differs} known differences (docs/mount.md), Express 4 and 5`)
  t.comment(`mounted with expressHttpOptions vs without: ${fastSame} responses equal`)
})
