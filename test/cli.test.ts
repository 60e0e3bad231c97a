import { test } from 'tap'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { StdioOptions } from 'node:child_process'
import { start, request, serving, cli } from './helpers/cli'

test('--help and --version exit 0', async (t) => {
  const help = start(t, ['--help'])
  t.equal(await help.exit, 0)
  t.match(help.out.join('\n'), /Usage: fastify-proxy-fix serve[\s\S]*--bind[\s\S]*--workers[\s\S]*Signals:/)
  const version = start(t, ['-v'])
  t.equal(await version.exit, 0)
  t.strictSame(version.out, [`fastify-proxy-fix ${require('../package.json').version}`])
})

test('each error is exactly one line on stderr and exit 1, never a stack, never a hang', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const cases: Array<[string, string[], RegExp]> = [
    ['--workers -1', ['serve', '--workers', '-1'], /^fastify-proxy-fix: --workers "-1": must be "auto" or an integer from 1 to 256$/],
    ['missing module', ['serve', 'nowhere.js'], /^fastify-proxy-fix: cannot find nowhere.js \(looked for .*nowhere.js\)$/],
    ['not an app', ['serve', 'not-an-app.js'], /^fastify-proxy-fix: not-an-app.js does not export an app: .*\(found an object\)$/],
    ['bad trust', ['serve', '--trust', '10.0.0.300'], /^fastify-proxy-fix: --trust: "10.0.0.300" is not an IP address/],
    ['port in use', ['serve', '--port', String(port)], new RegExp(`^fastify-proxy-fix: 127.0.0.1:${port} is already in use \\(EADDRINUSE\\)`)],
    ['port in use, workers', ['serve', '-w', '2', '-p', String(port)], /is already in use \(EADDRINUSE\)/],
    ['module that throws', ['serve', 'throws.js'], /^fastify-proxy-fix: cannot load throws.js: this module fails to load \(throws.js:3\)$/],
    ['syntax error', ['serve', 'syntax-error.js'], /^fastify-proxy-fix: cannot load syntax-error.js: .* \(syntax-error.js:\d\)$/],
    ['own listen', ['serve', 'listens.js', '-p', '0'], /^fastify-proxy-fix: listens.js calls listen\(\) at listens.js:8 while being served: export the app/],
    ['unknown flag', ['serve', '--bogus'], /^fastify-proxy-fix: unknown option --bogus \(try --help\)$/]
  ]
  for (const [name, args, re] of cases) {
    const run = start(t, args)
    t.equal(await run.exit, 1, `${name}: exit code`)
    t.equal(run.err.length, 1, `${name}: one line`)
    t.match(run.err[0], re, name)
    t.strictSame(run.out, [], `${name}: nothing on stdout`)
  }
  // Workers that cannot load the app end the server with the workers' own error.
  for (const [name, module] of [['throws', 'throws.js'], ['own listen', 'listens.js']]) {
    const run = start(t, ['serve', module, '-w', '2', '-p', '0'])
    t.equal(await run.exit, 1, `workers, ${name}: exit 1`)
    t.match(run.err.join('\n'), module === 'throws.js' ? /cannot load throws.js: this module fails to load \(throws.js:3\)/ : /listens.js calls listen\(\)/)
    t.match(run.out.join('\n'), /every worker has stopped \(exit 1\)/)
    t.notMatch(run.err.join('\n'), /\n\s+at /, 'no stack')
  }
})

test('--check-config prints the effective settings and exits', async (t) => {
  const run = start(t, ['serve', 'express-app.js', '--check-config', '-b', '127.0.0.1:8000', '-b', 'unix:/tmp/x.sock'], { env: { WEB_CONCURRENCY: '3', FORWARDED_ALLOW_IPS: '10.0.0.0/8' } })
  t.equal(await run.exit, 0)
  const text = run.out.join('\n')
  t.match(text, /^module\s+express-app.js\nbind\s+127.0.0.1:8000 unix:\/tmp\/x.sock\nworkers\s+3\n/)
  t.match(text, /\ntrust\s+10.0.0.0\/8\n/)
})

test('whoami over TCP: JSON, seen from a distinct loopback client, with the access log', async (t) => {
  const run = start(t, ['serve', '-p', '0', '--trust', '127.0.0.1', '--host-header', 'X-FHost'])
  const url = (await run.line(serving))[1]
  const spoof = await request(url + '/x', { localAddress: '127.0.0.5', headers: { 'x-forwarded-for': '6.6.6.6', 'x-fhost': 'evil.example', 'user-agent': 'spoofer' } })
  t.match(JSON.parse(spoof.body), { socket: { ip: '127.0.0.5' }, corrected: { ip: '127.0.0.5' }, trusted: false })
  const proxied = await request(url + '/x', { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '6.6.6.6, 127.0.0.9', 'x-forwarded-proto': 'https', 'x-fhost': 'public.example' } })
  t.match(JSON.parse(proxied.body), { corrected: { ip: '127.0.0.9', protocol: 'https', host: 'public.example' }, trusted: true })
  await run.line(/^127\.0\.0\.9 - - \[.*\] "GET \/x HTTP\/1\.1" 200 \d+ "-" "-" \d+\.\d{3}$/)
  t.match(run.err.join('\n'), /^127\.0\.0\.5 - - .* "spoofer" /m)
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
  t.match(run.out.join('\n'), /SIGTERM: draining \(at most 30 s\)[\s\S]*stopped/)
})

test('a Fastify route that throws: a 500 for the client, the stack in the log', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-cli-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'boom.js'), 'module.exports = async (f) => { f.get("/boom", async () => { throw new Error("boom!") }) }\n')
  const run = start(t, ['serve', path.join(dir, 'boom.js'), '-p', '0'])
  const url = (await run.line(serving))[1]
  t.equal((await request(url + '/boom')).status, 500)
  const logged = JSON.parse((await run.line(/"msg":"boom!"/))[0].match(/^\{.*\}$/)?.[0] ?? run.err.find((l) => l.includes('"boom!"')) as string)
  t.match(logged, { level: 50, err: { message: 'boom!', stack: /Error: boom!\n\s+at .*boom.js:1/ } })
  run.proc.kill('SIGINT')
  t.equal(await run.exit, 0)
})

test('one process: HUP, TTIN and TTOU are refused with a log line; USR1 reopens; a module holding a setInterval still exits', async (t) => {
  const run = start(t, ['serve', 'interval.js', '-p', '0', '--graceful-timeout', '3'])
  await run.line(serving)
  for (const [sig, re] of [['SIGHUP', /SIGHUP: a rolling reload needs --workers/], ['SIGTTIN', /SIGTTIN: adding a worker needs --workers/], ['SIGTTOU', /SIGTTOU: removing a worker needs --workers/], ['SIGUSR1', /SIGUSR1: reopened the log files/]] as const) {
    run.proc.kill(sig)
    await run.line(re)
  }
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0, 'exit 0 after a clean drain, although the app holds a timer')
  const workers = start(t, ['serve', 'interval.js', '-p', '0', '-w', '2', '--graceful-timeout', '3'])
  await workers.line(serving)
  await workers.line(serving, workers.out.findIndex((l) => serving.test(l)) + 1)
  workers.proc.kill('SIGTERM')
  t.equal(await workers.exit, 0)
  t.equal(workers.count(/\] stopped$/), 2)
})

test('--socket: a Unix-domain socket, a stale file removed first', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-cli-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const sock = path.join(dir, 'app.sock')
  const old = net.createServer()
  await new Promise<void>((resolve) => old.listen(path.join(dir, 'old.sock'), resolve))
  fs.renameSync(path.join(dir, 'old.sock'), sock)
  await new Promise((resolve) => old.close(resolve))
  const run = start(t, ['serve', 'express-app.js', '--socket', sock, '--prefix', '/legacy'])
  await run.line(/serving express-app.js \(mounted app\) on unix:/)
  const res = await request('http://localhost/legacy/a', { socketPath: sock, headers: { host: 'app.example', 'x-forwarded-for': '203.0.113.5', 'x-forwarded-proto': 'https' } })
  t.match(JSON.parse(res.body), { from: 'express', ip: '203.0.113.5', protocol: 'https', hostname: 'app.example', url: '/a', baseUrl: '/legacy' })
  const second = start(t, ['serve', '--socket', sock])
  t.equal(await second.exit, 1)
  t.strictSame(second.err, [`fastify-proxy-fix: ${sock} is already in use: a server is listening on it`])
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
  t.notOk(fs.existsSync(sock))
})

test('inherited sockets: fd://N and systemd socket activation (LISTEN_FDS, LISTEN_PID)', async (t) => {
  for (const how of ['fd', 'systemd']) {
    const outer = net.createServer()
    await new Promise<void>((resolve) => outer.listen(0, '127.0.0.1', resolve))
    const port = (outer.address() as net.AddressInfo).port
    // The listening socket's descriptor becomes the child's fd 3.
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', (outer as unknown as { _handle: { fd: number } })._handle.fd]
    const run = how === 'fd'
      ? start(t, ['serve', '-b', 'fd://3', '-w', '1'], { stdio })
      // systemd sets LISTEN_PID to the service's own pid: `exec` keeps the shell's.
      : start(t, [], { stdio, command: ['/bin/sh', '-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${cli}" serve`] })
    outer.close()
    await run.line(how === 'fd' ? /serving whoami on http:\/\/127.0.0.1:\d+ \(fd:\/\/3\)/ : /systemd socket activation: listening on 1 inherited socket/)
    await run.line(/serving whoami/)
    const info = JSON.parse((await request(`http://127.0.0.1:${port}/`)).body)
    t.match(info, { socket: { ip: '127.0.0.1' } }, `${how}: served on the inherited socket`)
    run.proc.kill('SIGTERM')
    t.equal(await run.exit, 0)
  }
})
