// Bypass class: a mounted app reached past its guard by another spelling of its path, under every
// combination of Fastify's router options (GHSA-cxrg-g7r8-w69p, GHSA-g6q3-96cp-5r5m, GHSA-8p85-9qpw-fwgw, GHSA-72c6-fx6q-fr5w,
// GHSA-2v46-jxjm-7q3v, GHSA-qcc9-jh8q-47vh, GHSA-6hw5-45gm-fj88, GHSA-hrwm-hgmj-7p9c, GHSA-3wf5-7852-vcfq). One matrix:
// 16 routerOptions x three guard setups (test/helpers/mount-guards.ts), over raw sockets (light-my-request normalises targets).
import { test } from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import express from 'express'
import express4 from 'express4'
import { mountApp } from '../../lib/mount/mount-app'
import { count, done } from '../helpers/battery'
import { request } from '../helpers/http'
import { FLAGS, HOOKS, advisoryServer, hooksServer, shadowServer, type Flags } from '../helpers/mount-guards'
import { portOf } from '../helpers/ports'
import { raw, rawRequest } from '../helpers/raw-http'

/** Fastify's defaults: the combination a row without `router` is checked in. */
const DEFAULTS: Flags = { ignoreDuplicateSlashes: false, ignoreTrailingSlash: false, useSemicolonDelimiter: false, caseSensitive: true }
const COMBOS = Array.from({ length: 16 }, (_, bits) => Object.fromEntries(FLAGS.map((k, i) => [k, (bits & (1 << i)) !== 0])) as Flags)
const labelOf = (o: Flags): string => FLAGS.filter((k) => o[k]).join('+') || 'defaults'
const same = (a: Flags, b: Flags): boolean => FLAGS.every((k) => a[k] === b[k])

interface AdvisoryRow {
  name: string
  path: string
  /** 403: stopped by the scope's guard; 200: reached an unguarded route; 404 / 400: no route. */
  status: number
  /** The router options the row is checked under (over Fastify's defaults). */
  router?: Partial<Flags>
  key?: boolean
  /** What the guarded app saw as req.url, when the key let the request through. */
  url?: string
}

function advisoryRows (): AdvisoryRow[] {
  const dup = { ignoreDuplicateSlashes: true }
  const semi = { useSemicolonDelimiter: true }
  return [
    // GHSA-cxrg-g7r8-w69p (@fastify/middie) and GHSA-g6q3-96cp-5r5m (@fastify/express): /%61dmin
    { name: 'GHSA-cxrg-g7r8-w69p /%61dmin', path: '/%61dmin', status: 403 },
    { name: 'GHSA-cxrg-g7r8-w69p /%61dmin/x', path: '/%61dmin/x', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61dmin', path: '/%61dmin', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61%64%6d%69%6e/users', path: '/%61%64%6d%69%6e/users', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61dmin with the key reaches the app, encoding kept', path: '/%61dmin/a%2Fb', status: 200, key: true, url: '/a%2Fb' },
    { name: 'GHSA-cxrg-g7r8-w69p /%2561dmin is not /admin', path: '/%2561dmin', status: 404 },
    // GHSA-8p85-9qpw-fwgw (@fastify/middie): //secret, /secret;foo=bar, /secret/
    { name: 'GHSA-8p85-9qpw-fwgw //secret, default router', path: '//secret', status: 404 },
    { name: 'GHSA-8p85-9qpw-fwgw //secret, ignoreDuplicateSlashes', path: '//secret', status: 403, router: dup },
    { name: 'GHSA-8p85-9qpw-fwgw //secret/x, ignoreDuplicateSlashes', path: '//secret//x', status: 403, router: dup },
    { name: 'GHSA-8p85-9qpw-fwgw //secret with the key: the app sees the collapsed path', path: '//secret//x', status: 200, router: dup, key: true, url: '/x' },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar, default router', path: '/secret;foo=bar', status: 404 },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar, useSemicolonDelimiter', path: '/secret;foo=bar', status: 403, router: semi },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar with the key: the rest is the query', path: '/secret;foo=bar', status: 200, router: semi, key: true, url: '/?foo=bar' },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/', path: '/secret/', status: 403 },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/, ignoreTrailingSlash', path: '/secret/', status: 403, router: { ignoreTrailingSlash: true } },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/x;foo=bar', path: '/secret/x;foo=bar', status: 403 },
    // GHSA-72c6-fx6q-fr5w (@fastify/middie): child scopes keep the parent guard; /admin is not /admin-panel
    { name: 'GHSA-72c6-fx6q-fr5w child scope mount keeps the parent guard', path: '/admin/x', status: 403 },
    { name: 'GHSA-72c6-fx6q-fr5w /admin-panel is not under /admin', path: '/admin-panel', status: 200 },
    { name: 'GHSA-72c6-fx6q-fr5w /adminx is not under /admin', path: '/adminx', status: 404 },
    { name: 'GHSA-72c6-fx6q-fr5w /admin-panel/x is not under /admin', path: '/admin-panel/x', status: 404 },
    // GHSA-2v46-jxjm-7q3v (@fastify/middie): %2F inside a parameter
    { name: 'GHSA-2v46-jxjm-7q3v /user/a%2Fb/comments is guarded', path: '/user/a%2Fb/comments', status: 403 },
    { name: 'GHSA-2v46-jxjm-7q3v /user/a%2fb/comments is guarded', path: '/user/a%2fb/comments', status: 403 },
    { name: 'GHSA-2v46-jxjm-7q3v /user%2Fa/comments is not the mount', path: '/user%2Fa/comments', status: 404 },
    { name: 'GHSA-2v46-jxjm-7q3v with the key, %2F stays inside the parameter', path: '/user/a%2Fb/comments', status: 200, key: true },
    // GHSA-qcc9-jh8q-47vh (@fastify/middie): malformed percent-encoding is a 400 before any app
    { name: 'GHSA-qcc9-jh8q-47vh /%zz', path: '/%zz', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%', path: '/%', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /admin/%zz', path: '/admin/%zz', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /admin/%', path: '/admin/%', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%61dmin/%2', path: '/%61dmin/%2', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%zz with the key still 400', path: '/admin/%zz', status: 400, key: true },
    // GHSA-6hw5-45gm-fj88 (@fastify/express): //admin, /admin;bypass
    { name: 'GHSA-6hw5-45gm-fj88 //admin, default router', path: '//admin', status: 404 },
    { name: 'GHSA-6hw5-45gm-fj88 //admin, ignoreDuplicateSlashes', path: '//admin', status: 403, router: dup },
    { name: 'GHSA-6hw5-45gm-fj88 ///admin//x, ignoreDuplicateSlashes', path: '///admin//x', status: 403, router: dup },
    { name: 'GHSA-6hw5-45gm-fj88 /admin;bypass, default router', path: '/admin;bypass', status: 404 },
    { name: 'GHSA-6hw5-45gm-fj88 /admin;bypass, useSemicolonDelimiter', path: '/admin;bypass', status: 403, router: semi },
    { name: 'GHSA-6hw5-45gm-fj88 /admin/;bypass', path: '/admin/;bypass', status: 403 },
    // GHSA-hrwm-hgmj-7p9c (@fastify/express): the scope prefix is added once, never twice
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/admin is guarded', path: '/v1/admin/x', status: 403 },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/admin with the key: the app sees /x', path: '/v1/admin/x', status: 200, key: true, url: '/x' },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/v1/admin is no route', path: '/v1/v1/admin/x', status: 404 },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/%61dmin is guarded', path: '/v1/%61dmin', status: 403 },
    // GHSA-3wf5-7852-vcfq (@fastify/express): a mount inside a prefixed scope is only under it
    { name: 'GHSA-3wf5-7852-vcfq the scoped mount is not reachable without the scope prefix', path: '/admin/y', status: 403 },
    // Spellings that must not reach the app unguarded, on the default router
    { name: 'case: /ADMIN (caseSensitive default true)', path: '/ADMIN', status: 404 },
    { name: 'case: /ADMIN with caseSensitive false', path: '/ADMIN', status: 403, router: { caseSensitive: false } },
    { name: 'dot segment /./admin', path: '/./admin', status: 404 },
    { name: 'dot segment /x/../admin', path: '/x/../admin', status: 404 },
    { name: 'encoded dot segment /%2e/admin', path: '/%2e/admin', status: 404 },
    { name: 'encoded slash /admin%2Fx', path: '/admin%2Fx', status: 404 },
    { name: 'encoded slash /%2Fadmin', path: '/%2Fadmin', status: 404 },
    { name: 'backslash /admin\\x', path: '/admin\\x', status: 404 },
    { name: 'backslash \\admin', path: '/\\admin', status: 404 },
    { name: 'fragment /admin#x', path: '/admin#x', status: 403 },
    { name: 'query /admin?x=/public', path: '/admin?x=/public', status: 403 },
    { name: 'absolute form http://h/admin', path: 'http://h/admin', status: 403 },
    { name: 'absolute form http://h/public/../admin', path: 'http://h/public/../admin', status: 200 },
    { name: 'the unguarded mount /public stays open', path: '/public/x', status: 200 },
    { name: 'a null byte %00 in the path', path: '/admin/%00', status: 403 },
    { name: 'overlong UTF-8 %c0%af', path: '/admin/%c0%af', status: 400 },
    { name: 'encoded semicolon /admin%3Bx', path: '/admin%3Bx', status: 404 },
    { name: 'tab-like %09 after the prefix', path: '/admin%09', status: 404 }
  ]
}

// [method, path, expected]: 'mount' = routed to a guarded mount; a number = the status of a
// request that never reaches a guarded mount (whatever the guard says).
type Expect = 'mount' | number
const D = (o: Flags): boolean => o.ignoreDuplicateSlashes
const S = (o: Flags): boolean => o.useSemicolonDelimiter
const I = (o: Flags): boolean => !o.caseSensitive
const when = (cond: (o: Flags) => boolean) => (o: Flags): Expect => cond(o) ? 'mount' : 404
const PATHS: Array<[string, string, (o: Flags) => Expect]> = [
  ['GET', '/admin', () => 'mount'],
  ['GET', '/admin/', () => 'mount'],
  ['GET', '/admin/x', () => 'mount'],
  ['GET', '/admin?x=/public', () => 'mount'],
  ['GET', '/%61dmin', () => 'mount'],
  ['GET', '/%61%64%6D%69%6E/x', () => 'mount'],
  ['GET', '/admin/%2e%2e/public', () => 'mount'],
  ['GET', '/admin//x', () => 'mount'],
  ['GET', '/admin/x;y=1', () => 'mount'],
  ['GET', '/admin#frag', () => 'mount'],
  ['GET', '/admin/%00', () => 'mount'],
  ['GET', 'http://h/admin/x', () => 'mount'],
  ['GET', '/api/admin', () => 'mount'],
  ['GET', '/api/%61dmin/x', () => 'mount'],
  ['POST', '/admin/x', () => 'mount'],
  ['HEAD', '/admin', () => 'mount'],
  ['OPTIONS', '/%61dmin', () => 'mount'],
  ['PATCH', '/api/admin/', () => 'mount'],
  ['GET', '//admin', when(D)],
  ['GET', '//admin//x', when(D)],
  ['GET', '///admin', when(D)],
  ['DELETE', '//api//admin', when(D)],
  ['GET', '/admin;x=1', when(S)],
  ['GET', '/admin;x=1/y', when(S)],
  ['GET', '//admin;x', when((o) => D(o) && S(o))],
  ['GET', '/ADMIN', when(I)],
  ['GET', '/Admin/x', when(I)],
  ['GET', '/API/ADMIN/x', when(I)],
  ['GET', '//ADMIN;x', when((o) => D(o) && S(o) && I(o))],
  ['GET', '/admin%2Fx', () => 404],
  ['GET', '/%2Fadmin', () => 404],
  ['GET', '/admin%2f', () => 404],
  ['GET', '/%2561dmin', () => 404],
  ['GET', '/admin%3Bx', () => 404],
  ['GET', '/admin%00', () => 404],
  ['GET', '/./admin', () => 404],
  ['GET', '/x/../admin', () => 404],
  ['GET', '/%2e/admin', () => 404],
  ['GET', '/admin\\x', () => 404],
  ['GET', '/adminx', () => 404],
  ['GET', '/api/api/admin', () => 404],
  ['GET', '/api;x/admin', () => 404],
  ['GET', '/admin-panel', () => 200],
  ['GET', '/public/../admin', () => 200],
  ['GET', '/%zz', () => 400],
  ['GET', '/admin/%zz', () => 400],
  ['GET', '/admin/%', () => 400],
  ['GET', '/%61dmin/%c0%af', () => 400]
]

/** The attacks: [method, path under the base]. */
const ATTACKS: Array<[string, string]> = [
  ['GET', '/SECRET'], ['GET', '/Secret'], ['GET', '/secret/'], ['GET', '/SECRET/'], ['HEAD', '/secret/'], ['HEAD', '/SECRET'],
  ['PUT', '/SECRET'], ['PUT', '/secret/'], ['GET', '/USER/alice/comments'], ['GET', '/user/alice/comments/'], ['GET', '/User/Alice/Comments'],
  ['GET', '/%53ECRET'], ['GET', '/%73ecret/'], ['GET', '/s%65cret/'], ['GET', '/%55SER/bob/comments'],
  ['GET', '//SECRET'], ['GET', '/SECRET//'], ['GET', '//secret/'], ['GET', '/SECRET;x=1'], ['GET', '/secret/;x'], ['GET', '//Secret;a'],
  ['GET', '/SECRET?x=/public'], ['GET', '/SECRET/?x=1']
]

function send (port: number, agent: http.Agent, method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number, body: string }> {
  return request(`http://127.0.0.1:${port}`, { path, method, headers, agent, body: method === 'POST' ? '{"a":1}' : undefined })
}

test('mount path matrix: 16 routerOptions x (advisories, paths x hooks, shadowed routes x Express 4/5 x root/prefix)', async (t) => {
  const advisories = advisoryRows()
  count(advisories.length)
  t.ok(PATHS.length >= 25, `${PATHS.length} attack paths`)
  const leaks = { advisories: [] as string[], hooks: [] as string[] }
  const failures = { hooks: [] as string[], shadow: [] as string[] }
  const checks = { hooks: 0, shadow: 0 }
  for (const o of COMBOS) {
    const label = labelOf(o)

    // The advisories, each under the router options it names.
    const group = advisories.filter((row) => same(o, { ...DEFAULTS, ...row.router }))
    if (group.length > 0) {
      const f = await advisoryServer(o, leaks.advisories)
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      for (const row of group) {
        const key = JSON.stringify(row.router ?? {})
        const res = await send(portOf(f.server), agent, 'GET', row.path, row.key === true ? { 'x-key': 'ok' } : {})
        t.equal(res.status, row.status, `${row.name} (${key}) -> ${row.status}`)
        if (row.url !== undefined) t.equal(JSON.parse(res.body).url, row.url, `${row.name}: the app's req.url`)
        if (row.status === 403) t.equal(res.body, 'guarded', `${row.name}: stopped by the guard`)
      }
      agent.destroy()
      await f.close()
    }

    // Every path, with the guard in each hook in turn.
    const f = await hooksServer(o, leaks.hooks)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (const [method, path, expect] of PATHS) {
      const want = expect(o)
      const head = method === 'HEAD'
      // With the key, the guard lets it through: a request routed to a mount reaches the app.
      const open = await send(portOf(f.server), agent, method, path, { 'x-key': 'ok', 'x-hook': 'onRequest' })
      const reached = open.status === 200 && (head || open.body.startsWith('app:'))
      if (want === 'mount' ? !reached : (reached || open.status !== want)) failures.hooks.push(`${label} ${method} ${path}: with the key got ${open.status} ${open.body.slice(0, 40)}, want ${want}`)
      for (const hook of HOOKS) {
        const res = await send(portOf(f.server), agent, method, path, { 'x-hook': hook })
        checks.hooks++
        const ok = want === 'mount'
          ? res.status === 403 && (head || res.body === 'guarded')
          : res.status === want && !res.body.startsWith('app:')
        if (!ok) failures.hooks.push(`${label} ${hook} ${method} ${path}: got ${res.status} ${res.body.slice(0, 40)}, want ${want === 'mount' ? '403 from the guard' : want}`)
      }
    }
    agent.destroy()
    await f.close()

    // Fastify's own guarded routes shadow the app's, at the root and under a prefix.
    for (const [name, factory] of [['express 5', express], ['express 4', express4]] as const) {
      for (const base of ['', '/legacy']) {
        const shadowLeaks: string[] = []
        const f = await shadowServer(o, factory, base, shadowLeaks)
        const port = portOf(f.server)
        const where = `${label}, ${name}, ${base === '' ? 'root' : base}`
        for (const [method, path] of ATTACKS) {
          const res = await rawRequest(port, method, base + path)
          checks.shadow++
          if (res.body.startsWith('app ') || (res.status !== 403 && res.status !== 404)) failures.shadow.push(`${where}: ${method} ${base + path} got ${res.status} ${res.body.slice(0, 30)}`)
        }
        const open = await rawRequest(port, 'GET', base + '/public')
        if (open.body !== 'app public') failures.shadow.push(`${where}: /public got ${open.status} ${open.body.slice(0, 30)}`)
        const keyed = await rawRequest(port, 'GET', base + '/secret', { 'x-key': 'ok' })
        if (keyed.body !== 'fastify secret') failures.shadow.push(`${where}: keyed /secret got ${keyed.status}`)
        if (shadowLeaks.length > 0) failures.shadow.push(`${where}: the app's guarded routes ran for ${shadowLeaks.join(', ')}`)
        await f.close()
      }
    }
  }
  t.same(leaks.advisories, [], 'no mounted app ever ran without the guard\'s key')
  t.same(failures.hooks, [], 'every request routed to a guarded mount was stopped by its guard, in every hook')
  t.same(leaks.hooks, [], 'no mounted app ever ran without the key')
  t.equal(checks.hooks, 16 * PATHS.length * HOOKS.length)
  t.comment(`mount matrix: ${checks.hooks} guard checks (16 routerOptions combinations x ${PATHS.length} paths x ${HOOKS.length} hooks), plus ${16 * PATHS.length} keyed controls`)
  t.same(failures.shadow, [], 'every attack was answered by Fastify (403 from the guard or 404), never by the app')
  t.equal(checks.shadow, 16 * 2 * 2 * ATTACKS.length)
  t.comment(`shadowing: ${checks.shadow} raw-socket attacks (16 routerOptions x Express 4/5 x root/prefix x ${ATTACKS.length})`)
})

test('shadowed requests get Fastify\'s 404 from the scope\'s not-found handler', async (t) => {
  const leaks: string[] = []
  const f = await shadowServer({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, useSemicolonDelimiter: false }, express, '', leaks)
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const res = await rawRequest(port, 'GET', '/SECRET')
  t.equal(res.status, 404)
  t.same(JSON.parse(res.body), { message: 'Route GET:/SECRET not found', error: 'Not Found', statusCode: 404 })
  t.same(leaks, [])
})

test('mountApp: request targets the router does not read as a path never reach a root mount (regression)', async (t) => {
  // Before the fix, `GET a://b/admin` matched the root mount's wildcard as is, and the app read it
  // as `/admin`: the legacy /admin, shadowed by a guarded Fastify route, answered instead.
  const seen: string[] = []
  const f = Fastify()
  f.get('/admin', { onRequest: async (_req, reply) => { await reply.code(403).send('guarded') } }, async () => 'fastify admin')
  await f.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { if (req.headers['x-key'] !== 'ok') await reply.code(403).send('guarded') })
    await scope.register(mountApp, { prefix: '/a', app: (req: http.IncomingMessage, res: http.ServerResponse) => res.end('a:' + String(req.url)) })
  })
  await f.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => { seen.push(String(req.url)); res.end('root:' + String(req.url)) } })
  await f.listen({ port: 0, host: '127.0.0.1' })
  const port = portOf(f.server)
  const wire = async (target: string): Promise<string> => await raw(port, `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, { end: 'never' })
  const list: Array<[string, number, string]> = [
    ['/admin', 403, 'guarded'],
    ['http://h/admin', 403, 'guarded'],
    ['HTTPS://h:8443/admin', 403, 'guarded'],
    ['a://b/admin', 404, ''],
    ['ws://h/admin', 404, ''],
    ['file:///admin', 404, ''],
    ['javascript://x/admin?q', 404, ''],
    ['a://b/a/x', 404, ''],
    ['*', 404, ''],
    ['http://h/a/x', 403, 'guarded'],
    ['/legacy/x', 200, 'root:/legacy/x'],
    ['http://h/legacy?q=1', 200, 'root:/legacy?q=1']
  ]
  count(list.length)
  for (const [target, status, body] of list) {
    const res = await wire(target)
    t.match(res, new RegExp(`^HTTP/1\\.1 ${status} `), `${target} -> ${status}`)
    if (body !== '') t.equal(res.slice(res.indexOf('\r\n\r\n') + 4), body, `${target}: ${body}`)
  }
  t.same(seen, ['/legacy/x', '/legacy?q=1'], 'the root app saw only origin-form and http(s) targets')
  await f.close()
})

done(71, 'mount-path-bypass')
