import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { combinedLine, quoted, clfTime, accessLog } from '../lib/server/logging'
import { resolveSettings, type Settings } from '../lib/server/settings'
import { runServer, requestLimit, type Channel, type Runtime, type ToPrimary } from '../lib/server/worker'
import { lineWriter, main, serve, workerMain, ENV_SETTINGS, version, type MainIo } from '../lib/server/index'
import { checkBind, clearStaleSocket, listenError, listenerUrl, urlOf, Listener } from '../lib/server/listen'
import type { ClusterLike } from '../lib/server/supervisor'

const fixtures = path.join(__dirname, 'fixtures')

function tmpdir (t: Tap.Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-run-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function settings (over: Record<string, unknown> = {}): Settings {
  const file = { ...('bind' in over ? {} : { port: 0 }), accessLog: 'off', ...over }
  return resolveSettings({ flags: {}, flagNamer: (k) => k, file, fileNamer: (k) => k, env: {}, pid: 1 }).settings
}

interface Rt extends Runtime {
  out: string[]
  err: string[]
  emitter: EventEmitter
}

function rt (over: Partial<Runtime> = {}): Rt {
  const out: string[] = []
  const err: string[] = []
  const emitter = new EventEmitter()
  return { out, err, emitter, stdout: (l) => { out.push(l) }, stderr: (l) => { err.push(l) }, cwd: fixtures, signals: emitter, channel: null, random: () => 0.5, ...over }
}

function get (url: string, opts: http.RequestOptions = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http
    const req = mod.request(url, { rejectUnauthorized: false, ...opts } as http.RequestOptions, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function fakeChannel (): Channel & { sent: ToPrimary[], emitter: EventEmitter } {
  const emitter = new EventEmitter()
  const sent: ToPrimary[] = []
  return { sent, emitter, send: (m) => { sent.push(m) }, on: (e, fn) => emitter.on(e, fn) }
}

test('access log lines: combined with the corrected client and escapes, CLF time, JSON', async (t) => {
  t.equal(clfTime(Date.UTC(2026, 11, 1, 9, 5, 3)), '01/Dec/2026:09:05:03 +0000')
  t.equal(quoted(undefined), '"-"')
  t.equal(quoted('a"b\\c\nd\x7f'), '"a\\"b\\\\c\\x0ad\\x7f"')
  const line = combinedLine({ remoteAddress: '203.0.113.9', time: Date.UTC(2026, 0, 2, 3, 4, 5), method: 'GET', url: '/x?y="1"', httpVersion: '1.1', status: 200, size: 12, referer: undefined, userAgent: 'curl/8', durationMs: 1.5 })
  t.equal(line, '203.0.113.9 - - [02/Jan/2026:03:04:05 +0000] "GET /x?y=\\"1\\" HTTP/1.1" 200 12 "-" "curl/8" 0.002\n')
  t.match(combinedLine({ remoteAddress: '-', time: 0, method: 'GET', url: '/', httpVersion: '2.0', status: 304, size: null, referer: 'r', userAgent: undefined, durationMs: 0 }), '304 - "r" "-" 0.000')
  t.equal(accessLog({ accessLog: null, accessLogFormat: 'combined' }), null)
  t.equal(requestLimit({ maxRequests: 0, maxRequestsJitter: 5 }, () => 0.99), 0)
  t.equal(requestLimit({ maxRequests: 10, maxRequestsJitter: 5 }, () => 0.99), 15)
  t.equal(requestLimit({ maxRequests: 10, maxRequestsJitter: 0 }, () => 0.99), 10)
})

test('one process: several binds, the access log (reopened on USR1), health, and a drain that lets keep-alive clients go', async (t) => {
  const dir = tmpdir(t)
  const logFile = path.join(dir, 'logs', 'access.log')
  const sock = path.join(dir, 'app.sock')
  const r = rt()
  const s = settings({ app: 'express-app.js', bind: ['127.0.0.1:0', `unix:${sock}`], accessLog: logFile, health: '/healthz', gracefulTimeout: 5, trust: 'loopback,unix' })
  const running = await runServer(s, r)
  const [tcp, unix] = running.listeners.map((l) => l.url)
  t.match(r.out[0], new RegExp(`serving express-app.js \\(mounted app\\) on http://127.0.0.1:\\d+, unix:${sock}`))
  t.equal(unix, `unix:${sock}`)
  const a = await get(tcp + '/a?b=1', { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'tester', referer: 'http://ref.example/' } })
  t.match(JSON.parse(a.body), { from: 'express', ip: '203.0.113.7' })
  const b = await get('http://localhost/over-unix', { socketPath: sock, headers: { 'x-forwarded-for': '198.51.100.2' } })
  t.match(JSON.parse(b.body), { ip: '198.51.100.2', url: '/over-unix' })
  t.equal((await get(tcp + '/healthz')).status, 200)
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n')
  t.match(lines[0], /^203\.0\.113\.7 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a\?b=1 HTTP\/1\.1" 200 \d+ "http:\/\/ref\.example\/" "tester" \d+\.\d{3}$/)
  t.match(lines[1], /^198\.51\.100\.2 - - .*"GET \/over-unix HTTP\/1\.1" 200/)

  fs.renameSync(logFile, logFile + '.1')
  r.emitter.emit('SIGUSR1')
  t.match(r.out.at(-1), /SIGUSR1: reopened the log files/)
  await get(tcp + '/after-rotation')
  t.match(fs.readFileSync(logFile, 'utf8'), '"GET /after-rotation HTTP/1.1"')

  for (const sig of ['SIGHUP', 'SIGTTIN', 'SIGTTOU']) {
    r.emitter.emit(sig)
    t.match(r.out.at(-1), new RegExp(`${sig}: .* needs --workers \\(a primary to start and stop workers\\): ignored`))
  }

  // A keep-alive client: after SIGTERM its next request is still served (health says 503) and closes the connection.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  t.equal((await get(tcp + '/healthz', { agent })).status, 200)
  r.emitter.emit('SIGTERM')
  const during = await get(tcp + '/healthz', { agent })
  t.equal(during.status, 503)
  t.equal(during.headers.connection, 'close')
  r.emitter.emit('SIGINT')
  t.equal(await running.done, 0)
  t.match(r.out.join('\n'), /SIGTERM: draining \(at most 5 s\)[\s\S]*stopped/)
  t.notOk(fs.existsSync(sock), 'the socket file is gone')
  await t.rejects(get(tcp + '/'), { code: 'ECONNREFUSED' })
})

test('the graceful timeout ends a drain whatever is still running; QUIT is a fast stop', async (t) => {
  const r = rt()
  const running = await runServer(settings({ app: 'fastify-plugin.js', gracefulTimeout: 0.3 }), r)
  const url = running.listeners[0].url
  const slow = get(url + '/slow?ms=3000')
  await new Promise((resolve) => setTimeout(resolve, 100))
  running.stop('graceful', 'test').catch(() => {})
  await t.rejects(slow, { code: 'ECONNRESET' })
  t.equal(await running.done, 1)
  t.match(r.err[0], /the graceful timeout \(0.3 s\) ended the drain: connections were still open/)

  const q = rt()
  const fast = await runServer(settings({ app: 'fastify-plugin.js' }), q)
  const slow2 = get(fast.listeners[0].url + '/slow?ms=3000')
  await new Promise((resolve) => setTimeout(resolve, 100))
  q.emitter.emit('SIGQUIT')
  await t.rejects(slow2)
  t.equal(await fast.done, 0)
  t.match(q.out.join('\n'), /SIGQUIT: fast stop, closing every connection/)
})

test('the app\'s onClose hooks get the rest of the grace period', async (t) => {
  const r = rt({ loaded: { kind: 'plugin', plugin: async (f) => { f.addHook('onClose', () => new Promise(() => {})) } } })
  const running = await runServer(settings({ gracefulTimeout: 0.2 }), r)
  t.equal(await running.stop('graceful', 'test'), 1)
  t.match(r.err[0], /ended the drain: the app's onClose hooks were still running/)
})

test('a cluster worker: heartbeat, ready, recycle after N requests, drain and quit from the primary', async (t) => {
  const channel = fakeChannel()
  const r = rt({ channel })
  const running = await runServer(settings({ app: 'fastify-plugin.js', workers: 1, maxRequests: 2, timeout: 0.2 }), r)
  t.strictSame(channel.sent[0], { fpf: 'beat' })
  const ready = channel.sent.find((m) => m.fpf === 'ready') as { urls: string[] }
  const url = ready.urls[0]
  await get(url + '/pid')
  await get(url + '/pid')
  await get(url + '/pid')
  t.strictSame(channel.sent.filter((m) => m.fpf === 'recycle'), [{ fpf: 'recycle', requests: 2 }])
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.ok(channel.sent.filter((m) => m.fpf === 'beat').length >= 2, 'beats')
  for (const sig of ['SIGHUP', 'SIGTTIN', 'SIGUSR1']) r.emitter.emit(sig)
  t.notMatch(r.out.join('\n'), /ignored|reopened/, 'a worker leaves those signals to the primary')
  channel.emitter.emit('message', { fpf: 'other' })
  channel.emitter.emit('message', { fpf: 'drain' })
  t.equal(await running.done, 0)
  t.match(r.out.join('\n'), /asked by the primary: draining/)

  const c2 = fakeChannel()
  const r2 = rt({ channel: c2 })
  const second = await runServer(settings({ workers: 1 }), r2)
  c2.emitter.emit('message', { fpf: 'quit' })
  t.equal(await second.done, 0)

  const c3 = fakeChannel()
  const third = await runServer(settings({ workers: 1, timeout: 0 }), rt({ channel: c3 }))
  c3.emitter.emit('disconnect')
  t.equal(await third.done, 0)
})

test('a module that listens on its own fails with a clear message, and keeps no listener', async (t) => {
  const r = rt()
  await t.rejects(runServer(settings({ app: 'listens.js' }), r), { message: /^listens.js calls listen\(\) at listens.js:8 while being served: export the app/ })
  await t.rejects(runServer(settings({ app: 'listens-later.mjs' }), rt()), { message: /^listens-later.mjs calls listen\(\) while being served/ })
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  await t.rejects(runServer(settings({ bind: ['127.0.0.1:0', `127.0.0.1:${port}`] }), rt()), { message: `127.0.0.1:${port} is already in use (EADDRINUSE): is another server running?` })
})

test('fd://N: a bad descriptor is one line; the URL names the descriptor', async (t) => {
  // Listening on an inherited descriptor for real is in test/cli.test.ts (a child process owns it).
  await t.rejects(runServer(settings({ bind: ['fd://9999'] }), rt()), { message: /^cannot listen on fd:\/\/9999: not an inherited listening socket \((EBADF|EINVAL)\)$/ })
  const server = { address: () => ({ address: '::', family: 'IPv6', port: 8 }) as net.AddressInfo }
  t.equal(listenerUrl(server, { kind: 'fd', fd: 3 }, true), 'https://[::]:8 (fd://3)')
  t.equal(listenerUrl(server, { kind: 'tcp', host: '::', port: 8 }, false), 'http://[::]:8')
})

test('TLS and HTTP/2: the corrected view knows the socket is encrypted', async (t) => {
  const dir = tmpdir(t)
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  } catch {
    t.skip('openssl is not installed: cannot make a test certificate')
    return
  }
  const tls = await runServer(settings({ certfile: cert, keyfile: key }), rt())
  t.match(tls.listeners[0].url, /^https:\/\/127.0.0.1:\d+$/)
  const res = await get(tls.listeners[0].url + '/')
  t.match(JSON.parse(res.body), { socket: { protocol: 'https' }, corrected: { protocol: 'https' } })
  await tls.stop('graceful', 'test')

  const h2 = await runServer(settings({ certfile: cert, keyfile: key, http2: true, health: '/health' }), rt())
  const url = h2.listeners[0].url
  const client = http2.connect(url, { rejectUnauthorized: false })
  const body = await new Promise<string>((resolve, reject) => {
    const req = client.request({ ':path': '/h2' })
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (c) => { data += c })
    req.on('end', () => resolve(data))
    req.on('error', reject)
    req.end()
  })
  t.match(JSON.parse(body), { corrected: { protocol: 'https', url: /^https:\/\/127.0.0.1:\d+\/h2$/ } })
  // A fast stop goes through every path: GOAWAY to idle sessions, then any session left is destroyed.
  const done = h2.stop('fast', 'test')
  await new Promise((resolve) => client.on('close', resolve))
  t.equal(await done, 0)
  // HTTP/1.1 clients are still served over the same TLS port.
  await t.rejects(runServer(settings({ certfile: path.join(dir, 'none.pem'), keyfile: key }), rt()), { message: /^--certfile ".*none.pem": cannot read it \(ENOENT\)$/ })
})

test('listen helpers', async (t) => {
  const dir = tmpdir(t)
  const file = path.join(dir, 'plain')
  fs.writeFileSync(file, '')
  await t.rejects(clearStaleSocket(file), { message: `${file} exists and is not a socket: refusing to replace it` })
  await clearStaleSocket(path.join(dir, 'absent.sock'))
  const live = net.createServer()
  const sock = path.join(dir, 'live.sock')
  await new Promise<void>((resolve) => live.listen(sock, resolve))
  await t.rejects(checkBind({ kind: 'unix', path: sock }), { message: `${sock} is already in use: a server is listening on it` })
  await new Promise((resolve) => live.close(resolve))
  await checkBind({ kind: 'fd', fd: 3 })
  await checkBind({ kind: 'tcp', host: '127.0.0.1', port: 0 })
  t.match(listenError(Object.assign(new Error('x'), { code: 'EACCES' }), ':80').message, 'permission denied (EACCES)')
  const other = Object.assign(new Error('x'), { code: 'EOTHER' })
  t.equal(listenError(other, ':1'), other)
  const idle = net.createServer()
  t.equal(urlOf(idle, false), 'an inherited socket')
  const l = new Listener(idle, { kind: 'tcp', host: '127.0.0.1', port: 0 })
  l.stopAccepting()
  l.closeIdle()
})

/** Whether `server` makes its requests with `proto` (Node keeps the class under a symbol). */
function madeWith (server: object, proto: unknown): boolean {
  return Object.getOwnPropertySymbols(server).some((k) => (server as Record<symbol, { prototype?: unknown }>)[k]?.prototype === proto)
}

test('serve(): a mounted Express app is served by a server made with its prototypes (expressHttpOptions), a Connect one is not', async (t) => {
  const express = require('express')
  const app = express()
  app.get('/', (req: http.IncomingMessage & { ip: string }, res: { json: (v: unknown) => void }) => {
    res.json({ made: madeWith((req.socket as net.Socket & { server: object }).server, app.request), ip: req.ip })
  })
  const served = await serve({ app, accessLog: 'off', signals: false, bind: '127.0.0.1:0' }, { stdout: () => {} })
  t.same(JSON.parse((await get(served.addresses[0] + '/', { headers: { 'x-forwarded-for': '203.0.113.1' } })).body), { made: true, ip: '203.0.113.1' })
  t.equal(await served.close(), 0)
  const connect = require('connect')()
  connect.use((req: http.IncomingMessage, res: http.ServerResponse) => {
    res.end(JSON.stringify({ made: madeWith((req.socket as net.Socket & { server: object }).server, app.request) }))
  })
  const plain = await serve({ app: connect, accessLog: 'off', signals: false, bind: '127.0.0.1:0' }, { stdout: () => {} })
  t.same(JSON.parse((await get(plain.addresses[0] + '/')).body), { made: false })
  t.equal(await plain.close(), 0)
})

test('serve(): an app object or a module path, a server factory, and the exit after a drain', async (t) => {
  const express = require('express')
  const app = express()
  app.get('/', (req: { ip: string }, res: { json: (v: unknown) => void }) => res.json({ ip: req.ip }))
  const out: string[] = []
  const served = await serve({ app, accessLog: 'off', signals: false }, { stdout: (l) => out.push(l), env: { PORT: '0' } })
  t.match(out[0], /PORT is set and HOST is not: binding 0.0.0.0:0/)
  t.match(JSON.parse((await get(served.addresses[0] + '/', { headers: { 'x-forwarded-for': '203.0.113.1' } })).body), { ip: '203.0.113.1' })
  t.equal(await served.close(), 0)

  let made = 0
  const signals = new EventEmitter()
  let exited: number | null = null
  const viaFactory = await serve({
    app: path.join(fixtures, 'fastify-plugin.js'),
    bind: ['127.0.0.1:0', '127.0.0.1:0'],
    accessLog: 'off',
    serverFactory: (handler: http.RequestListener) => { made++; return http.createServer(handler) }
  }, { signals, stdout: () => {}, exit: (code) => { exited = code } })
  t.equal(made, 2, 'one server per bind')
  t.equal(viaFactory.addresses.length, 2)
  const cwd = process.cwd()
  t.teardown(() => process.chdir(cwd))
  signals.emit('SIGTERM')
  t.equal(await viaFactory.done, 0)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(exited, 0, 'the process would exit once a signal has drained it')

  await t.rejects(serve(null as never), { message: 'serve() needs an options object' })
  await t.rejects(serve({ app: 42 }), { message: /^serve option "app" must be a module path/ })
  await t.rejects(serve({ app, serverFactory: 1 }), { message: 'serve option "serverFactory" must be a function' })
  await t.rejects(serve({ app, wrokers: 2 }), { message: /^serve option "wrokers" is not a setting of serve/ })
  await t.rejects(serve({ app, workers: -1 }), { message: /^serve option "workers" -1: must be "auto"/ })
  await t.rejects(serve({ app, workers: 2 }), { message: 'serve option "workers" needs "app" as a module path: each worker loads it' })
  await t.rejects(serve({ app: 'x.js', workers: 2, trust: () => true }), { message: /^serve option "trust" cannot be a function with "workers"/ })
})

test('serve() with workers: the primary never loads the app', async (t) => {
  const forked: Settings[] = []
  const exitEmitter = new EventEmitter()
  const cluster: ClusterLike = {
    fork: (s) => {
      forked.push(s)
      const w = Object.assign(new EventEmitter(), { id: forked.length, process: { pid: 90000 + forked.length, kill: () => {} }, send: () => {} })
      return w
    },
    on: (event, listener) => exitEmitter.on(event, listener)
  }
  const out: string[] = []
  const served = await serve({ app: path.join(fixtures, 'throws.js'), workers: 2, port: 0, signals: false }, { cluster: () => cluster, stdout: (l) => out.push(l) })
  t.equal(forked.length, 2, 'two workers forked, and throws.js was never imported here')
  t.strictSame(served.addresses, ['127.0.0.1:0'])
  const closing = served.close()
  exitEmitter.emit('exit', { id: 1 }, 0, null)
  exitEmitter.emit('exit', { id: 2 }, 0, null)
  t.equal(await closing, 0)
})

test('workerMain: settings from the primary; a failure is sent back as one line', async (t) => {
  const channel = fakeChannel()
  const env = { [ENV_SETTINGS]: JSON.stringify(settings({ app: 'throws.js', workers: 1 })) }
  t.equal(await workerMain(env, { ...rt(), channel }), 1)
  t.strictSame(channel.sent.at(-1), { fpf: 'failed', message: 'fastify-proxy-fix: cannot load throws.js: this module fails to load (throws.js:3)' })
  const ok = fakeChannel()
  const running = workerMain({ [ENV_SETTINGS]: JSON.stringify(settings({ workers: 1 })) }, { ...rt(), channel: ok })
  while (!ok.sent.some((m) => m.fpf === 'ready')) await new Promise((resolve) => setTimeout(resolve, 10))
  ok.emitter.emit('message', { fpf: 'drain' })
  t.equal(await running, 0)
})

test('main(): help, version, --check-config, a one-process run and a primary', async (t) => {
  const io = (over: Partial<MainIo> = {}): MainIo & { out: string[], err: string[], emitter: EventEmitter } => {
    const out: string[] = []
    const err: string[] = []
    const emitter = new EventEmitter()
    return { out, err, emitter, stdout: (l) => { out.push(l) }, stderr: (l) => { err.push(l) }, cwd: fixtures, env: {}, signals: emitter, cluster: () => { throw new Error('no cluster') }, ...over }
  }
  const h = io()
  t.equal(await main(['--help'], h), 0)
  t.match(h.out[0], /^Usage: fastify-proxy-fix serve/)
  const v = io()
  t.equal(await main(['-v'], v), 0)
  t.strictSame(v.out, [`fastify-proxy-fix ${version()}`])
  const c = io()
  t.equal(await main(['serve', 'express-app.js', '--check-config', '-w', '2'], c), 0)
  t.match(c.out[0], /^module\s+express-app.js\nbind\s+127.0.0.1:3000\nworkers\s+2\n/)
  const c2 = io()
  t.equal(await main(['serve', '--check-config'], c2), 0)
  const bad = io()
  t.equal(await main(['serve', 'listens.js', '--check-config'], bad), 1)
  t.match(bad.err[0], /^fastify-proxy-fix: listens.js calls listen\(\)/)
  const later = io()
  // A fresh copy: this process has already imported the fixture once.
  const copy = path.join(tmpdir(t), 'later.mjs')
  fs.copyFileSync(path.join(fixtures, 'listens-later.mjs'), copy)
  fs.symlinkSync(path.join(__dirname, '..', 'node_modules'), path.join(path.dirname(copy), 'node_modules'))
  t.equal(await main(['serve', copy, '--check-config'], later), 1)
  t.match(later.err[0], /^fastify-proxy-fix: .*later.mjs calls listen\(\) while being served/)
  const bad2 = io()
  t.equal(await main(['serve', 'throws.js', '--check-config'], bad2), 1)
  t.strictSame(bad2.err, ['fastify-proxy-fix: cannot load throws.js: this module fails to load (throws.js:3)'])

  const env: NodeJS.ProcessEnv = { PORT: '0', LISTEN_FDS: '1', LISTEN_PID: '1' }
  const one = io({ env })
  const running = main(['serve'], one)
  while (!one.out.some((l) => l.includes('serving'))) await new Promise((resolve) => setTimeout(resolve, 10))
  t.match(one.out[0], /PORT is set and HOST is not: binding 0.0.0.0:0/)
  t.notOk('LISTEN_FDS' in env, 'socket activation is not passed on')
  one.emitter.emit('SIGTERM')
  t.equal(await running, 0)

  const exits = new EventEmitter()
  const prim = io({
    env: { WEB_CONCURRENCY: '1', PORT: '0', HOST: '127.0.0.1' },
    cluster: () => ({ fork: () => Object.assign(new EventEmitter(), { id: 1, process: { pid: 1, kill: () => {} }, send: () => {} }), on: (e, fn) => exits.on(e, fn) })
  })
  const p = main(['serve'], prim)
  await new Promise((resolve) => setTimeout(resolve, 50))
  prim.emitter.emit('SIGTERM')
  exits.emit('exit', { id: 1 }, 0, null)
  t.equal(await p, 0)
  t.match(prim.out.join('\n'), /primary \[\d+\]: starting 1 worker on 127.0.0.1:0/)
})

test('Node\'s cluster for real: serve() with workers runs worker-main, never the app in this process', async (t) => {
  const out: string[] = []
  const err: string[] = []
  const served = await serve({ app: path.join(fixtures, 'fastify-plugin.js'), workers: 1, port: 0, accessLog: 'off', signals: false }, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) })
  // Closed at once: the starting worker drains as soon as it is ready.
  t.equal(await served.close(), 0)
  t.match(out.join('\n'), /starting 1 worker on 127.0.0.1:0[\s\S]*every worker has stopped \(exit 0\)/)
})

test('more settings end to end: hostRewrite, a prefix, module:export, a JSON access log, whoami over a Unix socket', async (t) => {
  const dir = tmpdir(t)
  const logFile = path.join(dir, 'access.json')
  const r = rt()
  const running = await runServer(settings({ app: 'named-exports.js:api', prefix: '/p', hostHeader: 'X-FHost', accessLog: logFile, accessLogFormat: 'json' }), r)
  t.match(r.out[0], /serving named-exports.js:api \(Fastify plugin\)/)
  const res = await get(running.listeners[0].url + '/p/which', { headers: { 'x-fhost': 'public.example', 'user-agent': 'ua' } })
  t.strictSame(JSON.parse(res.body), { which: 'api' })
  await running.stop('graceful', 'test')
  const entry = JSON.parse(fs.readFileSync(logFile, 'utf8').trim())
  const empty = await runServer(settings({ app: 'fastify-plugin.js', accessLog: logFile, accessLogFormat: 'json' }), rt())
  t.equal((await get(empty.listeners[0].url + '/empty')).status, 204)
  await empty.stop('graceful', 'test')
  const second = JSON.parse(fs.readFileSync(logFile, 'utf8').trim().split('\n')[1])
  t.match(second, { status: 204, url: '/empty' })
  t.notOk('size' in second, 'no body, no size')
  t.match(entry, { level: 30, msg: 'request', remoteAddress: '127.0.0.1', method: 'GET', url: '/p/which', status: 200, userAgent: 'ua', httpVersion: '1.1' })
  t.type(entry.durationMs, 'number')
  t.type(entry.time, 'string')

  const sock = path.join(dir, 'who.sock')
  const whoLog = path.join(dir, 'who.log')
  const who = await runServer(settings({ bind: [`unix:${sock}`], accessLog: whoLog }), rt())
  const info = JSON.parse((await get('http://localhost/', { socketPath: sock })).body)
  t.match(fs.readFileSync(whoLog, 'utf8'), /^- - - \[/, 'a Unix-socket client without a forwarded address')
  t.match(info, { socket: { ip: null }, corrected: { ip: null } })
  t.match(info.why[0], 'The socket peer a Unix-socket peer is trusted')
  await who.stop('graceful', 'test')

  // A failed start still flushes the access log and closes what it opened.
  await t.rejects(runServer(settings({ app: 'throws.js', accessLog: path.join(dir, 'x.log') }), rt()), { message: /throws.js:3/ })
})

test('lineWriter: one line each', async (t) => {
  const written: string[] = []
  const w = lineWriter({ write: (s: string) => written.push(s) })
  w('a')
  w('b\n')
  t.strictSame(written, ['a\n', 'b\n'])
})

test('listen helpers: a stale socket file is removed, a taken port is one line', async (t) => {
  const dir = tmpdir(t)
  const sock = path.join(dir, 'stale.sock')
  const old = net.createServer()
  await new Promise<void>((resolve) => old.listen(path.join(dir, 'old.sock'), resolve))
  fs.renameSync(path.join(dir, 'old.sock'), sock)
  await new Promise((resolve) => old.close(resolve))
  await clearStaleSocket(sock)
  t.notOk(fs.existsSync(sock))
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  await t.rejects(checkBind({ kind: 'tcp', host: '127.0.0.1', port }), { message: /already in use \(EADDRINUSE\)/ })
  const free = net.createServer()
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
  const freePort = (free.address() as net.AddressInfo).port
  await new Promise((resolve) => free.close(resolve))
  await checkBind({ kind: 'tcp', host: '127.0.0.1', port: freePort })
})
