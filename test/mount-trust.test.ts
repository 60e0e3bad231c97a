// The app's own `trust proxy`: used when nothing in the scope trusts a proxy (logged at info);
// ignored, with a warning, when proxyFix, hostRewrite, Fastify's trustProxy or the mount's own
// options decide.
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import express from 'express'
import express4 from 'express4'
import { Writable } from 'node:stream'
import { mountApp } from '../lib/mount/mount-app'
import { proxyFix } from '../lib/fastify/proxy-fix'

type Json = Record<string, any>

function echo (factory: typeof express, trust: unknown): express.Express {
  const app = factory()
  if (trust !== undefined) app.set('trust proxy', trust)
  app.get('/x', (req, res) => {
    res.json({ ip: req.ip, ips: req.ips, protocol: req.protocol, hostname: req.hostname, xff: req.headers['x-forwarded-for'] ?? null })
  })
  return app
}

async function build (app: unknown, opts: Json = {}, server: FastifyServerOptions = {}, setup?: (f: FastifyInstance) => Promise<void>, after?: (f: FastifyInstance) => Promise<void>): Promise<{ f: FastifyInstance, logs: Json[] }> {
  const logs: Json[] = []
  const stream = new Writable({ write (chunk, _enc, done) { logs.push(JSON.parse(String(chunk))); done() } })
  const f = Fastify({ logger: { level: 'info', stream }, ...server })
  await setup?.(f)
  await f.register(mountApp, { app, prefix: '/legacy', ...opts })
  await after?.(f)
  await f.ready()
  return { f, logs }
}

const CHAIN = { 'x-forwarded-for': '198.51.100.7, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' }
const messages = (logs: Json[], level: number): string[] => logs.filter((l) => l.level === level && String(l.msg).startsWith('mountApp')).map((l) => l.msg)

test('with nothing trusting a proxy in the scope, the app\'s own trust proxy applies', async (t) => {
  for (const [name, factory] of [['express 5', express], ['express 4', express4]] as const) {
    for (const [trust, want] of [
      ['10.0.0.0/8', '198.51.100.7'],
      [['10.0.0.1', '10.0.0.2'], '198.51.100.7'],
      [1, '10.0.0.2'],
      // Express's numeric trust: the first N hops from the socket, as proxy-addr counts them.
      [(addr: string) => addr.startsWith('10.') ? 1 : 0, '198.51.100.7']
    ] as Array<[unknown, string]>) {
      const label = `${name}, trust proxy ${typeof trust === 'function' ? 'a function with truthy returns' : JSON.stringify(trust)}`
      const { f, logs } = await build(echo(factory, trust))
      const res = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: CHAIN })).json()
      t.equal(res.ip, want, `${label}: req.ip`)
      t.equal(res.protocol, 'https', `${label}: req.protocol from X-Forwarded-Proto`)
      t.equal(res.hostname, 'public.example', `${label}: req.hostname from X-Forwarded-Host`)
      const direct = (await f.inject({ url: '/legacy/x', remoteAddress: '203.0.113.5', headers: CHAIN })).json()
      if (typeof trust !== 'number') t.same(direct, { ip: '203.0.113.5', ips: [], protocol: 'http', hostname: 'localhost', xff: null }, `${label}: an untrusted peer's headers are dropped`)
      t.match(messages(logs, 30), [/nothing in this scope trusts a proxy, so the app's own 'trust proxy'/], `${label}: said at info`)
      await f.close()
    }
  }
})

test('a trust in Fastify wins over the app\'s own, with a warning when they differ', async (t) => {
  const app = (): express.Express => echo(express, 'loopback')
  const cases: Array<[string, () => Promise<{ f: FastifyInstance, logs: Json[] }>, boolean]> = [
    ['proxyFix registered before', async () => await build(app(), {}, {}, async (f) => { await f.register(proxyFix, { trust: '10.0.0.1' }) }), true],
    ['proxyFix registered after', async () => await build(app(), {}, {}, undefined, async (f) => { await f.register(proxyFix, { trust: '10.0.0.1' }) }), true],
    ['Fastify trustProxy', async () => await build(app(), {}, { trustProxy: '10.0.0.1' }), true],
    ['the mount\'s own options', async () => await build(app(), { trust: '10.0.0.1' }), true],
    ['the mount\'s own options, the same value', async () => await build(app(), { trust: 'loopback' }), false]
  ]
  for (const [name, make, warns] of cases) {
    const { f, logs } = await make()
    const res = (await f.inject({ url: '/legacy/x', remoteAddress: '127.0.0.1', headers: CHAIN })).json()
    if (name.includes('same')) t.equal(res.ip, '10.0.0.2', `${name}: the mount's trust decides`)
    else t.equal(res.ip, '127.0.0.1', `${name}: Fastify's trust (10.0.0.1) decides, not the app's loopback`)
    t.same(messages(logs, 40).filter((m) => m.includes('trust proxy')).length, warns ? 1 : 0, `${name}: ${warns ? 'a warning' : 'no warning'}`)
    t.same(messages(logs, 30), [], `${name}: no info line`)
    await f.close()
  }
})

test('apps without a trust proxy setting, and Connect apps, are left alone', async (t) => {
  for (const app of [echo(express, undefined), echo(express4, false), (_req: unknown, res: { end: (s: string) => void }) => res.end('ok')]) {
    const { f, logs } = await build(app)
    t.same(messages(logs, 30).concat(messages(logs, 40)), [])
    await f.close()
  }
})
