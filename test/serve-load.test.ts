import { test } from 'tap'
import Fastify from 'fastify'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { CliError } from '../lib/server/cli-error'
import { classify, guardListen, loadError, loadModule, OwnListenError, whereIn } from '../lib/server/load'
import { escapeHtml, hopsOf, renderHtml, wantsHtml, whoami } from '../lib/server/whoami'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { compileOptions } from '../lib/core/options'
import { resolve, WalkRecord } from '../lib/core/resolve'
import { makePeer, type Peer } from '../lib/core/peer'

type Json = Record<string, any>
const fixtures = path.join(__dirname, 'fixtures')

function tmpdir (t: Tap.Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-load-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('classify: apps, handlers and plugins', async (t) => {
  const express = require('express')
  const connect = require('connect')
  const fp = require('fastify-plugin')
  t.equal(classify(express())?.kind, 'mount', 'express app')
  t.equal(classify(express.Router())?.kind, 'mount', 'express router')
  t.equal(classify(connect())?.kind, 'mount', 'connect app')
  t.equal(classify({ handle: () => {} })?.kind, 'mount', 'object with handle')
  t.equal(classify((_req: unknown, _res: unknown, _next: unknown) => {})?.kind, 'mount', '(req, res, next)')
  t.equal(classify((_req: unknown, _res: unknown) => {})?.kind, 'mount', '(req, res)')
  t.equal(classify(async (_f: unknown, _o: unknown) => {})?.kind, 'plugin', 'async (fastify, opts)')
  t.equal(classify(async () => {})?.kind, 'plugin', 'async ()')
  t.equal(classify(fp((_f: unknown, _o: unknown, done: () => void) => done()))?.kind, 'plugin', 'fastify-plugin wrapped callback plugin')
  t.equal(classify(async (_a: unknown, _b: unknown, _c: unknown) => {})?.kind, 'mount', 'async (req, res, next)')
  t.equal(classify((_a: unknown) => {}), null, 'one parameter')
  t.equal(classify((_a: unknown, _b: unknown, _c: unknown, _d: unknown) => {}), null, 'an error handler')
  t.equal(classify({}), null)
  t.equal(classify(null), null)
  t.equal(classify(42), null)
})

test('loadModule: CommonJS and ESM, default, named and module:export, relative to cwd', async (t) => {
  const cases: Array<[string, string]> = [
    ['express-app.js', 'mount'], ['connect-app.js', 'mount'], ['plain-fn.js', 'mount'], ['fastify-plugin.js', 'plugin'],
    ['callback-plugin.js', 'plugin'], ['esm-app.mjs', 'mount'], ['esm-named.mjs', 'mount'], ['transpiled.js', 'plugin']
  ]
  for (const [file, kind] of cases) t.equal((await loadModule(file, null, fixtures)).kind, kind, file)
  t.equal((await loadModule('./fixtures/plain-fn.js', null, __dirname)).kind, 'mount', 'a ./ path')
  t.equal((await loadModule('named-exports.js', 'api', fixtures)).kind, 'plugin')
  t.equal((await loadModule('named-exports.js', 'admin', fixtures)).kind, 'mount')
  t.equal((await loadModule('esm-named.mjs', 'app', fixtures)).kind, 'mount')
  await t.rejects(loadModule('named-exports.js', 'count', fixtures), { message: /^named-exports.js:count is not an app: .*\(found a number\)$/ })
  await t.rejects(loadModule('named-exports.js', 'nope', fixtures), { message: /\(found no such export\)$/ })
  await t.rejects(loadModule('missing.js', null, fixtures), { message: `cannot find missing.js (looked for ${path.join(fixtures, 'missing.js')})` })
  await t.rejects(loadModule('not-an-app.js', null, fixtures), { message: /^not-an-app.js does not export an app: .*\(found an object\)$/ })
  // A load error names the file and the line.
  await t.rejects(loadModule('throws.js', null, fixtures), { message: 'cannot load throws.js: this module fails to load (throws.js:3)' })
  await t.rejects(loadModule('syntax-error.js', null, fixtures), { message: /^cannot load syntax-error.js: .* \(syntax-error.js:\d\)$/ })
  const dir = tmpdir(t)
  const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text)
  write('one.js', 'module.exports = (x) => x\n')
  write('nul.js', 'module.exports = null\n')
  write('str.js', 'module.exports = "app"\n')
  write('arr.mjs', 'export default []\n')
  write('many.js', 'module.exports = (a, b, c, d) => a\n')
  write('rejects.mjs', 'await Promise.reject(undefined)\n')
  write('dep.js', '\n\nrequire("no-such-package-here")\n')
  await t.rejects(loadModule('one.js', null, dir), { message: /\(found a function of 1 parameter\)$/ })
  await t.rejects(loadModule('many.js', null, dir), { message: /\(found a function of 4 parameters\)$/ })
  await t.rejects(loadModule('nul.js', null, dir), { message: /\(found null\)$/ })
  await t.rejects(loadModule('str.js', null, dir), { message: /\(found a string\)$/ })
  await t.rejects(loadModule('arr.mjs', null, dir), { message: /\(found an array\)$/ })
  await t.rejects(loadModule('rejects.mjs', null, dir), { message: 'cannot load rejects.mjs: undefined' })
  await t.rejects(loadModule('dep.js', null, dir), { message: "cannot load dep.js: Cannot find module 'no-such-package-here' (dep.js:3)" })
})

test('whereIn and loadError: the first frame in the user\'s code', async (t) => {
  const stack = 'Error: x\n    at f (node:internal/process/task_queues:95:5)\n    at g (/srv/node_modules/express/index.js:1:1)\n' +
    `    at h (${path.join(__dirname, '..', 'lib', 'server', 'load.ts')}:3:3)\n    at i (file:///srv/app/my%20app.mjs:12:7)`
  t.equal(whereIn(stack, '/srv/app'), 'my app.mjs:12')
  t.equal(whereIn(stack, '/srv/app/my app.mjs'), '/srv/app/my app.mjs:12', 'the file itself as cwd')
  t.equal(whereIn('no frames', '/'), null)
  t.equal(whereIn(undefined, '/'), null)
  const own = new CliError('mine')
  t.equal(loadError('a.js', own, '/'), own)
  t.equal(loadError('a.js', 'text', '/').message, 'cannot load a.js: text')
})

test('guardListen: a listen() of the app\'s own is refused, sync or async, and serve\'s own allowed', async (t) => {
  const guard = guardListen('app.js', __dirname)
  const mine = http.createServer()
  guard.allow(mine)
  await new Promise<void>((resolve) => mine.listen(0, '127.0.0.1', resolve))
  mine.close()
  const theirs = http.createServer()
  t.throws(() => theirs.listen(0), { message: /^app.js calls listen\(\)/ })
  const f = Fastify()
  const listening = f.listen({ port: 0 })
  await t.rejects(listening, { message: /^app.js calls listen\(\)/ })
  // A floating rejection of the refused listen is not an unhandled rejection: serve reports it.
  const swallow = process.listeners('unhandledRejection').at(-1) as (r: unknown) => void
  t.doesNotThrow(() => swallow(new OwnListenError('swallowed')))
  t.match(guard.refused()?.message, /^app.js calls listen\(\) at serve-load.test.ts:\d+ while being served: export the app/)
  guard.release()
  await f.close()
  t.notOk(theirs.listening)
  // Other unhandled rejections keep Node's default: they are thrown.
  const other = guardListen('x', __dirname)
  const listener = process.listeners('unhandledRejection').at(-1) as (r: unknown) => void
  t.throws(() => listener(new Error('not ours')), /not ours/)
  other.release()
  t.equal(other.refused(), null)
})

test('wantsHtml and escapeHtml', async (t) => {
  t.equal(wantsHtml(undefined), false)
  t.equal(wantsHtml('*/*'), false)
  t.equal(wantsHtml('application/json'), false)
  t.equal(wantsHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true, 'a browser')
  t.equal(wantsHtml('application/json, text/html;q=0.5'), false)
  t.equal(wantsHtml('text/html;q=0.5, application/json;q=0.4'), true)
  t.equal(wantsHtml('text/html, application/json'), false, 'a tie goes to JSON')
  t.equal(wantsHtml('text/html;q=0'), false)
  t.equal(wantsHtml('TEXT/HTML; q=bad'), false, 'an unreadable q is 0')
  t.equal(escapeHtml('<script>alert("x")</script> & \'y\''), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;')
})

test('hopsOf: the socket, then X-Forwarded-For from the right', async (t) => {
  const plan = compileOptions({ trust: 'loopback,unix' }, 'proxyFix')
  const roles = (peer: string | undefined | Peer, xff?: string): string[] => {
    const headers = xff === undefined ? {} : { 'x-forwarded-for': xff }
    const record = new WalkRecord()
    return hopsOf(resolve(peer, false, headers, plan, undefined, record), record).map((h) => `${h.address}:${h.role}`)
  }
  t.strictSame(roles('127.0.0.1'), ['127.0.0.1:client'])
  t.strictSame(roles('127.0.0.1', '6.6.6.6, 203.0.113.9, 127.0.0.2'), ['127.0.0.1:trusted proxy', '127.0.0.2:trusted proxy', '203.0.113.9:client', '6.6.6.6:forged'])
  t.strictSame(roles('203.0.113.1', '6.6.6.6'), ['203.0.113.1:client', '6.6.6.6:ignored'], 'an untrusted peer')
  t.strictSame(roles(makePeer(undefined, true)), ['unix socket:client'])
  t.strictSame(roles(makePeer(undefined, true), '6.6.6.6,, 203.0.113.9'), ['unix socket:trusted proxy', '203.0.113.9:client', '6.6.6.6:forged'])
  t.strictSame(roles('127.0.0.1', 'garbage'), ['127.0.0.1:client', 'garbage:ignored'], 'an invalid entry stops the walk')
  const record = new WalkRecord()
  t.strictSame(hopsOf(resolve('127.0.0.1', false, { 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] }, plan, undefined, record), record).length, 3, 'two header lines are one list')
})

test('the whoami plugin: JSON and escaped HTML, why, and who may see it', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: '127.0.0.0/8,unix' })
  await f.register(require('../lib/fastify/host-rewrite').hostRewrite, { trust: '127.0.0.0/8', header: 'x-fhost' })
  await f.register(whoami, { prefix: '/_whoami', settings: { trust: '127.0.0.0/8,unix', hostHeader: 'X-FHost' } })
  await f.register(whoami, { prefix: '/_private', allow: ['10.0.0.0/8'] })
  await f.register(whoami, { prefix: '/_unix', allow: 'unix' })
  t.teardown(() => f.close())
  const res = await f.inject({
    url: '/_whoami/any/path?q=1',
    remoteAddress: '127.0.0.1',
    headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/app', 'x-fhost': 'public.example', forwarded: 'for=1.1.1.1', cookie: 'secret' }
  })
  const info = res.json()
  t.equal(res.headers.vary, 'accept')
  t.equal(info.pid, process.pid)
  t.strictSame(info.socket, { ip: '127.0.0.1', host: 'localhost:80', protocol: 'http' })
  t.match(info.corrected, { ip: '203.0.113.9', protocol: 'https', host: 'public.example', prefix: '/app', url: 'https://public.example/app/_whoami/any/path?q=1' })
  t.strictSame(info.hops.map((h: Json) => h.role), ['trusted proxy', 'client', 'forged'])
  t.notOk('cookie' in info.headers, 'only the relevant headers are shown')
  t.equal(info.headers['x-fhost'], 'public.example')
  t.match(info.why.join('\n'), /is trusted[\s\S]*the client is 203.0.113.9 \(hop 1\)[\s\S]*1 X-Forwarded-For value was left of the client[\s\S]*https[\s\S]*X-FHost \(hostRewrite\)[\s\S]*\/app[\s\S]*Forwarded header is not read/)
  const html = await f.inject({ url: '/_whoami', remoteAddress: '127.0.0.1', headers: { accept: 'text/html', 'x-forwarded-for': '6.6.6.6, <script>alert(1)</script>, 203.0.113.9, 127.0.0.3', 'x-forwarded-host': 'a.example' } })
  t.equal(html.headers['content-type'], 'text/html; charset=utf-8')
  t.notMatch(html.body, '<script>alert')
  t.match(html.body, '&lt;script&gt;alert(1)&lt;/script&gt;')
  t.match(html.body, '2 X-Forwarded-For values were left of the client')
  t.match(html.body, 'from the proxy&#39;s headers')
  const untrusted = await f.inject({ url: '/_whoami', remoteAddress: '203.0.113.1', headers: { 'x-forwarded-for': '6.6.6.6' } })
  t.match(untrusted.json().why[0], 'The socket peer 203.0.113.1 is not trusted (trust 127.0.0.0/8,unix)')
  t.match((await f.inject({ url: '/_whoami', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': 'garbage' } })).json().why.join('\n'), 'gave no usable client address')
  t.strictSame((await f.inject({ url: '/_whoami', remoteAddress: '127.0.0.1' })).json().why, ['The socket peer 127.0.0.1 is trusted (trust 127.0.0.0/8,unix), so forwarded headers were read.'])

  // allow: the corrected client must be listed; others get a plain 404.
  t.equal((await f.inject({ url: '/_private', remoteAddress: '127.0.0.1' })).statusCode, 404)
  t.equal((await f.inject({ url: '/_private', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '10.1.2.3' } })).statusCode, 200)
  t.match((await f.inject({ url: '/_private', remoteAddress: '10.1.2.3' })).json().why[0], '(trust 127.0.0.0/8,unix)', 'no settings given: the scope\'s proxyFix options are quoted')
  t.equal((await f.inject({ url: '/_unix', remoteAddress: '127.0.0.1' })).statusCode, 404)
  const dir = tmpdir(t)
  await f.listen({ path: path.join(dir, 'w.sock') })
  const overUnix = await new Promise<number>((resolve, reject) => {
    http.get({ socketPath: path.join(dir, 'w.sock'), path: '/_unix' }, (res) => { res.resume(); resolve(res.statusCode as number) }).on('error', reject)
  })
  t.equal(overUnix, 200, 'allow: unix admits a Unix-socket peer')

  const bare = Fastify()
  await bare.register(proxyFix)
  await bare.register(whoami, {})
  t.teardown(() => bare.close())
  t.match(renderHtml((await bare.inject({ url: '/' })).json()), '<title>whoami')
  await t.rejects(Fastify().register(whoami).ready(), { message: /dependency .*fastify-proxy-fix/ }, 'proxyFix comes first')
  await t.rejects(Fastify().register(proxyFix).register(whoami, { allow: 42 as never }).ready(), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"allow"/ })
  await t.rejects(Fastify().register(proxyFix).register(whoami, { allow: 'nope' }).ready(), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"allow": "nope"/ })
})

test('the whoami page with a hop count: the Nth entry from the right, and the peer check', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: 2 })
  await f.register(whoami, { settings: { trust: 2, peers: ['loopback'] } })
  t.teardown(() => f.close())
  const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2' }
  const info = (await f.inject({ url: '/', remoteAddress: '127.0.0.1', headers })).json()
  t.match(info, { trusted: true, corrected: { ip: '203.0.113.9' } })
  t.match(info.why.join('\n'), /is in peers \(loopback\), so forwarded headers were read with a hop count of 2[\s\S]*takes X-Forwarded-For entry 2 from the right, whoever wrote the others: the client is 203.0.113.9/)
  const direct = (await f.inject({ url: '/', remoteAddress: '203.0.113.1', headers })).json()
  t.match(direct, { trusted: false, corrected: { ip: '203.0.113.1' } })
  t.match(direct.why[0], /^The socket peer 203.0.113.1 is not in peers \(loopback\), so the hop count does not apply/)
})
