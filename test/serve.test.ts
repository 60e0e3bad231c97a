import { test } from 'tap'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  buildServer, checkPort, classify, clearStaleSocket, CliError, errorLine, escapeHtml, HELP, hopsOf, listenError,
  loadModule, main, parseCommandLine, processIo, renderHtml, RESTART, restartDelay, runPrimary, wantsHtml,
  type ClusterLike, type Io, type ServeConfig, type WorkerLike
} from '../lib/serve'
import { resolve } from '../lib/resolve'
import { makePeer, type Peer } from '../lib/peer'
import { compileOptions } from '../lib/options'

type Json = Record<string, any>

const fixtures = path.join(__dirname, 'fixtures')

function config (over: Partial<ServeConfig> = {}): ServeConfig {
  const parsed = parseCommandLine(['serve'])
  if (parsed.help) throw new Error('unreachable')
  return { ...parsed.config, ...over }
}

interface Fake {
  io: Io
  out: string[]
  err: string[]
  signals: EventEmitter
}

function fakeIo (over: Partial<Io> = {}): Fake {
  const out: string[] = []
  const err: string[] = []
  const signals = new EventEmitter()
  const cluster: ClusterLike = { isPrimary: true, fork: () => { throw new Error('no fork here') }, on: () => undefined }
  const io: Io = {
    stdout: (l) => { out.push(l) },
    stderr: (l) => { err.push(l) },
    cwd: fixtures,
    signals,
    cluster,
    graceMs: 3000,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    now: () => Date.now(),
    ...over
  }
  return { io, out, err, signals }
}

async function until<T> (fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits for the "serving ... on URL" line and returns the URL. */
async function served (f: Fake): Promise<string> {
  return until(() => {
    for (const l of f.out) {
      const m = /serving .* on (\S+)/.exec(l)
      if (m !== null) return m[1]
    }
    return undefined
  })
}

function get (url: string, opts: http.RequestOptions = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, opts, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function tmpdir (t: Tap.Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-serve-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

// ------------------------------------------------------------------------------------------------

test('parseCommandLine: flags, defaults and one-line errors', async (t) => {
  t.strictSame(parseCommandLine(['--help']), { help: true })
  t.strictSame(parseCommandLine(['serve', '-h']), { help: true })
  t.strictSame(config(), {
    module: null, prefix: '/', trust: 'loopback,unix', hostHeader: null, allowedHosts: null, port: 3000, host: '127.0.0.1', socket: null, workers: 0
  })
  const full = parseCommandLine(['serve', 'app.js', '--prefix', '/legacy', '--trust', '2', '--host-header', 'X-FHost',
    '--allowed-hosts', 'example.com,.example.org', '--port', '0', '--host', '::1', '--workers', '3'])
  t.strictSame(full, {
    help: false,
    config: { module: 'app.js', prefix: '/legacy', trust: 2, hostHeader: 'X-FHost', allowedHosts: 'example.com,.example.org', port: 0, host: '::1', socket: null, workers: 3 }
  })
  t.equal((parseCommandLine(['serve', '--socket', '/tmp/x.sock', '--trust', '10.0.0.0/8']) as Json).config.socket, '/tmp/x.sock')

  const cases: Array<[string[], RegExp]> = [
    [[], /^missing command: serve \(try --help\)$/],
    [['start'], /^unknown command "start"/],
    [['serve', 'a.js', 'b.js'], /^unexpected argument "b.js"/],
    [['serve', '--bogus'], /Unknown option '--bogus'.*\(try --help\)$/],
    [['serve', '--port', 'http'], /^--port must be an integer from 0 to 65535, not "http"$/],
    [['serve', '--port', '70000'], /^--port must be an integer/],
    [['serve', '--workers', '0'], /^--workers must be an integer from 1 to 256/],
    [['serve', '--prefix', 'legacy'], /^--prefix must be a path starting with "\/"/],
    [['serve', '--socket', '/tmp/s', '--port', '1'], /^--socket cannot be combined/],
    [['serve', '--socket', '/tmp/s', '--host', '::'], /^--socket cannot be combined/]
  ]
  for (const [argv, re] of cases) {
    try {
      parseCommandLine(argv)
      t.fail(argv.join(' '))
    } catch (err) {
      t.ok(err instanceof CliError, argv.join(' '))
      t.match((err as Error).message, re)
    }
  }
  t.throws(() => parseCommandLine(['serve', '--trust', '10.0.0.300']), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"10.0.0.300" is not an IP address/ })
  t.throws(() => parseCommandLine(['serve', '--trust', '999']), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /hop count/ })
  t.throws(() => parseCommandLine(['serve', '--host-header', 'Host']), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"header"/ })
  t.throws(() => parseCommandLine(['serve', '--allowed-hosts', 'a b']), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"allowedHosts"/ })
  for (const flag of ['--prefix', '--trust', '--host-header', '--allowed-hosts', '--port', '--host', '--socket', '--workers', '--help']) {
    t.match(HELP, flag, `help lists ${flag}`)
  }
})

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

test('loadModule: CommonJS and ESM, default and named exports, relative to cwd', async (t) => {
  const cases: Array<[string, string]> = [
    ['express-app.js', 'mount'],
    ['connect-app.js', 'mount'],
    ['plain-fn.js', 'mount'],
    ['fastify-plugin.js', 'plugin'],
    ['callback-plugin.js', 'plugin'],
    ['esm-app.mjs', 'mount'],
    ['esm-named.mjs', 'mount'],
    ['transpiled.js', 'plugin']
  ]
  for (const [file, kind] of cases) t.equal((await loadModule(file, fixtures)).kind, kind, file)
  t.equal((await loadModule('./fixtures/plain-fn.js', __dirname)).kind, 'mount', 'a ./ path')
  await t.rejects(loadModule('missing.js', fixtures), { message: `cannot find module missing.js (looked for ${path.join(fixtures, 'missing.js')})` })
  await t.rejects(loadModule('not-an-app.js', fixtures), { message: /^not-an-app.js does not export an app: .*\(found an object\)$/ })
  await t.rejects(loadModule('throws.js', fixtures), { message: /^cannot load throws.js: this module fails to load/ })
  const dir = tmpdir(t)
  const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text)
  write('one.js', 'module.exports = (x) => x\n')
  write('nul.js', 'module.exports = null\n')
  write('str.js', 'module.exports = "app"\n')
  write('arr.mjs', 'export default []\n')
  write('many.js', 'module.exports = (a, b, c, d) => a\n')
  write('rejects.mjs', 'await Promise.reject(undefined)\n')
  await t.rejects(loadModule('one.js', dir), { message: /\(found a function of 1 parameter\)$/ })
  await t.rejects(loadModule('many.js', dir), { message: /\(found a function of 4 parameters\)$/ })
  await t.rejects(loadModule('nul.js', dir), { message: /\(found null\)$/ })
  await t.rejects(loadModule('str.js', dir), { message: /\(found a string\)$/ })
  await t.rejects(loadModule('arr.mjs', dir), { message: /\(found an array\)$/ })
  await t.rejects(loadModule('rejects.mjs', dir), { message: 'cannot load rejects.mjs: undefined' })
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
  t.equal(escapeHtml(null), 'null')
})

test('errorLine: one line, the code when the message lacks it', async (t) => {
  t.equal(errorLine(new CliError('plain')), 'fastify-proxy-fix: plain')
  const coded = Object.assign(new Error('operation not permitted'), { code: 'EPERM' })
  t.equal(errorLine(coded), 'fastify-proxy-fix: EPERM: operation not permitted')
  t.equal(errorLine(Object.assign(new Error('EPERM: no'), { code: 'EPERM' })), 'fastify-proxy-fix: EPERM: no')
  t.equal(errorLine(new Error('two\n   lines')), 'fastify-proxy-fix: two lines')
  t.equal(errorLine('a string'), 'fastify-proxy-fix: a string')
  t.equal(errorLine(null), 'fastify-proxy-fix: null')
  t.match(listenError(Object.assign(new Error('x'), { code: 'EACCES' }), ':80').message, 'permission denied (EACCES)')
  const other = Object.assign(new Error('x'), { code: 'EINVAL' })
  t.equal(listenError(other, ':1'), other)
})

test('hopsOf: the socket, then X-Forwarded-For from the right', async (t) => {
  const plan = compileOptions({ trust: 'loopback,unix' }, 'proxyFix')
  const roles = (peer: string | undefined | Peer, xff?: string): string[] => {
    const headers = xff === undefined ? {} : { 'x-forwarded-for': xff }
    return hopsOf(resolve(peer, false, headers, plan, undefined), headers).map((h) => `${h.address}:${h.role}`)
  }
  t.strictSame(roles('127.0.0.1'), ['127.0.0.1:client'])
  t.strictSame(roles('127.0.0.1', '6.6.6.6, 203.0.113.9, 127.0.0.2'), ['127.0.0.1:trusted proxy', '127.0.0.2:trusted proxy', '203.0.113.9:client', '6.6.6.6:ignored'])
  t.strictSame(roles('203.0.113.1', '6.6.6.6'), ['203.0.113.1:client', '6.6.6.6:ignored'], 'an untrusted peer')
  t.strictSame(roles(makePeer(undefined, true)), ['unix socket:client'])
  t.strictSame(roles(makePeer(undefined, true), '6.6.6.6,, 203.0.113.9'), ['unix socket:trusted proxy', '203.0.113.9:client', '6.6.6.6:ignored'])
  t.strictSame(roles('127.0.0.1', 'garbage'), ['127.0.0.1:client', 'garbage:ignored'], 'an invalid entry stops the walk')
  t.strictSame(hopsOf(resolve('127.0.0.1', false, {}, plan, undefined), { 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] }).length, 3)
})

test('whoami: JSON and escaped HTML, the socket view against the corrected view, and why', async (t) => {
  const cfg = config({ hostHeader: 'X-FHost', trust: '127.0.0.0/8,unix' })
  const f = await buildServer(cfg, { kind: 'whoami' })
  t.teardown(() => f.close())
  const res = await f.inject({
    url: '/any/path?q=1',
    remoteAddress: '127.0.0.1',
    headers: {
      'x-forwarded-for': '6.6.6.6, 203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-prefix': '/app',
      'x-fhost': 'public.example',
      forwarded: 'for=1.1.1.1',
      cookie: 'secret'
    }
  })
  const info = res.json()
  t.equal(res.headers.vary, 'accept')
  t.equal(info.pid, process.pid)
  t.strictSame(info.socket, { ip: '127.0.0.1', host: 'localhost:80', protocol: 'http' })
  t.match(info.corrected, { ip: '203.0.113.9', protocol: 'https', host: 'public.example', prefix: '/app', url: 'https://public.example/app/any/path?q=1' })
  t.equal(info.trusted, true)
  t.strictSame(info.hops.map((h: Json) => h.role), ['trusted proxy', 'client', 'ignored'])
  t.notOk('cookie' in info.headers, 'only the relevant headers are shown')
  t.equal(info.headers['x-fhost'], 'public.example')
  t.match(info.why.join('\n'), /is trusted[\s\S]*the client is 203.0.113.9 \(hop 1\)[\s\S]*1 X-Forwarded-For value was left of the client[\s\S]*https[\s\S]*X-FHost \(hostRewrite\)[\s\S]*\/app[\s\S]*Forwarded header is not read/)

  const html = await f.inject({
    url: '/',
    remoteAddress: '127.0.0.1',
    headers: { accept: 'text/html', 'x-forwarded-for': '6.6.6.6, <script>alert(1)</script>, 203.0.113.9, 127.0.0.3', 'x-forwarded-host': 'a.example' }
  })
  t.equal(html.headers['content-type'], 'text/html; charset=utf-8')
  t.notMatch(html.body, '<script>alert')
  t.match(html.body, '&lt;script&gt;alert(1)&lt;/script&gt;')
  t.match(html.body, /<tr class="ignored">/)
  t.match(html.body, '2 X-Forwarded-For values were left of the client')
  t.match(html.body, 'from X-Forwarded-Host')

  const untrusted = await f.inject({ url: '/', remoteAddress: '203.0.113.1', headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' } })
  t.match(untrusted.json(), { trusted: false, corrected: { ip: '203.0.113.1', protocol: 'http' } })
  t.match(untrusted.json().why[0], 'is not trusted')

  const noClient = await f.inject({ url: '/', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': 'garbage' } })
  t.match(noClient.json().why.join('\n'), 'X-Forwarded-For gave no usable client address')
  const plain = await f.inject({ url: '/', remoteAddress: '127.0.0.1' })
  t.strictSame(plain.json().why, ['The socket peer 127.0.0.1 is trusted (--trust 127.0.0.0/8,unix), so forwarded headers were read.'])

  const f2 = await buildServer(config(), { kind: 'whoami' })
  t.teardown(() => f2.close())
  const r2 = await f2.inject({ url: '/', headers: { host: 'h.example' } })
  t.match(r2.json(), { socket: { ip: '127.0.0.1' }, config: { hostHeader: null } })
  t.match(renderHtml(r2.json()), '<title>whoami')
})

test('buildServer: mounted apps and plugins under --prefix, behind proxyFix', async (t) => {
  const cfg = config({ prefix: '/legacy', allowedHosts: 'h.example' })
  const mounted = await buildServer(cfg, await loadModule('express-app.js', fixtures))
  t.teardown(() => mounted.close())
  const r = await mounted.inject({ url: '/legacy/x', remoteAddress: '127.0.0.1', headers: { host: 'h.example', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } })
  t.match(r.json(), { from: 'express', ip: '203.0.113.7', protocol: 'https', hostname: 'h.example', url: '/x', baseUrl: '/legacy' })
  t.equal((await mounted.inject({ url: '/legacy/x', headers: { host: 'evil.example' } })).statusCode, 400, 'allowedHosts')
  const plugin = await buildServer(cfg, await loadModule('fastify-plugin.js', fixtures))
  t.teardown(() => plugin.close())
  const p = await plugin.inject({ url: '/legacy/hello', remoteAddress: '127.0.0.1', headers: { host: 'h.example', 'x-forwarded-for': '203.0.113.8' } })
  t.match(p.json(), { from: 'fastify', ip: '203.0.113.8', url: 'http://h.example/hello' })
  const root = await buildServer(config(), await loadModule('transpiled.js', fixtures))
  t.teardown(() => root.close())
  t.match((await root.inject('/ts')).json(), { from: 'transpiled' })
})

test('main: --help, and every error is one line with exit code 1', async (t) => {
  const help = fakeIo()
  t.equal(await main(['--help'], help.io), 0)
  t.equal(help.out[0], HELP)
  const cases: Array<[string[], RegExp]> = [
    [['serve', 'missing.js'], /^fastify-proxy-fix: cannot find module missing.js/],
    [['serve', 'not-an-app.js'], /^fastify-proxy-fix: not-an-app.js does not export an app/],
    [['serve', '--trust', 'nope'], /^fastify-proxy-fix: FST_ERR_PROXY_FIX_INVALID_OPTION: Invalid option "trust": "nope"/],
    [['serve', '--prefix', '/a b'], /^fastify-proxy-fix: FST_ERR_PROXY_FIX_INVALID_OPTION: Invalid option "prefix"/],
    [['serve', 'throws.js'], /^fastify-proxy-fix: cannot load throws.js: this module fails to load with a second line$/],
    [['serve', '--workers', '2', 'missing.js'], /^fastify-proxy-fix: cannot find module/]
  ]
  for (const [argv, re] of cases) {
    const f = fakeIo()
    t.equal(await main(argv, f.io), 1, argv.join(' '))
    t.equal(f.err.length, 1)
    t.match(f.err[0], re)
    t.notMatch(f.err[0], /\n| {4}at /, 'no stack')
  }
})

test('main: serves whoami over TCP until SIGTERM, then drains', async (t) => {
  const f = fakeIo()
  const done = main(['serve', '--port', '0', '--trust', '127.0.0.1'], f.io)
  const url = await served(f)
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await get(url + '/who', { localAddress: '127.0.0.5', headers: { 'x-forwarded-for': '6.6.6.6' } })
  t.match(JSON.parse(res.body), { socket: { ip: '127.0.0.5' }, corrected: { ip: '127.0.0.5' }, trusted: false })
  f.signals.emit('SIGINT')
  await until(() => f.out.some((l) => l.includes('draining')) ? true : undefined)
  f.signals.emit('SIGINT') // absorbed while draining
  t.equal(await done, 0)
  t.match(f.out.join('\n'), 'SIGINT: draining')
  t.equal(f.signals.listenerCount('SIGTERM') + f.signals.listenerCount('SIGINT'), 0, 'signal listeners removed')
})

test('main: a port in use is one line', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const f = fakeIo()
  t.equal(await main(['serve', '--port', String(port)], f.io), 1)
  t.strictSame(f.err, [`fastify-proxy-fix: 127.0.0.1:${port} is already in use (EADDRINUSE): is another server running?`])
  await t.rejects(checkPort('127.0.0.1', port), { message: /already in use/ })
  await t.resolves(checkPort('127.0.0.1', 0))
  const free = net.createServer()
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
  const freePort = (free.address() as net.AddressInfo).port
  await new Promise((resolve) => free.close(resolve))
  await t.resolves(checkPort('127.0.0.1', freePort), 'a free port')
})

test('main: --socket, with a stale socket file removed first', async (t) => {
  const dir = tmpdir(t)
  const sock = path.join(dir, 'app.sock')
  // A stale socket: listen, move the file away, close, move it back. Nothing listens on it.
  const old = net.createServer()
  await new Promise<void>((resolve) => old.listen(path.join(dir, 'old.sock'), resolve))
  fs.renameSync(path.join(dir, 'old.sock'), sock)
  await new Promise((resolve) => old.close(resolve))
  t.ok(fs.lstatSync(sock).isSocket(), 'stale socket in place')

  const f = fakeIo()
  const done = main(['serve', '--socket', sock], f.io)
  t.equal(await served(f), `unix:${sock}`)
  const res = await get('http://localhost/', { socketPath: sock, headers: { 'x-forwarded-for': '203.0.113.4', 'x-forwarded-proto': 'https' } })
  t.match(JSON.parse(res.body), { socket: { ip: null }, corrected: { ip: '203.0.113.4', protocol: 'https' }, hops: [{ address: 'unix socket', role: 'trusted proxy' }] })

  const bare = await get('http://localhost/', { socketPath: sock })
  t.match(JSON.parse(bare.body), { socket: { ip: null }, corrected: { ip: null }, why: [/Unix-socket peer is trusted/] })

  // A live socket is never taken over.
  const g = fakeIo()
  t.equal(await main(['serve', '--socket', sock], g.io), 1)
  t.strictSame(g.err, [`fastify-proxy-fix: ${sock} is already in use: a server is listening on it`])
  f.signals.emit('SIGTERM')
  t.equal(await done, 0)
  t.notOk(fs.existsSync(sock), 'the socket file is removed on close')

  const file = path.join(dir, 'file')
  fs.writeFileSync(file, '')
  await t.rejects(clearStaleSocket(file), { message: `${file} exists and is not a socket: refusing to replace it` })
  await t.resolves(clearStaleSocket(path.join(dir, 'none')))
})

test('main: requests still running after the grace time are cut, exit 1', async (t) => {
  const f = fakeIo({ graceMs: 100 })
  const done = main(['serve', 'fastify-plugin.js', '--port', '0'], f.io)
  const url = await served(f)
  const slow = get(url + '/slow?ms=3000').catch((err: Error) => err)
  await new Promise((resolve) => setTimeout(resolve, 100))
  f.signals.emit('SIGTERM')
  t.equal(await done, 1)
  t.match(f.err, [/requests still running after 100 ms: closing them/])
  t.type(await slow, Error, 'the slow request was cut')
})

test('main in a cluster worker: no stale-socket check, disconnects after draining', async (t) => {
  const dir = tmpdir(t)
  const sock = path.join(dir, 'w.sock')
  let disconnected = 0
  const f = fakeIo({ cluster: { isPrimary: false, worker: { disconnect: () => { disconnected++ } }, fork: () => { throw new Error('no') }, on: () => undefined } })
  const done = main(['serve', '--workers', '2', '--socket', sock], f.io)
  await served(f)
  f.signals.emit('SIGTERM')
  t.equal(await done, 0)
  t.equal(disconnected, 1)
  const g = fakeIo({ cluster: { isPrimary: false, fork: () => { throw new Error('no') }, on: () => undefined } })
  const done2 = main(['serve', 'express-app.js', '--port', '0', '--host', '::1'], g.io)
  t.match(await served(g), /^http:\/\/\[::1\]:\d+$/)
  t.match(g.out[0], 'serving express-app.js (mounted app)')
  g.signals.emit('SIGTERM')
  t.equal(await done2, 0, 'no worker object: nothing to disconnect')
})

test('restartDelay: exponential backoff, capped, and a storm gives up', async (t) => {
  const crashes: number[] = []
  const policy = { windowMs: 1000, maxCrashes: 3, baseDelayMs: 100, maxDelayMs: 250 }
  t.equal(restartDelay(crashes, 0, policy), 100)
  t.equal(restartDelay(crashes, 10, policy), 200)
  t.equal(restartDelay(crashes, 20, policy), 250)
  t.equal(restartDelay(crashes, 30, policy), null)
  t.equal(restartDelay(crashes, 1025, policy), 200, 'old crashes leave the window')
  t.equal(RESTART.maxCrashes, 10)
  t.equal(restartDelay([], 5), 100)
})

/** Sends a signal to a primary and waits until it has acted on it. */
async function stopping (f: Fake, signal: string): Promise<void> {
  f.signals.emit(signal)
  await until(() => f.out.some((l) => l.includes('stopping workers')) ? true : undefined)
}

/** A fake cluster: workers are event-free objects, exits are emitted by the test. */
function fakeCluster (): { cluster: ClusterLike, workers: Array<WorkerLike & { signals: string[] }>, exit: (w: WorkerLike, code: number | null, signal: string | null) => void } {
  const emitter = new EventEmitter()
  const workers: Array<WorkerLike & { signals: string[] }> = []
  let id = 0
  const cluster: ClusterLike = {
    isPrimary: true,
    fork: () => {
      const signals: string[] = []
      const w = { id: ++id, signals, process: { pid: 1000 + id, kill: (s?: string) => { signals.push(s as string) } } }
      workers.push(w)
      return w
    },
    on: (event, listener) => emitter.on(event, listener)
  }
  return { cluster, workers, exit: (w, code, signal) => emitter.emit('exit', w, code, signal) }
}

test('runPrimary: forks, restarts a crashed worker, stops all on SIGTERM', async (t) => {
  const c = fakeCluster()
  const timers: Array<[() => void, number]> = []
  const f = fakeIo({ cluster: c.cluster, setTimeout: (fn, ms) => { timers.push([fn, ms]); return {} } })
  const done = runPrimary(config({ workers: 2, port: 0 }), f.io)
  await until(() => c.workers.length === 2 ? true : undefined)
  c.exit(c.workers[0], null, 'SIGKILL')
  t.match(f.err, [/worker 1001 exited \(signal SIGKILL\); restarting in 100 ms/])
  t.equal(timers[0][1], 100)
  timers[0][0]()
  t.equal(c.workers.length, 3, 'restarted')
  c.exit(c.workers[1], 1, null)
  t.match(f.err[1], /worker 1002 exited \(code 1\); restarting in 200 ms/)
  await stopping(f, 'SIGTERM')
  timers[1][0]() // a restart due after the signal does not fork
  t.equal(c.workers.length, 3)
  t.strictSame(c.workers[2].signals, ['SIGTERM'])
  f.signals.emit('SIGINT') // absorbed while stopping
  c.exit(c.workers[2], 0, null)
  t.equal(await done, 0)
  t.equal(f.signals.listenerCount('SIGTERM') + f.signals.listenerCount('SIGINT'), 0, 'signal listeners removed')
  t.match(f.out, [/primary \d+ starting 2 workers/, /SIGTERM: stopping workers/])
})

test('runPrimary: a worker failing to stop makes the exit code 1; stragglers are killed', async (t) => {
  const c = fakeCluster()
  const timers: Array<[() => void, number]> = []
  const f = fakeIo({ cluster: c.cluster, graceMs: 10, setTimeout: (fn, ms) => { timers.push([fn, ms]); return { unref: () => undefined } } })
  const done = runPrimary(config({ workers: 2, port: 0 }), f.io)
  await until(() => c.workers.length === 2 ? true : undefined)
  await stopping(f, 'SIGINT')
  c.exit(c.workers[0], 1, null)
  t.equal(timers[0][1], 1010)
  timers[0][0]()
  t.match(f.err, [/workers still running after 1010 ms: killing them/])
  t.strictSame(c.workers[1].signals, ['SIGTERM', 'SIGKILL'])
  c.exit(c.workers[1], null, 'SIGKILL')
  t.equal(await done, 1)
})

test('runPrimary: the kill timer does nothing once every worker is gone', async (t) => {
  const c = fakeCluster()
  const timers: Array<() => void> = []
  const f = fakeIo({ cluster: c.cluster, setTimeout: (fn) => { timers.push(fn); return {} } })
  const done = runPrimary(config({ workers: 1, port: 0 }), f.io)
  await until(() => c.workers.length === 1 ? true : undefined)
  await stopping(f, 'SIGTERM')
  c.exit(c.workers[0], 0, null)
  t.equal(await done, 0)
  timers[0]()
  t.equal(f.err.length, 0)
})

test('runPrimary: a restart storm gives up with exit 1', async (t) => {
  const c = fakeCluster()
  const f = fakeIo({ cluster: c.cluster, setTimeout: (fn) => { setImmediate(fn); return {} } })
  const done = runPrimary(config({ workers: 1, port: 0, module: 'express-app.js' }), f.io, { windowMs: 60_000, maxCrashes: 2, baseDelayMs: 1, maxDelayMs: 1 })
  for (let i = 0; i < 3; i++) {
    await until(() => c.workers.length === i + 1 ? true : undefined)
    c.exit(c.workers[i], 1, null)
  }
  t.equal(await done, 1)
  t.match(f.err[f.err.length - 1], 'workers crashed more than 2 times in 60 s: giving up')
  t.equal(c.workers.length, 3)
})

test('runPrimary: checks the socket before forking', async (t) => {
  const dir = tmpdir(t)
  const file = path.join(dir, 'not-a-socket')
  fs.writeFileSync(file, '')
  const c = fakeCluster()
  const f = fakeIo({ cluster: c.cluster })
  t.equal(await main(['serve', '--workers', '2', '--socket', file], f.io), 1)
  t.match(f.err, [/is not a socket/])
  t.equal(c.workers.length, 0)
  const ok = fakeIo({ cluster: c.cluster, setTimeout: () => ({}) })
  const done = main(['serve', '--workers', '1', '--socket', path.join(dir, 'ok.sock')], ok.io)
  await until(() => c.workers.length === 1 ? true : undefined)
  await stopping(ok, 'SIGTERM')
  c.exit(c.workers[0], 0, null)
  t.equal(await done, 0)
})

test('processIo: the real process', async (t) => {
  const io = processIo()
  t.equal(io.cwd, process.cwd())
  t.equal(io.signals, process)
  t.equal(io.graceMs, 10_000)
  t.type(io.now(), 'number')
  io.stdout('# processIo.stdout writes a line')
  io.stdout('# and keeps a trailing newline\n')
  io.stderr('processIo.stderr writes a line')
  await new Promise<void>((resolve) => { io.setTimeout(resolve, 1) })
})

test('lib/cli.ts hands argv to main and sets the exit code', async (t) => {
  const argv = process.argv
  const writes: string[] = []
  const write = process.stderr.write
  process.argv = [argv[0], 'cli', 'serve', '--port', 'nope']
  process.stderr.write = ((chunk: string) => { writes.push(chunk); return true }) as typeof process.stderr.write
  t.teardown(() => { process.argv = argv; process.stderr.write = write; process.exitCode = 0 })
  require('../lib/cli')
  await until(() => process.exitCode === 1 ? true : undefined)
  process.stderr.write = write
  t.strictSame(writes, ['fastify-proxy-fix: --port must be an integer from 0 to 65535, not "nope"\n'])
})
