// What @fastify/express users expect on the raw request and response (req.id, req.log, res.log),
// the forwarded prefix for links and redirects (behind the real nginx recipe), and Fastify's error
// JSON in place of Express's error page, with the status and the `expose` rule kept.
import { test } from 'tap'
import Fastify from 'fastify'
import express from 'express'
import express4 from 'express4'
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { mountApp } from '../lib/mount/mount-app'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { request } from './helpers/http'
import { freePort, portOf } from './helpers/ports'
import { missing, nginxHttp, nginxMain, runNginx, which, workDir } from './helpers/proxies'

type Json = Record<string, any>

/** An app that builds links and redirects as Express apps behind a prefixing proxy do. */
function legacy (factory: typeof express): express.Express {
  const app = factory()
  const prefix = (req: express.Request): string => (req.get('x-forwarded-prefix') ?? '') + req.baseUrl
  app.get('/old', (req, res) => res.redirect(prefix(req) + '/login'))
  app.get('/see', (req, res) => res.json({ prefix: req.get('x-forwarded-prefix') ?? null, baseUrl: req.baseUrl, originalUrl: req.originalUrl, url: req.url }))
  return app
}

test('X-Forwarded-Prefix reaches the app only as trusted, and links keep the public prefix', async (t) => {
  for (const factory of [express, express4]) {
    const f = Fastify()
    await f.register(proxyFix, { trust: '10.0.0.1' })
    await f.register(mountApp, { app: legacy(factory), prefix: '/legacy' })
    const see = async (peer: string, prefix?: string): Promise<Json> => (await f.inject({ url: '/legacy/see?q=1', remoteAddress: peer, headers: prefix === undefined ? {} : { 'x-forwarded-prefix': prefix } })).json()
    t.same(await see('10.0.0.1', '/app'), { prefix: '/app', baseUrl: '/legacy', originalUrl: '/legacy/see?q=1', url: '/see?q=1' }, 'trusted: the prefix passed on')
    t.same((await see('10.0.0.9', '/evil')).prefix, null, 'untrusted: removed')
    t.same((await see('10.0.0.1', 'no-slash')).prefix, null, 'malformed: removed')
    t.same((await see('10.0.0.1')).prefix, null, 'none sent: none')
    const r = await f.inject({ url: '/legacy/old', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-prefix': '/app' } })
    t.equal(r.headers.location, '/app/legacy/login', 'a redirect built from X-Forwarded-Prefix + baseUrl')
    await f.close()
  }
})

const nginx = which('nginx')

test('a redirect behind the real nginx prefix recipe', { skip: missing('mount-prefix, the nginx redirect test', [nginx, 'nginx']), timeout: 60000 }, async (t) => {
  const dir = workDir(t, 'fpf-prefix-')
  const f = Fastify()
  await f.register(proxyFix, { trust: '127.0.0.2' })
  await f.register(mountApp, { app: legacy(express), prefix: '/legacy' })
  await f.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const ng = await freePort()
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d))
  await runNginx(t, nginx as string, dir, nginxMain(dir, nginxHttp(dir, `  server {
    listen 127.0.0.1:${ng};
    location /app/ {
      proxy_pass http://127.0.0.1:${port}/;
      proxy_bind 127.0.0.2;
      proxy_set_header X-Forwarded-Prefix /app;
    }
  }
`), { connections: 16 }), ng)
  const get = async (url: string): Promise<{ status: number, location?: string, body: string }> => {
    const res = await request(url)
    return { status: res.status, location: res.headers.location, body: res.body }
  }
  const r = await get(`http://127.0.0.1:${ng}/app/legacy/old`)
  t.equal(r.status, 302)
  t.equal(r.location, '/app/legacy/login', 'the app\'s redirect keeps nginx\'s /app and the mount\'s /legacy')
  t.same(JSON.parse((await get(`http://127.0.0.1:${ng}/app/legacy/see?x=1`)).body), { prefix: '/app', baseUrl: '/legacy', originalUrl: '/legacy/see?x=1', url: '/see?x=1' })
  const direct = JSON.parse((await get(`http://127.0.0.1:${port}/legacy/see`)).body)
  t.equal(direct.prefix, null, 'a client reaching the app directly gets no prefix')
})

test('req.id, req.log and res.log are Fastify\'s, as @fastify/express sets them', async (t) => {
  const lines: Json[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const f = Fastify({ logger: { level: 'info', stream }, genReqId: () => 'req-42' })
  const app = express()
  app.get('/x', (req: any, res: any) => {
    req.log.info('from req.log')
    res.log.info('from res.log')
    res.json({ id: req.id, same: req.log === res.log })
  })
  let fastifyLog: unknown
  f.addHook('onRequest', async (req) => { fastifyLog = req.log })
  await f.register(mountApp, { app, prefix: '/legacy' })
  const body = (await f.inject('/legacy/x')).json()
  t.same(body, { id: 'req-42', same: true })
  t.ok(fastifyLog !== undefined)
  t.same(lines.filter((l) => String(l.msg).startsWith('from ')).map((l) => [l.reqId, l.msg]), [['req-42', 'from req.log'], ['req-42', 'from res.log']], 'logged with the request id')
  await f.close()
})

test('next(err): Fastify\'s error JSON, the status kept, the message only where `expose` allows', async (t) => {
  const app = express()
  const fail = (status: number | undefined, expose: boolean | undefined, message: string) => (_req: unknown, _res: unknown, next: (e: unknown) => void): void => {
    next(Object.assign(new Error(message), status === undefined ? {} : { status }, expose === undefined ? {} : { expose }))
  }
  app.get('/teapot', fail(418, undefined, 'short and stout'))
  app.get('/plain', fail(undefined, undefined, 'db password is hunter2'))
  app.get('/503', fail(503, false, 'upstream at 10.1.2.3 down'))
  app.get('/503-exposed', fail(503, true, 'try again later'))
  app.get('/hidden-404', fail(404, false, 'internal path /srv/x'))
  app.get('/599', fail(599, false, 'odd'))
  app.get('/bad-status', fail(302, undefined, 'not an error status'))
  const lines: Json[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const f = Fastify({ logger: { level: 'error', stream } })
  await f.register(mountApp, { app })
  const cases: Array<[string, number, string]> = [
    ['/teapot', 418, 'short and stout'],
    ['/plain', 500, 'Internal Server Error'],
    ['/503', 503, 'Service Unavailable'],
    ['/503-exposed', 503, 'try again later'],
    ['/hidden-404', 404, 'Not Found'],
    ['/599', 599, 'Internal Server Error'],
    ['/bad-status', 500, 'Internal Server Error']
  ]
  for (const [url, status, message] of cases) {
    const r = await f.inject(url)
    t.equal(r.statusCode, status, `${url}: status`)
    t.equal(r.json().message, message, `${url}: message`)
    t.equal(r.headers['content-type'], 'application/json; charset=utf-8', `${url}: Fastify's JSON, not Express's HTML page`)
  }
  t.ok(lines.some((l) => JSON.stringify(l).includes('db password is hunter2')), 'the hidden message is in the log (as the cause)')
  await f.close()
})
