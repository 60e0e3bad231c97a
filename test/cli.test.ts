import { test } from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

// Runs the built CLI for real (npm test builds before tap; a missing build is made here).
const root = path.join(__dirname, '..')
const cli = path.join(root, 'dist', 'cli.js')
const fixtures = path.join(__dirname, 'fixtures')
if (!fs.existsSync(cli)) execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')])

interface Run {
  proc: ChildProcess
  out: string[]
  err: string[]
  exit: Promise<number | null>
  /** Resolves with the first match of `re` in stdout (from line `from` on). */
  line: (re: RegExp, from?: number) => Promise<RegExpExecArray>
}

function start (t: Tap.Test, args: string[], cwd = fixtures): Run {
  const proc = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: string[] = []
  const err: string[] = []
  const split = (into: string[]) => {
    let rest = ''
    return (chunk: Buffer): void => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() as string
      into.push(...lines)
    }
  }
  ;(proc.stdout as NodeJS.ReadableStream).on('data', split(out))
  ;(proc.stderr as NodeJS.ReadableStream).on('data', split(err))
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)))
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const line = async (re: RegExp, from = 0): Promise<RegExpExecArray> => {
    const end = Date.now() + 15000
    for (;;) {
      for (let i = from; i < out.length; i++) {
        const m = re.exec(out[i])
        if (m !== null) return m
      }
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`no ${re} in stdout: ${out.join('\n')} / stderr: ${err.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return { proc, out, err, exit, line }
}

function request (url: string, opts: http.RequestOptions = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('request timed out')))
    req.end()
  })
}

test('--help lists every flag and exits 0', async (t) => {
  const run = start(t, ['--help'])
  t.equal(await run.exit, 0)
  const help = run.out.join('\n')
  for (const flag of ['serve [module]', '--prefix', '--trust', '--host-header', '--allowed-hosts', '--port', '--host', '--socket', '--workers', '--help']) {
    t.match(help, flag)
  }
  t.strictSame(run.err, [])
})

test('each error is exactly one line on stderr and a non-zero exit, never a stack', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  const cases: Array<[string, string[], RegExp]> = [
    ['missing module', ['serve', 'nowhere.js'], /^fastify-proxy-fix: cannot find module nowhere.js \(looked for .*nowhere.js\)$/],
    ['not an app', ['serve', 'not-an-app.js'], /^fastify-proxy-fix: not-an-app.js does not export an app: .*\(found an object\)$/],
    ['bad trust', ['serve', '--trust', '10.0.0.300'], /^fastify-proxy-fix: FST_ERR_PROXY_FIX_INVALID_OPTION: Invalid option "trust": "10.0.0.300" is not an IP address/],
    ['port in use', ['serve', '--port', String(port)], new RegExp(`^fastify-proxy-fix: 127.0.0.1:${port} is already in use \\(EADDRINUSE\\)`)],
    ['port in use, workers', ['serve', '--workers', '2', '--port', String(port)], /is already in use \(EADDRINUSE\)/],
    ['module that throws', ['serve', 'throws.js'], /^fastify-proxy-fix: cannot load throws.js: this module fails to load with a second line$/],
    ['unknown flag', ['serve', '--bogus'], /^fastify-proxy-fix: Unknown option '--bogus'/]
  ]
  for (const [name, args, re] of cases) {
    const run = start(t, args)
    const code = await run.exit
    t.equal(code, 1, `${name}: exit code`)
    t.equal(run.err.length, 1, `${name}: one line`)
    t.match(run.err[0], re, name)
    t.strictSame(run.out, [], `${name}: nothing on stdout`)
  }
})

test('whoami over TCP: JSON and HTML, seen from a distinct loopback client', async (t) => {
  const run = start(t, ['serve', '--port', '0', '--trust', '127.0.0.1', '--host-header', 'X-FHost'])
  const url = (await run.line(/serving whoami on (http:\S+)/))[1]

  // 127.0.0.5 is not trusted: its forwarded headers change nothing.
  const spoof = await request(url + '/x', { localAddress: '127.0.0.5', headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-fhost': 'evil.example' } })
  const a = JSON.parse(spoof.body)
  t.match(a, { socket: { ip: '127.0.0.5' }, corrected: { ip: '127.0.0.5', host: url.slice(7) }, trusted: false })
  t.match(a.why[0], 'The socket peer 127.0.0.5 is not trusted')

  // 127.0.0.1 is the trusted proxy: the client is the entry it appended.
  const proxied = await request(url + '/x', {
    localAddress: '127.0.0.1',
    headers: { 'x-forwarded-for': '6.6.6.6, 127.0.0.9', 'x-forwarded-proto': 'https', 'x-fhost': 'public.example', 'x-forwarded-prefix': '/app' }
  })
  const b = JSON.parse(proxied.body)
  t.match(b, { socket: { ip: '127.0.0.1', protocol: 'http' }, corrected: { ip: '127.0.0.9', protocol: 'https', host: 'public.example', url: 'https://public.example/app/x' }, trusted: true })
  t.strictSame(b.hops.map((h: { role: string }) => h.role), ['trusted proxy', 'client', 'ignored'])

  const html = await request(url + '/', { localAddress: '127.0.0.5', headers: { accept: 'text/html,*/*;q=0.8', 'x-forwarded-for': '<img src=x onerror=alert(1)>' } })
  t.equal(html.headers['content-type'], 'text/html; charset=utf-8')
  t.match(html.body, '&lt;img src=x onerror=alert(1)&gt;')
  t.notMatch(html.body, '<img')
  t.match(html.body, '127.0.0.5')

  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
  t.strictSame(run.err, [])
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

test('--workers 2: a crashed worker is restarted; SIGTERM drains in-flight requests and exits 0', async (t) => {
  const run = start(t, ['serve', 'fastify-plugin.js', '--workers', '2', '--port', '0'])
  await run.line(/primary \d+ starting 2 workers/)
  const url = (await run.line(/serving fastify-plugin.js \(Fastify plugin\) on (http:\S+)/))[1]
  const serving = (): number => run.out.filter((l) => l.includes('serving')).length
  for (let i = 0; serving() < 2 && i < 300; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(serving(), 2, 'two workers listening')

  const crashed = JSON.parse((await request(url + '/crash')).body).crashing
  for (let i = 0; serving() < 3 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(serving(), 3, 'a new worker started')
  t.match(run.err.join('\n'), new RegExp(`worker ${crashed} exited \\(code 1\\); restarting in 100 ms`))
  const pids = new Set<number>()
  for (let i = 0; i < 6; i++) pids.add(JSON.parse((await request(url + '/pid')).body).pid)
  t.notOk(pids.has(crashed), 'the crashed worker is gone')
  t.ok(pids.size >= 1, 'still serving')

  const slow = request(url + '/slow?ms=1000')
  await new Promise((resolve) => setTimeout(resolve, 300))
  run.proc.kill('SIGTERM')
  const res = await slow
  t.equal(res.status, 200, 'the in-flight request finished')
  t.match(JSON.parse(res.body), { slow: true })
  t.equal(await run.exit, 0)
  t.match(run.out.join('\n'), /SIGTERM: stopping workers[\s\S]*draining/)
})
