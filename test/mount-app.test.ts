import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fs from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import { Writable } from 'node:stream'
import express from 'express'
import connect from 'connect'
import mountAppDefault, { mountApp, remainder, type MountHandler } from '../lib/mount/mount-app'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { attach } from '../lib/fastify/request-getters'
import { compileOptions } from '../lib/core/options'
import { portOf } from './helpers/ports'
import { selfSigned, which, workDir } from './helpers/proxies'
import { raw } from './helpers/raw-http'

const express4 = require('express4') as typeof express

type Json = Record<string, any>

/** A plain handler that echoes what it sees. */
const echo: MountHandler = (req, res) => {
  const r = req as any
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ url: req.url, originalUrl: r.originalUrl, baseUrl: r.baseUrl, headers: req.headers }))
}

function expressEcho (factory: typeof express, trustProxy: unknown = false): express.Express {
  const app = factory()
  app.set('trust proxy', trustProxy)
  app.use(factory.json())
  app.use((req, res, next) => {
    if (req.path === '/next') return next()
    res.json({
      url: req.url,
      originalUrl: req.originalUrl,
      baseUrl: req.baseUrl,
      path: req.path,
      ip: req.ip,
      ips: req.ips,
      protocol: req.protocol,
      secure: req.secure,
      hostname: req.hostname,
      host: req.host,
      subdomains: req.subdomains,
      body: req.body ?? null,
      headers: req.headers
    })
  })
  return app
}

async function build (app: unknown, opts: Json = {}, server: FastifyServerOptions = {}, setup?: (f: FastifyInstance) => void): Promise<FastifyInstance> {
  const f = Fastify(server)
  if (setup !== undefined) setup(f)
  await f.register(mountApp, { app, prefix: '/legacy', ...opts })
  await f.ready()
  return f
}

test('options are validated with FST_ERR_PROXY_FIX_INVALID_OPTION naming the option and value', async (t) => {
  const cases: Array<[Json, string]> = [
    [{ app: undefined }, 'Invalid option "app": undefined must be an Express or Connect app'],
    [{ app: null }, 'Invalid option "app": null must be an Express or Connect app'],
    [{ app: {} }, 'Invalid option "app": {} must be an Express or Connect app'],
    [{ app: (req: unknown) => req }, 'Invalid option "app": a function must take (req, res, next)'],
    [{ app: echo, prefix: 'legacy' }, 'Invalid option "prefix": "legacy" must be a path starting with "/"'],
    [{ app: echo, prefix: 42 }, 'Invalid option "prefix": 42 must be a path starting with "/"'],
    [{ app: echo, prefix: '/legacy/' }, 'Invalid option "prefix": "/legacy/" must not end with "/"'],
    [{ app: echo, prefix: '//legacy' }, 'Invalid option "prefix": "//legacy" must not contain an empty segment'],
    [{ app: echo, prefix: '/a//b' }, 'Invalid option "prefix": "/a//b" must not contain an empty segment'],
    [{ app: echo, prefix: '/a/../b' }, 'Invalid option "prefix": "/a/../b" must not contain "." or ".." segments'],
    [{ app: echo, prefix: '/./b' }, 'Invalid option "prefix": "/./b" must not contain "." or ".." segments'],
    [{ app: echo, prefix: '/%61dmin' }, 'Invalid option "prefix": "/%61dmin" must be a literal path'],
    [{ app: echo, prefix: '/a*' }, 'Invalid option "prefix": "/a*" must be a literal path'],
    [{ app: echo, prefix: '/:id' }, 'Invalid option "prefix": "/:id" must be a literal path'],
    [{ app: echo, prefix: '/a;b' }, 'Invalid option "prefix": "/a;b" must be a literal path'],
    [{ app: echo, prefix: '/a?b' }, 'Invalid option "prefix": "/a?b" must be a literal path'],
    [{ app: echo, bogus: 1 }, 'Invalid option "bogus": 1 is not an option of mountApp'],
    [{ app: echo, trust: 'not-an-ip' }, 'Invalid option "trust": "not-an-ip"']
  ]
  for (const [opts, message] of cases) {
    const f = Fastify()
    await t.rejects(Promise.resolve(f.register(mountApp, opts as any).ready()), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION' }, message)
    await f.close().catch(() => {})
    const g = Fastify()
    const err = await g.register(mountApp, opts as any).ready().then(() => null, (e: Error) => e)
    t.ok(err?.message.startsWith(message), `${message} (got ${err?.message})`)
  }
  t.equal(mountAppDefault, mountApp, 'default export')
})

test('remainder(): what the app sees as req.url', async (t) => {
  const cases: Array<[string, number, boolean, boolean, string]> = [
    ['/legacy', 1, false, false, '/'],
    ['/legacy/', 1, false, false, '/'],
    ['/legacy?a=1', 1, false, false, '/?a=1'],
    ['/legacy/x/y?a=%2F', 1, false, false, '/x/y?a=%2F'],
    ['/%6cegacy/a%2Fb', 1, false, false, '/a%2Fb'],
    ['/legacy//x', 1, false, false, '//x'],
    ['//legacy//x', 1, false, true, '/x'],
    ['/legacy/x;a=b', 1, false, false, '/x;a=b'],
    ['/legacy/x;a=b?c', 1, true, false, '/x?a=b?c'],
    ['/legacy;a=b/c', 1, true, false, '/?a=b/c'],
    ['/legacy/x#frag', 1, false, false, '/x?frag'],
    ['/v1/legacy/x', 2, false, false, '/x'],
    ['/anything/x?q', 0, false, false, '/anything/x?q'],
    ['http://example.com/legacy/x?q=1', 1, false, false, '/x?q=1'],
    ['http://example.com', 0, false, false, '/'],
    ['http://example.com?q=1', 0, false, false, '/?q=1'],
    ['http://example.com?q=/a', 0, false, false, '/?q=/a']
  ]
  for (const [url, segments, semicolon, collapse, expected] of cases) {
    t.equal(remainder(url, segments, semicolon, collapse), expected, `${url} (${segments}, ${semicolon}, ${collapse})`)
  }
})

test('URLs: the prefix is stripped, the query and percent-encoding are kept', async (t) => {
  const f = await build(echo)
  t.teardown(() => f.close())
  const cases: Array<[string, string]> = [
    ['/legacy', '/'],
    ['/legacy/', '/'],
    ['/legacy?x=1', '/?x=1'],
    ['/legacy/x?y=%2F&z', '/x?y=%2F&z'],
    ['/%6cegacy/x', '/x'],
    ['/legacy/a%2Fb/comments', '/a%2Fb/comments'],
    ['/legacy/%2561', '/%2561'],
    ['/legacy/caf%C3%A9', '/caf%C3%A9']
  ]
  for (const [url, expected] of cases) {
    const res = await f.inject(url)
    t.equal(res.statusCode, 200, url)
    const body = res.json()
    t.equal(body.url, expected, `${url} -> req.url`)
    t.equal(body.originalUrl, url, `${url} -> req.originalUrl`)
    t.equal(body.baseUrl, '/legacy', `${url} -> req.baseUrl`)
  }
})

test('prefix boundary: /legacy matches /legacy, /legacy/ and /legacy/x only', async (t) => {
  const f = await build(echo)
  t.teardown(() => f.close())
  const cases: Array<[string, number]> = [
    ['/legacy', 200], ['/legacy/', 200], ['/legacy/x', 200], ['/%6cegacy', 200],
    ['/legacyx', 404], ['/legacy-old', 404], ['/legacy%2Fx', 404], ['/legacy%2f', 404], ['/lega', 404], ['/', 404],
    ['/%zz', 400], ['/%', 400], ['/legacy/%zz', 400], ['/legacy/%', 400], ['/legacy/%%32%46', 400]
  ]
  for (const [url, status] of cases) {
    const res = await f.inject(url)
    t.equal(res.statusCode, status, url)
  }
})

test('Express 4, Express 5 and Connect see the URL, body and corrected values', async (t) => {
  for (const [name, factory, host] of [['express 5', express, 'localhost:80'], ['express 4', express4, 'localhost']] as const) {
    const f = await build(expressEcho(factory))
    const res = await f.inject({ method: 'POST', url: '/legacy/users/7?full=1', payload: { a: 1 }, remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } })
    t.equal(res.statusCode, 200, name)
    const body = res.json()
    t.has(body, {
      url: '/users/7?full=1',
      originalUrl: '/legacy/users/7?full=1',
      baseUrl: '/legacy',
      path: '/users/7',
      ip: '203.0.113.9',
      ips: [],
      protocol: 'http',
      secure: false,
      hostname: 'localhost',
      host,
      subdomains: [],
      body: { a: 1 }
    }, name)
    t.notOk('x-forwarded-for' in body.headers, `${name}: spoofed X-Forwarded-For removed`)
    t.notOk('x-forwarded-host' in body.headers, `${name}: spoofed X-Forwarded-Host removed`)
    t.notOk('x-forwarded-proto' in body.headers, `${name}: spoofed X-Forwarded-Proto removed`)
    t.equal(res.headers['x-powered-by'], 'Express', name)
    await f.close()
  }
  const c = connect()
  c.use('/inner', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.end(JSON.stringify({ url: req.url, originalUrl: (req as any).originalUrl, host: req.headers.host }))
  })
  const f = await build(c)
  const res = await f.inject({ url: '/legacy/inner/x?y', headers: { host: 'app.example' } })
  t.same(res.json(), { url: '/x?y', originalUrl: '/legacy/inner/x?y', host: 'app.example' }, 'connect')
  const miss = await f.inject('/legacy/other')
  t.equal(miss.statusCode, 404, 'connect falls through to Fastify 404')
  t.equal(miss.json().message, 'Route GET:/legacy/other not found')
  await f.close()
  const router = express.Router()
  // A bare Router has no app, so no Express response methods: it routes on the raw objects.
  router.get('/r/:id', (req, res) => { res.end(JSON.stringify({ id: req.params.id, url: req.url, baseUrl: req.baseUrl })) })
  const rf = await build(router)
  t.same((await rf.inject('/legacy/r/a%2Fb')).json(), { id: 'a/b', url: '/r/a%2Fb', baseUrl: '/legacy' }, 'an express.Router: %2F stays inside the parameter')
  t.equal((await rf.inject('/legacy/none')).statusCode, 404, 'the router falls through')
  await rf.close()
  const obj = await build({ handle: echo })
  t.equal((await obj.inject('/legacy/q')).json().url, '/q', 'an object with a handle method')
  await obj.close()
})

test('corrected values equal what the Fastify request sees (proxyFix outside, own options, Fastify trustProxy)', async (t) => {
  const chain = { host: 'internal:3000', 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.b.example.com:8443', forwarded: 'for=1.1.1.1', 'cf-connecting-ip': '9.9.9.9' }
  const trusted = {
    ip: '198.51.100.7', ips: ['198.51.100.7'], protocol: 'https', secure: true, hostname: 'a.b.example.com', host: 'a.b.example.com:8443', subdomains: ['b', 'a']
  }
  const direct = { ip: '10.9.9.9', ips: [], protocol: 'http', secure: false, hostname: 'internal', host: 'internal:3000', subdomains: [] }
  const setups: Array<[string, Json, FastifyServerOptions, ((f: FastifyInstance) => void) | undefined]> = [
    ['proxyFix outside', {}, {}, (f) => { f.register(proxyFix, { trust: '10.0.0.1' }) }],
    ['own options', { trust: '10.0.0.1' }, {}, undefined],
    ['own options over a different proxyFix outside', { trust: '10.0.0.1' }, {}, (f) => { f.register(proxyFix, { trust: false }) }],
    ['Fastify trustProxy, no proxyFix', {}, { trustProxy: '10.0.0.1' }, undefined]
  ]
  for (const [name, opts, server, setup] of setups) {
    for (const [factory, appTrust] of [[express, true], [express4, true], [express, false], [express4, 'loopback']] as const) {
      const seen: Json[] = []
      const f = await build(expressEcho(factory, appTrust), opts, server, (s) => {
        setup?.(s)
        // The mount registered after this hook runs it: the Fastify request's own values.
        s.addHook('onRequest', async (req) => { seen.push({ ip: req.ip, protocol: req.protocol, hostname: req.hostname, host: req.host }) })
      })
      const label = `${name} (${factory === express ? 'express 5' : 'express 4'}, trust proxy ${appTrust})`
      const exp4 = factory === express4
      const a = await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: chain })
      const body = a.json()
      t.has(body, { ...trusted, host: exp4 ? trusted.hostname : trusted.host }, `${label}: trusted peer`)
      t.same(body.ips, trusted.ips, `${label}: ips`)
      t.same(body.subdomains, trusted.subdomains, `${label}: subdomains`)
      t.equal(body.headers.host, 'a.b.example.com:8443', `${label}: Host header corrected`)
      t.equal(body.headers['x-forwarded-for'], '198.51.100.7', `${label}: X-Forwarded-For rewritten to the trusted chain`)
      t.equal(body.headers['x-forwarded-proto'], 'https', `${label}: X-Forwarded-Proto rewritten`)
      t.equal(body.headers['x-forwarded-host'], 'a.b.example.com:8443', `${label}: X-Forwarded-Host rewritten`)
      t.notOk('forwarded' in body.headers, `${label}: Forwarded removed`)
      t.same(seen[0], { ip: trusted.ip, protocol: trusted.protocol, hostname: trusted.hostname, host: trusted.host }, `${label}: the Fastify request agrees`)
      const b = await f.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: chain })
      const body2 = b.json()
      t.same(seen[1], { ip: direct.ip, protocol: direct.protocol, hostname: direct.hostname, host: direct.host }, `${label}: the Fastify request agrees (untrusted)`)
      t.has(body2, { ...direct, host: exp4 ? direct.hostname : direct.host }, `${label}: untrusted peer`)
      t.same(body2.ips, [], `${label}: no ips`)
      t.equal(body2.headers.host, 'internal:3000', `${label}: Host as sent`)
      for (const h of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']) t.notOk(h in body2.headers, `${label}: ${h} from an untrusted peer removed`)
      t.equal(body2.headers['cf-connecting-ip'], '9.9.9.9', `${label}: unrelated headers kept`)
      await f.close()
    }
  }
})

test('the Fastify request agrees with the app, and routes outside keep the outer proxyFix', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: false })
  const inside: Json[] = []
  f.addHook('onRequest', async (req) => { inside.push({ url: req.url, ip: req.ip, protocol: req.protocol, host: req.host }) })
  await f.register(mountApp, { app: expressEcho(express), prefix: '/legacy', trust: '10.0.0.1' })
  f.get('/outside', async (req) => ({ ip: req.ip, protocol: req.protocol, host: req.host }))
  const headers = { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example' }
  const app = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers })).json()
  t.same(inside[0], { url: '/legacy/x', ip: '198.51.100.7', protocol: 'https', host: 'pub.example' })
  t.same([app.ip, app.protocol, app.host], [inside[0].ip, inside[0].protocol, inside[0].host], 'app values equal the Fastify request values')
  const out = (await f.inject({ url: '/outside', remoteAddress: '10.0.0.1', headers })).json()
  t.same(out, { ip: '10.0.0.1', protocol: 'http', host: 'localhost:80' }, 'outer proxyFix (trust: false) outside the mount')
})

test('sub-apps inside the mounted app see the corrected values too', async (t) => {
  const outer = express()
  outer.use('/sub', expressEcho(express))
  const wrapper = connect()
  wrapper.use('/old', expressEcho(express4))
  const f = Fastify()
  await f.register(proxyFix, { trust: '10.0.0.1' })
  await f.register(mountApp, { app: outer, prefix: '/e5' })
  await f.register(mountApp, { app: wrapper, prefix: '/c' })
  const headers = { 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example:8443' }
  const a = (await f.inject({ url: '/e5/sub/x', remoteAddress: '10.0.0.1', headers })).json()
  t.has(a, { ip: '198.51.100.7', ips: ['198.51.100.7'], protocol: 'https', secure: true, host: 'pub.example:8443', hostname: 'pub.example', baseUrl: '/e5/sub', url: '/x', originalUrl: '/e5/sub/x' }, 'Express 5 sub-app')
  const b = (await f.inject({ url: '/c/old/x', remoteAddress: '10.0.0.1', headers })).json()
  t.has(b, { ip: '198.51.100.7', ips: ['198.51.100.7'], protocol: 'https', secure: true, host: 'pub.example', hostname: 'pub.example', url: '/x', originalUrl: '/c/old/x' }, 'Express 4 inside Connect')
})

test('client-IP and hostRewrite headers never reach the app', async (t) => {
  const f = await build(echo, { trust: '10.0.0.1', clientIpHeader: 'cf-connecting-ip' }, {}, (s) => {
    attach(s, compileOptions({ header: 'x-fhost', trust: '10.0.0.1' }, 'hostRewrite'))
  })
  t.teardown(() => f.close())
  const res = await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: { 'cf-connecting-ip': '198.51.100.4', 'x-fhost': 'public.example', host: 'internal' } })
  const { headers } = res.json()
  t.notOk('cf-connecting-ip' in headers, 'client-IP header removed')
  t.notOk('x-fhost' in headers, 'hostRewrite header removed')
  t.equal(headers.host, 'public.example', 'Host corrected by hostRewrite')
  t.equal(headers['x-forwarded-for'], '198.51.100.4', 'client from the client-IP header')
})

test('subdomains follow the app\'s subdomain offset; an IP host has no subdomains', async (t) => {
  for (const factory of [express, express4]) {
    const app = expressEcho(factory)
    app.set('subdomain offset', 0)
    const f = await build(app)
    t.same((await f.inject({ url: '/legacy/x', headers: { host: 'a.b.example' } })).json().subdomains, ['example', 'b', 'a'])
    t.same((await f.inject({ url: '/legacy/x', headers: { host: '10.1.2.3' } })).json().subdomains, ['10.1.2.3'])
    await f.close()
  }
})

test('a TLS socket: X-Forwarded-Proto is written back only when it differs from the socket', async (t) => {
  const f = await build(echo, { trust: '10.0.0.1' }, {}, (s) => {
    s.addHook('onRequest', (req, _reply, done) => {
      if (req.headers['x-test-tls'] !== undefined) (req.raw.socket as any).encrypted = true
      done()
    })
  })
  t.teardown(() => f.close())
  const tls = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: { 'x-test-tls': '1', 'x-forwarded-proto': 'https' } })).json().headers
  t.notOk('x-forwarded-proto' in tls, 'https over TLS: nothing to say')
  const down = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: { 'x-test-tls': '1', 'x-forwarded-proto': 'http' } })).json().headers
  t.equal(down['x-forwarded-proto'], 'http', 'http behind a TLS hop')
})

test('a request without Host (HTTP/1.0) and an absolute-form target', async (t) => {
  const f = await build(echo)
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const noHost = await raw(portOf(f.server), 'GET /legacy/x HTTP/1.0\r\n\r\n', { end: 'never' })
  t.match(noHost, /^HTTP\/1\.1 200/)
  t.notMatch(noHost, /"host"/, 'no Host invented')
  const absolute = await raw(portOf(f.server), 'GET http://example.com/legacy/y?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n', { end: 'never' })
  t.match(absolute, /"url":"\/y\?q=1"/)
  t.match(absolute, /"originalUrl":"http:\/\/example.com\/legacy\/y\?q=1"/)
})

test('guards: the advisory inputs, for all 16 routerOptions combinations', async (t) => {
  const flags = ['ignoreDuplicateSlashes', 'ignoreTrailingSlash', 'useSemicolonDelimiter', 'caseSensitive'] as const
  type Flags = Record<typeof flags[number], boolean>
  // [path, expected status given the options]: 403 = reached the guarded mount and was stopped.
  const cases: Array<[string, (o: Flags) => number]> = [
    ['/secret', () => 403],
    ['/secret/', () => 403],
    ['/secret/x', () => 403],
    ['/secret?x=1', () => 403],
    ['/%73ecret', () => 403],
    ['/%73ecret/x', () => 403],
    ['/%61dmin', () => 403],
    ['/%61dmin/users', () => 403],
    ['/admin', () => 403],
    ['/admin-panel', () => 200],
    ['/adminx', () => 404],
    ['//secret', (o) => o.ignoreDuplicateSlashes ? 403 : 404],
    ['//secret/x', (o) => o.ignoreDuplicateSlashes ? 403 : 404],
    ['///admin', (o) => o.ignoreDuplicateSlashes ? 403 : 404],
    ['/secret//x', () => 403],
    ['/secret;foo=bar', (o) => o.useSemicolonDelimiter ? 403 : 404],
    ['/admin;bypass', (o) => o.useSemicolonDelimiter ? 403 : 404],
    ['/secret/x;foo=bar', () => 403],
    ['/SECRET', (o) => o.caseSensitive ? 404 : 403],
    ['/Admin/x', (o) => o.caseSensitive ? 404 : 403],
    ['/secret%2Fx', () => 404],
    ['/secret%2fx', () => 404],
    ['/%2Fsecret', () => 404],
    ['/secret%2F', () => 404],
    ['/secret/a%2Fb/comments', () => 403],
    ['/secret%3Bfoo', () => 404],
    ['/%2573ecret', () => 404],
    ['/./secret', () => 404],
    ['/x/../secret', () => 404],
    ['/%zz', () => 400],
    ['/%', () => 400],
    ['/secret/%zz', () => 400],
    ['/secre%74/%', () => 400]
  ]
  for (let bits = 0; bits < 16; bits++) {
    const o = Object.fromEntries(flags.map((k, i) => [k, (bits & (1 << i)) !== 0])) as Flags
    const leaks: string[] = []
    const f = Fastify({ routerOptions: o })
    for (const prefix of ['/secret', '/admin']) {
      await f.register(async (scope) => {
        scope.addHook('onRequest', async (req, reply) => { if (req.headers['x-key'] !== 'ok') reply.code(403).send('guarded') })
        await scope.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => { if (req.headers['x-key'] !== 'ok') leaks.push(req.url as string); res.end('secret') }, prefix })
      })
    }
    f.get('/admin-panel', async () => 'panel')
    await f.listen({ port: 0, host: '127.0.0.1' })
    const port = portOf(f.server)
    for (const [path, expected] of cases) {
      const status = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => { res.resume(); resolve(res.statusCode as number) }).on('error', reject)
      })
      t.equal(status, expected(o), `${JSON.stringify(o)} ${path}`)
    }
    const ok = await f.inject({ url: '/secret/x', headers: { 'x-key': 'ok' } })
    t.equal(ok.body, 'secret', 'the guard lets the key through')
    t.same(leaks, [], `${JSON.stringify(o)}: the app never ran without the guard`)
    await f.close()
  }
})

test('without a prefix the app is mounted at the root, behind Fastify routes', async (t) => {
  const f = Fastify()
  f.get('/native', async () => 'native')
  await f.register(mountApp, { app: echo })
  for (const [url, expected] of [['/', '/'], ['/x/y?z', '/x/y?z'], ['/%78/y', '/%78/y']]) {
    const body = (await f.inject(url)).json()
    t.same([body.url, body.originalUrl, body.baseUrl], [expected, url, ''], url)
  }
  t.equal((await f.inject('/native')).body, 'native')
  t.equal((await f.inject('/%zz')).statusCode, 400)
})

test('mounts in encapsulated scopes: prefix + mount prefix, no doubled prefix, scope hooks apply', async (t) => {
  const f = Fastify()
  const hooked: string[] = []
  await f.register(async (v1) => {
    v1.addHook('onRequest', async (req) => { hooked.push(req.url) })
    await v1.register(mountApp, { app: echo, prefix: '/legacy' })
    await v1.register(mountApp, { app: echo, prefix: '/' })
  }, { prefix: '/v1' })
  await f.register(mountApp, { app: echo, prefix: '/a' })
  await f.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => res.end('a/b:' + req.url), prefix: '/a/b' })
  f.get('/a/native', async () => 'native')
  const cases: Array<[string, number, string | null, string | null]> = [
    ['/v1/legacy/x', 200, '/x', '/v1/legacy'],
    ['/v1/legacy', 200, '/', '/v1/legacy'],
    ['/v1/other/y', 200, '/other/y', '/v1'],
    ['/v1', 200, '/', '/v1'],
    ['/v1/v1/legacy/x', 200, '/v1/legacy/x', '/v1'],
    ['/legacy/x', 404, null, null],
    ['/a/x', 200, '/x', '/a']
  ]
  for (const [url, status, appUrl, baseUrl] of cases) {
    const res = await f.inject(url)
    t.equal(res.statusCode, status, url)
    if (appUrl !== null) t.has(res.json(), { url: appUrl, baseUrl }, url)
  }
  t.equal((await f.inject('/a/b/c')).body, 'a/b:/c', 'the more specific mount wins')
  t.equal((await f.inject('/a/native')).body, 'native', 'Fastify routes under the prefix win over the mount')
  t.same(hooked, ['/v1/legacy/x', '/v1/legacy', '/v1/other/y', '/v1', '/v1/v1/legacy/x'], 'the scope\'s hooks ran for its mounts only')
})

test('fall-through: next() reaches Fastify\'s 404 handler with the app\'s changes undone', async (t) => {
  let notFound = 0
  const app: MountHandler = (req, res, next) => {
    res.statusCode = 418
    res.setHeader('x-app', 'leak')
    if (req.url === '/route') return next('route')
    next()
  }
  const f = await build(app, {}, {}, (s) => {
    s.addHook('onRequest', (_req, reply, done) => { reply.raw.setHeader('x-raw', 'kept'); reply.header('x-cors', '*'); done() })
    s.setNotFoundHandler((req, reply) => { notFound++; reply.code(404).send({ nf: req.url }) })
  })
  t.teardown(() => f.close())
  for (const url of ['/legacy/x?y=1', '/legacy/route']) {
    const res = await f.inject(url)
    t.equal(res.statusCode, 404, url)
    t.same(res.json(), { nf: url }, 'the 404 handler sees Fastify\'s request.url')
    t.notOk('x-app' in res.headers, 'headers the app set are dropped')
    t.equal(res.headers['x-raw'], 'kept', 'raw headers set before the mount are kept')
    t.equal(res.headers['x-cors'], '*', 'reply headers set before the mount are kept')
  }
  t.equal(notFound, 2)
  // Express with no matching route falls through too, and the prototypes are put back.
  const e = express()
  e.get('/only', (_req, res) => { res.send('only') })
  const g = await build(e)
  const res = await g.inject('/legacy/none')
  t.equal(res.statusCode, 404)
  t.equal(res.json().message, 'Route GET:/legacy/none not found')
  t.notOk('x-powered-by' in res.headers, 'Express\'s X-Powered-By dropped on fall-through')
  t.equal((await g.inject('/legacy/only')).body, 'only')
  await g.close()
})

test('errors reach Fastify\'s error handler with their status', async (t) => {
  const handled: string[] = []
  const status = (message: string, code: number, key = 'status'): Error => Object.assign(new Error(message), { [key]: code })
  const plain: Record<string, MountHandler> = {
    '/next-err': (_req, _res, next) => next(status('teapot', 418)),
    '/next-string': (_req, _res, next) => next('boom'),
    '/throw': (_req, _res) => { throw status('conflict', 409, 'statusCode') },
    '/reject': async (_req, _res) => { throw status('unprocessable', 422) },
    '/reject-empty': (_req, _res) => Promise.reject(undefined), // eslint-disable-line prefer-promise-reject-errors
    '/late-error': (_req, res, next) => { res.end('done'); next(new Error('late')) },
    '/answer-then-next': (_req, res, next) => { res.end('once'); next() },
    '/double': (_req, _res, next) => { next(status('first', 409)); next() }
  }
  const f = Fastify()
  f.setErrorHandler((err: Error & { status?: number, statusCode?: number }, _req, reply) => {
    handled.push(err.message)
    reply.code(err.statusCode ?? err.status ?? 500).send({ handled: err.message })
  })
  let notFound = 0
  f.setNotFoundHandler((_req, reply) => { notFound++; reply.code(404).send('nf') })
  for (const [prefix, app] of Object.entries(plain)) await f.register(mountApp, { app, prefix })
  const e5 = express()
  e5.get('/async', async () => { throw status('express5 async', 451) })
  e5.get('/sync', () => { throw status('express5 sync', 403) })
  await f.register(mountApp, { app: e5, prefix: '/e5' })
  const e4 = express4()
  e4.get('/next', (_req, _res, next) => next(status('express4 next', 410, 'statusCode')))
  await f.register(mountApp, { app: e4, prefix: '/e4' })
  const cases: Array<[string, number, string]> = [
    ['/next-err', 418, 'teapot'],
    ['/next-string', 500, 'Internal Server Error'],
    ['/throw', 409, 'conflict'],
    ['/reject', 422, 'unprocessable'],
    ['/reject-empty', 500, 'Internal Server Error'],
    ['/e5/async', 451, 'express5 async'],
    ['/e5/sync', 403, 'express5 sync'],
    ['/e4/next', 410, 'express4 next'],
    ['/double', 409, 'first']
  ]
  for (const [url, code, message] of cases) {
    const res = await f.inject(url)
    t.equal(res.statusCode, code, url)
    t.same(res.json(), { handled: message }, url)
  }
  const late = await f.inject('/late-error')
  t.same([late.statusCode, late.body], [200, 'done'], 'an error after the response is ignored: one response')
  const once = await f.inject('/answer-then-next')
  t.same([once.statusCode, once.body, notFound], [200, 'once', 0], 'answer then next(): exactly one response')
  t.equal(handled.length, cases.length, 'the error handler ran once per failing request')
  // Fastify's default error handler keeps err.status too.
  const g = await build((_req: unknown, _res: unknown, next: (e: unknown) => void) => next(status('gone', 410)))
  const gone = await g.inject('/legacy/x')
  t.same([gone.statusCode, gone.json().message], [410, 'gone'])
  await g.close()
})

test('an error after a partial write closes the connection', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const f = Fastify({ logger: { level: 'error', stream } })
  await f.register(mountApp, { app: (_req: http.IncomingMessage, res: http.ServerResponse, next: (e?: unknown) => void) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('part'); setImmediate(() => next(new Error('mid-stream'))) }, prefix: '/p' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const outcome = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/p/x', agent: false }, (res) => {
      let body = ''
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve('end:' + body))
      res.on('error', () => resolve('aborted:' + body))
    }).on('error', (err) => resolve('error:' + err.message))
  })
  t.equal(outcome, 'aborted:part', 'the client sees the partial body and a closed connection, not a complete response')
  t.match(lines.join(''), /failed after the response started/)
})

test('request state: request.url unchanged, onResponse hooks run, hook headers on the app response', async (t) => {
  const seen: string[] = []
  const f = await build(echo, {}, {}, (s) => {
    s.addHook('onRequest', async (_req, reply) => { reply.header('access-control-allow-origin', 'https://site.example') })
    s.addHook('onResponse', async (req) => { seen.push(`${req.url} ${req.headers['x-forwarded-for'] ?? '-'}`) })
  })
  t.teardown(() => f.close())
  const res = await f.inject({ url: '/legacy/x?y=1', headers: { 'x-forwarded-for': '6.6.6.6' } })
  t.equal(res.json().url, '/x?y=1')
  t.equal(res.headers['access-control-allow-origin'], 'https://site.example')
  t.same(seen, ['/legacy/x?y=1 6.6.6.6'], 'onResponse ran once with Fastify\'s url and headers restored')
})

test('bodies: the app reads the stream; Fastify routes keep their parsers', async (t) => {
  const f = Fastify()
  f.post('/native', async (req) => ({ native: req.body }))
  await f.register(mountApp, { app: expressEcho(express), prefix: '/e5' })
  await f.register(mountApp, { app: expressEcho(express4), prefix: '/e4' })
  const text = connect()
  text.use((req: http.IncomingMessage, res: http.ServerResponse) => {
    let data = ''
    req.on('data', (c) => { data += c })
    req.on('end', () => res.end(`${req.headers['content-type'] ?? 'none'}:${data}`))
  })
  await f.register(mountApp, { app: text, prefix: '/raw' })
  t.same((await f.inject({ method: 'POST', url: '/native', payload: { a: 1 } })).json(), { native: { a: 1 } })
  t.same((await f.inject({ method: 'POST', url: '/e5/x', payload: { b: 2 } })).json().body, { b: 2 })
  t.same((await f.inject({ method: 'PUT', url: '/e4/x', payload: { c: 3 } })).json().body, { c: 3 })
  t.equal((await f.inject({ method: 'POST', url: '/raw/x', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).body, 'application/x-www-form-urlencoded:a=1')
  t.equal((await f.inject({ method: 'POST', url: '/raw/x', payload: Buffer.from('bytes') })).body, 'none:bytes')
  t.equal((await f.inject({ method: 'DELETE', url: '/raw/x', payload: 'x', headers: { 'content-type': 'text/plain' } })).body, 'text/plain:x')
})

test('HEAD, OPTIONS and upgrade requests', async (t) => {
  const app = express()
  app.get('/page', (_req, res) => { res.send('hello') })
  const f = await build(app)
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const head = await f.inject({ method: 'HEAD', url: '/legacy/page' })
  t.same([head.statusCode, head.headers['content-length'], head.body], [200, '5', ''], 'HEAD is answered by the app\'s GET route, without a body')
  const options = await f.inject({ method: 'OPTIONS', url: '/legacy/page' })
  t.same([options.statusCode, options.headers.allow], [200, 'GET, HEAD'], 'OPTIONS is answered by the app')
  const ws = await f.inject({ url: '/legacy/page', headers: { connection: 'Upgrade', upgrade: 'websocket' } })
  t.equal(ws.statusCode, 501, 'a WebSocket upgrade is refused')
  t.equal(ws.json().code, 'FST_ERR_PROXY_FIX_UPGRADE_REFUSED')
  t.equal(ws.headers.connection, 'close')
  const h2c = await f.inject({ url: '/legacy/page', headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c' } })
  t.equal(h2c.body, 'hello', 'other upgrade tokens are ignored, as a server may')
  const wire = await raw(portOf(f.server), 'GET /legacy/page HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', { end: 'never' })
  t.match(wire, /^HTTP\/1\.1 501 /, 'over a real socket: refused, connection closed, no hang')
})

test('trust: true on the mount logs a warning', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const f = await build(echo, { trust: true }, { logger: { level: 'warn', stream } })
  t.match(lines.join(''), /mountApp: trust is true/)
  t.equal((await f.inject({ url: '/legacy/x', remoteAddress: '6.6.6.6', headers: { 'x-forwarded-for': '1.2.3.4' } })).json().headers['x-forwarded-for'], '1.2.3.4')
  await f.close()
})

test('restore on end: onResponse hooks see the full URL and the headers as sent; onSend hooks run only for what Fastify answers', async (t) => {
  const hooks: string[] = []
  const inApp: string[] = []
  const show = (where: string, url: string, headers: http.IncomingHttpHeaders): string => `${where} ${url} ${String(headers['x-forwarded-for'] ?? '-')}`
  const app = express()
  app.use((req, _res, next) => { inApp.push(show('app', req.url, req.headers)); next() })
  app.get('/send', (req, res) => { res.send(`send ${req.url}`) })
  app.get('/json', (req, res) => { res.json({ url: req.url, xff: req.headers['x-forwarded-for'] ?? null }) })
  app.get('/end', (req, res) => { res.end(`end ${req.url}`) })
  app.get('/flowed', (req, res) => { res.type('text/plain; format=flowed').send(`flowed ${req.url}`) })
  app.get('/stream', (req, res) => {
    res.write('a')
    setTimeout(() => { inApp.push(show('app before end', req.url, req.headers)); res.end('b') }, 5)
  })
  app.get('/fail', (_req, _res, next) => { next(Object.assign(new Error('failed'), { status: 409 })) })
  const f = Fastify()
  f.addHook('onSend', async (req, _reply, payload) => { hooks.push(show('root onSend', req.url, req.headers)); return payload })
  f.addHook('onResponse', async (req) => { hooks.push(show('onResponse', req.url, req.headers)) })
  await f.register(async (scope) => {
    scope.addHook('onSend', async (req, _reply, payload) => { hooks.push(show('scope onSend', req.url, req.headers)); return payload })
    await scope.register(mountApp, { app, prefix: '/legacy' })
    await scope.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => { inApp.push(show('plain', req.url as string, req.headers)); res.end('plain') }, prefix: '/plain' })
  })
  t.teardown(() => f.close())
  const headers = { 'x-forwarded-for': '6.6.6.6' }
  const cases: Array<[string, string, number, string[], string[]]> = [
    // [url, body, status, what the app saw, what Fastify's hooks saw]: the app answers without
    // Fastify's reply.send (res.send, res.json, Express's own send, res.end, a stream), so only
    // onResponse runs; an error the app passes on is answered by Fastify, onSend hooks included.
    ['/legacy/send?q=1', 'send /send?q=1', 200, ['app /send?q=1 -'], ['onResponse /legacy/send?q=1 6.6.6.6']],
    ['/legacy/json', '{"url":"/json","xff":null}', 200, ['app /json -'], ['onResponse /legacy/json 6.6.6.6']],
    ['/legacy/flowed', 'flowed /flowed', 200, ['app /flowed -'], ['onResponse /legacy/flowed 6.6.6.6']],
    ['/legacy/end', 'end /end', 200, ['app /end -'], ['onResponse /legacy/end 6.6.6.6']],
    ['/legacy/stream', 'ab', 200, ['app /stream -', 'app before end /stream -'], ['onResponse /legacy/stream 6.6.6.6']],
    ['/plain/x', 'plain', 200, ['plain /x -'], ['onResponse /plain/x 6.6.6.6']],
    ['/legacy/fail', '', 409, ['app /fail -'], ['root onSend /legacy/fail 6.6.6.6', 'scope onSend /legacy/fail 6.6.6.6', 'onResponse /legacy/fail 6.6.6.6']]
  ]
  await f.listen({ port: 0, host: '127.0.0.1' })
  const port = portOf(f.server)
  for (const [url, body, status, app, fastify] of cases) {
    hooks.length = 0
    inApp.length = 0
    const res = await fetch(`http://127.0.0.1:${port}${url}`, { headers })
    const text = await res.text()
    await new Promise((resolve) => setTimeout(resolve, 5))
    t.equal(res.status, status, `${url}: status`)
    if (body !== '') t.equal(text, body, `${url}: body`)
    t.same(inApp, app, `${url}: the app saw its own URL and no X-Forwarded-For from an untrusted client, up to res.end`)
    t.same(hooks, fastify, `${url}: Fastify's hooks ran as listed, with the full URL and the headers as sent`)
  }
})

test('restore on end: the app\'s req.url and headers up to res.end, in a middleware that wraps res.end', async (t) => {
  const seen: string[] = []
  const app = express()
  app.use((req, res, next) => {
    const end = res.end as (...a: unknown[]) => express.Response
    res.end = function (this: express.Response, ...args: unknown[]) {
      seen.push(`${req.url} ${String(req.headers['x-forwarded-for'] ?? '-')}`)
      return end.apply(this, args)
    } as express.Response['end']
    next()
  })
  app.get('/end', (_req, res) => { res.end('end') })
  app.get('/send', (_req, res) => { res.send('send') })
  app.get('/fallback', (_req, res) => { res.type('text/plain; format=flowed').send('fallback') })
  const f = await build(app)
  t.teardown(() => f.close())
  for (const path of ['/end', '/send', '/fallback']) {
    seen.length = 0
    const res = await f.inject({ url: '/legacy' + path, headers: { 'x-forwarded-for': '6.6.6.6' } })
    t.equal(res.statusCode, 200, path)
    t.same(seen, [`${path} -`], `${path}: the wrapper sees the app's url and headers`)
  }
})

test('onSend hooks never see a mounted app\'s response: res.send, res.json, res.end and Express\'s own send alike', async (t) => {
  const app = express()
  app.get('/send', (_req, res) => { res.send('hello') })
  app.get('/json', (_req, res) => { res.json({ a: 1 }) })
  app.get('/end', (_req, res) => { res.end('hello') })
  app.get('/flowed', (_req, res) => { res.type('text/plain; format=flowed').send('hello') })
  app.get('/fail', (_req, _res, next) => { next(Object.assign(new Error('failed'), { status: 409 })) })
  let ran = 0
  const f = await build(app, {}, {}, (s) => {
    s.addHook('onSend', async (_req, reply, payload) => {
      ran++
      reply.header('x-on-send', '1')
      return typeof payload === 'string' ? payload.toUpperCase() : payload
    })
  })
  t.teardown(() => f.close())
  const answered: Array<[string, 'GET' | 'HEAD', string]> = [
    ['/send', 'GET', 'hello'],
    ['/json', 'GET', '{"a":1}'],
    ['/end', 'GET', 'hello'],
    ['/flowed', 'GET', 'hello'],
    ['/send', 'HEAD', '']
  ]
  for (const [path, method, body] of answered) {
    const res = await f.inject({ method, url: '/legacy' + path })
    t.same([res.statusCode, res.body, res.headers['x-on-send']], [200, body, undefined], `${method} ${path}: the app's answer as it wrote it, no onSend hook`)
  }
  const send = await f.inject('/legacy/send')
  t.same([send.headers['content-length'], send.headers.etag], ['5', 'W/"5-qvTGHdzF6KLavt4PO0gs2a6pQ00"'], 'res.send: Express\'s Content-Length and ETag')
  t.equal(ran, 0, 'the hook never ran for the app\'s answers')
  const fail = await f.inject('/legacy/fail')
  t.same([fail.statusCode, fail.headers['x-on-send'], ran], [409, '1', 1], 'an error the app passes on is answered by Fastify, through its onSend hooks')
  const missing = await f.inject('/legacy/none')
  t.same([missing.statusCode, missing.headers['x-on-send'], ran], [404, '1', 2], 'a fall-through too')
})

test('fall-through: the own end and send properties are deleted', async (t) => {
  const own: string[] = []
  const check = (where: string, raw: http.ServerResponse): void => {
    own.push(`${where} end:${Object.hasOwn(raw, 'end')} send:${Object.hasOwn(raw, 'send')}`)
  }
  const e = express()
  e.get('/only', (_req, res) => { res.send('only') })
  const f = Fastify()
  f.addHook('onSend', async (_req, reply, payload) => { check('onSend', reply.raw); return payload })
  f.addHook('onResponse', async (_req, reply) => { check('onResponse', reply.raw) })
  f.setNotFoundHandler((_req, reply) => { check('404', reply.raw); reply.code(404).send('nf') })
  await f.register(mountApp, { app: e, prefix: '/e' })
  await f.register(mountApp, { app: (_req: unknown, _res: unknown, next: () => void) => next(), prefix: '/plain' })
  await f.register(mountApp, { app: (_req: unknown, _res: unknown, next: (err: unknown) => void) => next(new Error('x')), prefix: '/err' })
  t.teardown(() => f.close())
  for (const url of ['/e/none', '/plain/x', '/err/x']) {
    own.length = 0
    const res = await f.inject(url)
    t.equal(res.statusCode, url === '/err/x' ? 500 : 404, url)
    const expected = url === '/err/x' ? ['onSend', 'onResponse'] : ['404', 'onSend', 'onResponse']
    t.same(own, expected.map((w) => `${w} end:false send:false`), `${url}: no own end or send left on the response`)
  }
  own.length = 0
  t.equal((await f.inject('/e/only')).body, 'only')
  t.same(own, ['onResponse end:true send:true'], 'an answered Express request keeps them (the response is over); no onSend hook runs for it')
})

test('an end wrapper that sets a header (as compression-like middleware do)', async (t) => {
  const app = express()
  app.use((_req, res, next) => {
    const end = res.end as (...a: unknown[]) => express.Response
    res.end = function (this: express.Response, ...a: unknown[]) {
      res.setHeader('x-wrapped', '1')
      return end.apply(this, a)
    } as express.Response['end']
    next()
  })
  app.get('/end', (_req, res) => { res.end('end') })
  app.get('/head', (_req, res) => { res.send('head') })
  app.get('/send', (_req, res) => { res.send('send') })
  app.get('/json', (_req, res) => { res.json({ a: 1 }) })
  const plain = connect()
  plain.use((_req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => {
    const end = res.end as (...a: unknown[]) => http.ServerResponse
    res.end = function (this: http.ServerResponse, ...a: unknown[]) { res.setHeader('x-wrapped', '1'); return end.apply(this, a) } as http.ServerResponse['end']
    next()
  })
  plain.use((_req: http.IncomingMessage, res: http.ServerResponse) => { res.end('plain') })
  const f = Fastify()
  await f.register(mountApp, { app, prefix: '/legacy' })
  await f.register(mountApp, { app: plain, prefix: '/plain' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const get = (path: string, method = 'GET'): Promise<{ status: number, wrapped: string | null, body: string } | string> =>
    fetch(`http://127.0.0.1:${port}${path}`, { method }).then(async (r) => ({ status: r.status, wrapped: r.headers.get('x-wrapped'), body: await r.text() }), (err: Error) => `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`)
  t.same(await get('/legacy/end'), { status: 200, wrapped: '1', body: 'end' }, 'Express res.end')
  t.same(await get('/legacy/head', 'HEAD'), { status: 200, wrapped: '1', body: '' }, 'Express HEAD (Express\'s own send)')
  t.same(await get('/plain/x'), { status: 200, wrapped: '1', body: 'plain' }, 'a Connect app')
  t.same(await get('/legacy/send'), { status: 200, wrapped: '1', body: 'send' }, 'Express res.send (sendDirect): the wrapper\'s header is sent')
  t.same(await get('/legacy/json'), { status: 200, wrapped: '1', body: '{"a":1}' }, 'Express res.json (sendDirect)')
  t.same(await get('/legacy/end'), { status: 200, wrapped: '1', body: 'end' }, 'the server is still up')
})

test('headers set by Fastify hooks and by the app: the app\'s own value wins, the same on every path', async (t) => {
  const app = express()
  const own = (res: express.Response): void => { res.set('X-Frame-Options', 'SAMEORIGIN'); res.removeHeader('x-hook') }
  app.get('/send', (_req, res) => { own(res); res.send('x') })
  app.get('/end', (_req, res) => { own(res); res.end('x') })
  app.get('/plain-send', (_req, res) => { res.send('x') })
  app.get('/plain-end', (_req, res) => { res.end('x') })
  const f = await build(app, {}, {}, (s) => {
    s.addHook('onRequest', async (_req, reply) => { reply.header('x-frame-options', 'DENY').header('x-hook', 'h') })
  })
  t.teardown(() => f.close())
  const paths: Array<[string, 'GET' | 'HEAD', string]> = [
    ['res.end', 'GET', '/end'],
    ['HEAD (Express\'s own send)', 'HEAD', '/send'],
    ['res.send (sendDirect)', 'GET', '/send']
  ]
  const removed: unknown[] = []
  for (const [name, method, path] of paths) {
    const res = await f.inject({ method, url: '/legacy' + path })
    t.equal(res.statusCode, 200, name)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${name}: the app's X-Frame-Options wins over the hook's`)
    removed.push(res.headers['x-hook'])
    const plain = await f.inject({ method, url: '/legacy/plain' + (path === '/end' ? '-end' : '-send') })
    t.same([plain.headers['x-frame-options'], plain.headers['x-hook']], ['DENY', 'h'], `${name}: the hooks' headers arrive when the app sets none`)
  }
  t.same(removed, [undefined, undefined, undefined], 'a hook\'s header the app removed stays removed on every path')
})

test('direct clients and proxied requests: the headers the app gets', async (t) => {
  const inApp: Array<http.IncomingHttpHeaders> = []
  const inFastify: Array<http.IncomingHttpHeaders> = []
  const app = express()
  app.get('/x', (req, res) => { inApp.push(req.headers); res.send('x') })
  const f = Fastify()
  await f.register(proxyFix, { trust: '10.0.0.1' })
  f.addHook('onRequest', async (req) => { inFastify.push(req.raw.headers) })
  f.addHook('onResponse', async (req) => { inFastify.push(req.raw.headers) })
  await f.register(mountApp, { app, prefix: '/legacy' })
  t.teardown(() => f.close())
  const direct = { host: 'app.example', 'user-agent': 'ua', 'x-custom': 'c' }
  await f.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: direct })
  t.same(inApp[0], inFastify[0], 'a direct client: the app gets the headers as sent')
  t.equal(inApp[0], inFastify[0], 'the same object: no copy')
  t.equal(inFastify[1], inFastify[0], 'Fastify has its headers object back')
  const proxied = { ...direct, 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example' }
  await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: proxied })
  t.not(inApp[1], inFastify[2], 'a trusted proxy: the app gets its own headers object')
  t.has(inApp[1], { host: 'pub.example', 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example', 'x-custom': 'c' }, 'rewritten to the corrected values')
  t.has(inFastify[3], { host: 'app.example', 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-host': 'pub.example' }, 'Fastify\'s hooks see the headers as sent')
  t.equal(inFastify[3], inFastify[2], 'Fastify has its headers object back')
  await f.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: proxied })
  t.notOk('x-forwarded-for' in inApp[2], 'an untrusted peer: forwarded headers removed')
  t.equal(inApp[2].host, 'app.example', 'Host as sent')
})

test('a client-IP or hostRewrite header alone, from an untrusted peer, never reaches the app either', async (t) => {
  const f = await build(echo, { trust: '10.0.0.1', clientIpHeader: 'cf-connecting-ip' }, {}, (s) => {
    attach(s, compileOptions({ header: 'x-fhost', trust: '10.0.0.1' }, 'hostRewrite'))
  })
  t.teardown(() => f.close())
  for (const sent of [{ 'cf-connecting-ip': '198.51.100.4' }, { 'x-fhost': 'public.example' }]) {
    const res = await f.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: { host: 'internal', ...sent } })
    const { headers } = res.json()
    t.notOk('cf-connecting-ip' in headers, `${Object.keys(sent)[0]}: client-IP header removed`)
    t.notOk('x-fhost' in headers, `${Object.keys(sent)[0]}: hostRewrite header removed`)
    t.notOk('x-forwarded-for' in headers, `${Object.keys(sent)[0]}: nothing written back`)
    t.equal(headers.host, 'internal', `${Object.keys(sent)[0]}: Host as sent`)
  }
})

test('no proxyFix, Fastify trustProxy: true: the app gets Fastify\'s values, read from X-Forwarded-*', async (t) => {
  for (const [name, factory] of [['express 5', express], ['express 4', express4]] as const) {
    const seen: Json[] = []
    const f = await build(expressEcho(factory), {}, { trustProxy: true }, (s) => {
      s.addHook('onRequest', async (req) => { seen.push({ ip: req.ip, ips: req.ips, protocol: req.protocol, host: req.host, hostname: req.hostname }) })
    })
    const exp4 = factory === express4
    const headers = { host: 'internal:3000', 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'other.example, pub.example:8443' }
    const body = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers })).json()
    t.same(seen[0], { ip: '6.6.6.6', ips: ['10.0.0.1', '198.51.100.7', '6.6.6.6'], protocol: 'https', host: 'pub.example:8443', hostname: 'pub.example' }, `${name}: Fastify's own reading (the last X-Forwarded-Proto and -Host)`)
    t.has(body, { ip: '6.6.6.6', protocol: 'https', secure: true, hostname: 'pub.example', host: exp4 ? 'pub.example' : 'pub.example:8443' }, `${name}: the app gets the same values`)
    t.same(body.ips, ['6.6.6.6', '198.51.100.7'], `${name}: ips in Express order, the socket left out`)
    t.has(body.headers, { host: 'pub.example:8443', 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example:8443' }, `${name}: the headers carry the corrected values`)
    const direct = (await f.inject({ url: '/legacy/x', remoteAddress: '10.0.0.1', headers: { host: 'internal:3000' } })).json()
    t.same(seen[1], { ip: '10.0.0.1', ips: ['10.0.0.1'], protocol: 'http', host: 'internal:3000', hostname: 'internal' }, `${name}: Fastify, no forwarded headers`)
    t.has(direct, { ip: '10.0.0.1', ips: [], protocol: 'http', secure: false, hostname: 'internal', host: exp4 ? 'internal' : 'internal:3000' }, `${name}: the app, no forwarded headers`)
    for (const h of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']) t.notOk(h in direct.headers, `${name}: no ${h} invented`)
    await f.close()
  }
})

/** A plain Connect handler that reports the values the mount gave it. */
const report: MountHandler = (req, res) => {
  const r = req as any
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ ip: r.ip, ips: r.ips, protocol: r.protocol, hostname: r.hostname, headers: req.headers }))
}

/** A Fastify server with `report` at /legacy, Express 5 at /e5 and Express 4 at /e4, recording Fastify's own values. */
async function reporting (server: FastifyServerOptions = {}): Promise<{ f: FastifyInstance, seen: Json[] }> {
  const seen: Json[] = []
  const f = Fastify(server)
  f.addHook('onRequest', async (req) => { seen.push({ ip: req.ip, protocol: req.protocol, host: req.host, hostname: req.hostname }) })
  await f.register(mountApp, { app: report, prefix: '/legacy' })
  await f.register(mountApp, { app: expressEcho(express), prefix: '/e5' })
  await f.register(mountApp, { app: expressEcho(express4), prefix: '/e4' })
  return { f, seen }
}

test('no proxyFix, no trustProxy: the socket\'s values and the Host header, over real connections', async (t) => {
  const { f, seen } = await reporting()
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const get = (url: string, headers: http.OutgoingHttpHeaders): Promise<Json> => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: url, headers, agent: false }, (res) => {
      let data = ''
      res.on('data', (c) => { data += c })
      res.on('end', () => resolve(JSON.parse(data)))
    }).on('error', reject)
  })
  const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }
  const hosts: Array<[string, string]> = [['app.example:3000', 'app.example'], ['app.example', 'app.example'], ['[::1]:3000', '[::1]'], ['[::1]', '[::1]'], ['127.0.0.1:8080', '127.0.0.1']]
  for (const [host, hostname] of hosts) {
    for (const prefix of ['/legacy', '/e5', '/e4']) {
      seen.length = 0
      const body = await get(prefix + '/x', { host, ...spoof })
      const label = `${prefix} Host ${host}`
      t.same(seen[0], { ip: '127.0.0.1', protocol: 'http', host, hostname }, `${label}: Fastify's own values`)
      t.has(body, { ip: '127.0.0.1', ips: [], protocol: 'http', hostname }, `${label}: the app gets the same`)
      t.equal(body.headers.host, host, `${label}: Host as sent`)
      for (const h of Object.keys(spoof)) t.notOk(h in body.headers, `${label}: ${h} from an untrusted client removed`)
      if (prefix === '/e5') t.equal(body.host, host, `${label}: Express 5's req.host`)
      if (prefix === '/e4') t.same([body.host, body.secure], [hostname, false], `${label}: Express 4's req.host (the hostname) and req.secure`)
    }
  }
  // HTTP/1.0 allows a request without Host: Fastify's host and hostname are then ''.
  for (const prefix of ['/legacy', '/e5', '/e4']) {
    seen.length = 0
    const answer = await raw(portOf(f.server), `GET ${prefix}/x HTTP/1.0\r\n\r\n`, { end: 'never' })
    t.match(answer, /^HTTP\/1\.1 200 /, `${prefix} HTTP/1.0 without Host: answered`)
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
    t.same(seen[0], { ip: '127.0.0.1', protocol: 'http', host: '', hostname: '' }, `${prefix} without Host: Fastify's values`)
    t.has(body, { ip: '127.0.0.1', ips: [], protocol: 'http', hostname: '' }, `${prefix} without Host: the app's hostname is '' too`)
    t.notOk('host' in body.headers, `${prefix} without Host: none invented`)
    // Express 5 reads req.host from the headers itself: no Host, no host.
    if (prefix === '/e5') t.notOk('host' in body, 'Express 5: req.host undefined')
    if (prefix === '/e4') t.equal(body.host, '', 'Express 4: req.host is the hostname, \'\'')
  }
})

const openssl = which('openssl')

test('no proxyFix, no trustProxy, over TLS: protocol https from the socket', { skip: openssl === null ? 'openssl is not installed' : false }, async (t) => {
  const { key, cert } = selfSigned(openssl as string, workDir(t, 'fpf-mount-tls-'))
  const { f, seen } = await reporting({ https: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } } as FastifyServerOptions)
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  for (const prefix of ['/legacy', '/e5', '/e4']) {
    seen.length = 0
    const body = await new Promise<Json>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: prefix + '/x', headers: { host: 'secure.example:8443', 'x-forwarded-proto': 'http' }, agent: false, rejectUnauthorized: false }, (res) => {
        let data = ''
        res.on('data', (c) => { data += c })
        res.on('end', () => resolve(JSON.parse(data)))
      }).on('error', reject)
    })
    t.same(seen[0], { ip: '127.0.0.1', protocol: 'https', host: 'secure.example:8443', hostname: 'secure.example' }, `${prefix}: Fastify's values`)
    t.has(body, { ip: '127.0.0.1', ips: [], protocol: 'https', hostname: 'secure.example' }, `${prefix}: the app gets https`)
    t.notOk('x-forwarded-proto' in body.headers, `${prefix}: the untrusted X-Forwarded-Proto removed, none written back`)
    if (prefix !== '/legacy') t.equal(body.secure, true, `${prefix}: req.secure`)
  }
})

test('no proxyFix, no trustProxy, HTTP/2: the host is :authority', async (t) => {
  const seen: Json[] = []
  const answered: string[] = []
  const f = Fastify({ http2: true })
  f.addHook('onRequest', async (req) => { seen.push({ ip: req.ip, protocol: req.protocol, host: req.host, hostname: req.hostname, hostHeader: req.headers.host }) })
  await f.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => { answered.push(req.url as string); res.end(JSON.stringify({ hostname: (req as any).hostname, protocol: (req as any).protocol, ...(req.headers['x-forwarded-for'] === undefined ? {} : { xff: req.headers['x-forwarded-for'] }) })) }, prefix: '/legacy' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => f.close())
  const port = portOf(f.server)
  const session = http2.connect(`http://127.0.0.1:${port}`)
  t.teardown(() => session.close())
  const stream = session.request({ ':path': '/legacy/x' })
  let status = 0
  let data = ''
  stream.on('response', (headers) => { status = headers[':status'] as number })
  stream.on('data', (c) => { data += c })
  await new Promise((resolve) => stream.on('end', resolve))
  t.same(seen[0], { ip: '127.0.0.1', protocol: 'http', host: `127.0.0.1:${port}`, hostname: '127.0.0.1', hostHeader: undefined }, 'Fastify reads the host from :authority (no Host header over HTTP/2)')
  t.same({ status, data }, { status: 200, data: JSON.stringify({ hostname: '127.0.0.1', protocol: 'http' }) }, 'the app answers with the hostname from :authority')
  t.comment(`HTTP/2 through the mount: ${status} ${data}; the app ran ${answered.length} times`)
  // Http2ServerRequest's headers has a getter only: the untrusted X-Forwarded-For is still removed.
  const spoofed = session.request({ ':path': '/legacy/y', 'x-forwarded-for': '6.6.6.6' })
  let body = ''
  spoofed.on('data', (c) => { body += c })
  await new Promise((resolve) => spoofed.on('end', resolve))
  t.same(JSON.parse(body), { hostname: '127.0.0.1', protocol: 'http' }, 'HTTP/2: the spoofed X-Forwarded-For never reaches the app')
  t.equal(seen[1].hostHeader, undefined, 'HTTP/2: Fastify\'s headers are its own again')
})

test('no trustProxy, but a plugin decorates request.ips: Fastify\'s getters are used', async (t) => {
  const f = await build(report, {}, {}, (s) => { s.decorateRequest('ips', undefined) })
  t.teardown(() => f.close())
  const body = (await f.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: { host: 'app.example:3000', 'x-forwarded-for': '6.6.6.6' } })).json()
  t.has(body, { ip: '10.9.9.9', ips: [], protocol: 'http', hostname: 'app.example' }, 'request.ips undefined: no ips; the rest from Fastify\'s getters')
  t.notOk('x-forwarded-for' in body.headers, 'X-Forwarded-For from an untrusted client removed')
  const g = await build(report, {}, {}, (s) => { s.decorateRequest('ips', null as unknown as undefined) })
  t.teardown(() => g.close())
  const res = await g.inject({ url: '/legacy/x', remoteAddress: '10.9.9.9', headers: { host: 'app.example' } })
  t.equal(res.statusCode, 200, 'request.ips decorated as null: answered like undefined')
  t.comment(`request.ips decorated as null: ${res.statusCode} ${res.body}`)
})
