// A Fastify route shadows the mounted app: a request the app would match to a path Fastify has
// its own (guarded) route for never reaches the app, however it is spelled. Raw sockets, so no
// client normalises the request target; every routerOptions combination, Express 4 and 5, at the
// root and under a prefix.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import express from 'express'
import express4 from 'express4'
import type net from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mountApp } from '../lib/mount/mount-app'
import { appMatching, buildShadow, listRoutes, shadowed } from '../lib/mount/shadow'
import { rawRequest } from './helpers/raw-http'

const FLAGS = ['caseSensitive', 'ignoreTrailingSlash', 'ignoreDuplicateSlashes', 'useSemicolonDelimiter'] as const
type Flags = Record<typeof FLAGS[number], boolean>

/** The attacks: [method, path under the base]. */
const ATTACKS: Array<[string, string]> = [
  ['GET', '/SECRET'], ['GET', '/Secret'], ['GET', '/secret/'], ['GET', '/SECRET/'], ['HEAD', '/secret/'], ['HEAD', '/SECRET'],
  ['PUT', '/SECRET'], ['PUT', '/secret/'], ['GET', '/USER/alice/comments'], ['GET', '/user/alice/comments/'], ['GET', '/User/Alice/Comments'],
  ['GET', '/%53ECRET'], ['GET', '/%73ecret/'], ['GET', '/s%65cret/'], ['GET', '/%55SER/bob/comments'],
  ['GET', '//SECRET'], ['GET', '/SECRET//'], ['GET', '//secret/'], ['GET', '/SECRET;x=1'], ['GET', '/secret/;x'], ['GET', '//Secret;a'],
  ['GET', '/SECRET?x=/public'], ['GET', '/SECRET/?x=1']
]

async function server (o: Flags, factory: typeof express, base: string, leaks: string[]): Promise<FastifyInstance> {
  const f = Fastify({ routerOptions: o })
  const guard = { onRequest: async (req: any, reply: any) => { if (req.headers['x-key'] !== 'ok') await reply.code(403).send('guarded') } }
  f.get(`${base}/secret`, guard, async () => 'fastify secret')
  f.put(`${base}/secret`, guard, async () => 'fastify secret put')
  f.get(`${base}/user/:name/comments`, guard, async () => 'fastify comments')
  const app = factory()
  const leak = (req: any, res: any): void => {
    leaks.push(`${req.method} ${req.originalUrl}`)
    res.send('app secret')
  }
  app.all('/secret', leak)
  app.get('/user/:name/comments', leak)
  app.get('/public', (_req: any, res: any) => res.send('app public'))
  await f.register(mountApp, { app, prefix: base === '' ? '/' : base })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}

test('shadowing: no spelling of a Fastify route reaches the app that would match it', async (t) => {
  const failures: string[] = []
  let checks = 0
  for (let bits = 0; bits < 16; bits++) {
    const o = Object.fromEntries(FLAGS.map((k, i) => [k, (bits & (1 << i)) !== 0])) as Flags
    const label = FLAGS.filter((k) => o[k]).join('+') || 'no flags'
    for (const [name, factory] of [['express 5', express], ['express 4', express4]] as const) {
      for (const base of ['', '/legacy']) {
        const leaks: string[] = []
        const f = await server(o, factory, base, leaks)
        const port = (f.server.address() as net.AddressInfo).port
        const where = `${label}, ${name}, ${base === '' ? 'root' : base}`
        for (const [method, path] of ATTACKS) {
          const res = await rawRequest(port, method, base + path)
          checks++
          if (res.body.startsWith('app ') || (res.status !== 403 && res.status !== 404)) failures.push(`${where}: ${method} ${base + path} got ${res.status} ${res.body.slice(0, 30)}`)
        }
        const open = await rawRequest(port, 'GET', base + '/public')
        if (open.body !== 'app public') failures.push(`${where}: /public got ${open.status} ${open.body.slice(0, 30)}`)
        const keyed = await rawRequest(port, 'GET', base + '/secret', { 'x-key': 'ok' })
        if (keyed.body !== 'fastify secret') failures.push(`${where}: keyed /secret got ${keyed.status}`)
        if (leaks.length > 0) failures.push(`${where}: the app's guarded routes ran for ${leaks.join(', ')}`)
        await f.close()
      }
    }
  }
  t.same(failures, [], 'every attack was answered by Fastify (403 from the guard or 404), never by the app')
  t.equal(checks, 16 * 2 * 2 * ATTACKS.length)
  t.comment(`shadowing: ${checks} raw-socket attacks (16 routerOptions x Express 4/5 x root/prefix x ${ATTACKS.length})`)
})

test('shadowed requests get Fastify\'s 404 from the scope\'s not-found handler', async (t) => {
  const leaks: string[] = []
  const f = await server({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, useSemicolonDelimiter: false }, express, '', leaks)
  t.teardown(() => f.close())
  const port = (f.server.address() as net.AddressInfo).port
  const res = await rawRequest(port, 'GET', '/SECRET')
  t.equal(res.status, 404)
  t.same(JSON.parse(res.body), { message: 'Route GET:/SECRET not found', error: 'Not Found', statusCode: 404 })
  t.same(leaks, [])
})

test('the app\'s own matching settings decide what is shadowed', async (t) => {
  for (const factory of [express, express4]) {
    const app = factory()
    app.set('case sensitive routing', true)
    app.set('strict routing', true)
    app.get('/SECRET', (_req: any, res: any) => res.send('app upper'))
    app.get('/secret/', (_req: any, res: any) => res.send('app slash'))
    const f = Fastify()
    f.get('/secret', async () => 'fastify')
    await f.register(mountApp, { app })
    await f.listen({ port: 0, host: '127.0.0.1' })
    const port = (f.server.address() as net.AddressInfo).port
    // The app matches case and the trailing slash exactly, as Fastify does: these are its own routes.
    t.equal((await rawRequest(port, 'GET', '/SECRET')).body, 'app upper')
    t.equal((await rawRequest(port, 'GET', '/secret/')).body, 'app slash')
    t.equal((await rawRequest(port, 'GET', '/secret')).body, 'fastify')
    await f.close()
  }
  const loose = express()
  loose.set('strict routing', true)
  t.same(appMatching(loose), { caseSensitive: false, strict: true })
  t.same(appMatching(express.Router({ caseSensitive: true })), { caseSensitive: true, strict: false })
  t.same(appMatching(express4.Router({ strict: true })), { caseSensitive: false, strict: true })
  t.same(appMatching((_req: IncomingMessage, res: ServerResponse) => res.end()), { caseSensitive: false, strict: false }, 'plain functions: Express\'s defaults')
})

test('Connect apps and plain handlers are shadowed as Express\'s defaults match', async (t) => {
  const seen: string[] = []
  const f = Fastify()
  f.get('/admin/panel', async () => 'fastify')
  await f.register(mountApp, { app: (req: IncomingMessage, res: ServerResponse) => { seen.push(String(req.url)); res.end('app') } })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = (f.server.address() as net.AddressInfo).port
  for (const path of ['/ADMIN/panel', '/admin/panel/', '/Admin/Panel/']) t.equal((await rawRequest(port, 'GET', path)).status, 404, path)
  t.equal((await rawRequest(port, 'GET', '/admin/other')).body, 'app')
  t.same(seen, ['/admin/other'])
})

test('a mount with no Fastify route under its prefix has no shadow', async (t) => {
  const flags = { semicolon: false, collapse: false, caseSensitive: true, ignoreTrailingSlash: false, maxParamLength: 100, allowUnsafeRegex: false }
  const loose = { caseSensitive: false, strict: false }
  const claimed = new Map([['/legacy', new Set(['GET', 'HEAD'])], ['/legacy/*', new Set(['GET', 'HEAD'])]])
  const tree = (routes: string[]): string => {
    const f = Fastify()
    for (const r of routes) f.get(r, async () => '')
    f.route({ method: 'GET', url: '/legacy', handler: async () => '' })
    f.route({ method: 'GET', url: '/legacy/*', handler: async () => '' })
    return f.printRoutes()
  }
  t.equal(buildShadow(tree(['/other', '/legacy-x', '/leg']), '/legacy', claimed, flags, loose), null, 'routes elsewhere: none')
  t.equal(buildShadow(tree(['/legacy/x']), '/legacy', claimed, flags, { caseSensitive: true, strict: true }), null, 'an app as strict as Fastify: none')
  t.equal(buildShadow(tree(['/legacy/x']), '/legacy', claimed, { ...flags, caseSensitive: false, ignoreTrailingSlash: true }, loose), null, 'Fastify as loose as the app: none')
  for (const route of ['/legacy/x', '/LEGACY/y', '/:any/x', '/leg*', '/legacy/']) {
    const shadow = buildShadow(tree([route]), '/legacy', claimed, flags, loose)
    t.not(shadow, null, `${route} can match under /legacy`)
  }
  const shadow = buildShadow(tree(['/legacy/x', '/legacy/X', '/legacy/items/:id(^\\d+)']), '/legacy', claimed, flags, loose)
  t.ok(shadow !== null && shadowed(shadow, 'GET', '/LEGACY/x/'), 'case and slash variants are shadowed')
  t.ok(shadow !== null && shadowed(shadow, 'HEAD', '/legacy/X'), 'GET routes shadow HEAD')
  t.ok(shadow !== null && shadowed(shadow, 'GET', 'http://h/legacy/ITEMS/12'), 'absolute-form targets are read as their path')
  t.ok(shadow !== null && !shadowed(shadow, 'GET', '/legacy/items/new'), 'a parameter\'s pattern is kept: /items/new is the app\'s')
  t.ok(shadow !== null && !shadowed(shadow, 'POST', '/legacy/x'), 'other methods are the app\'s')
})

test('listRoutes reads every route of printRoutes()', async (t) => {
  const f = Fastify()
  const h = async (): Promise<string> => ''
  for (const p of ['/secret', '/a/:x-:y/*', '/b/*', '/c/:id', '/c/:id/d', '/e/:x(^\\d+)-:y', '/f.:ext', '/h/*', '/h/x', '/sp ace']) f.get(p, h)
  f.post('/b/*', h)
  f.route({ method: 'GET', url: '/v', constraints: { version: '1.0.0' }, handler: h })
  f.route({ method: 'PUT', url: '/v', handler: h })
  await f.ready()
  const listed = listRoutes(f.printRoutes())
  const flat = listed.map((r) => `${r.path} ${[...r.methods].sort().join(',')}`).sort()
  t.same(flat, [
    '/a/:x-:y/* GET,HEAD', '/b/* GET,HEAD,POST', '/c/:id GET,HEAD', '/c/:id/d GET,HEAD', '/e/:x(^\\d+)-:y GET,HEAD',
    '/f.:ext GET,HEAD', '/h/* GET,HEAD', '/h/x GET,HEAD', '/secret GET,HEAD', '/sp ace GET,HEAD', '/v GET,HEAD,PUT'
  ])
  await f.close()
})
