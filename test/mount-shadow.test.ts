// A Fastify route shadows the mounted app: a request the app would match to a path Fastify has
// its own route for never reaches the app. The attack matrix (every routerOptions combination,
// Express 4 and 5, root and prefix) is in test/security/mount-path-bypass.test.ts; here, the app's
// own matching settings and the shadow built from printRoutes().
import { test } from 'tap'
import Fastify from 'fastify'
import express from 'express'
import express4 from 'express4'
import type net from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mountApp } from '../lib/mount/mount-app'
import { appMatching, buildShadow, listRoutes, shadowed } from '../lib/mount/shadow'
import { rawRequest } from './helpers/raw-http'

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
