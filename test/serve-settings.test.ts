import { test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { HELP, parseCommandLine } from '../lib/server/args'
import { bindText, parseBind } from '../lib/server/bind-spec'
import { CliError, errorLine } from '../lib/server/cli-error'
import { checkKeys, describeSettings, loadSettings, readConfigFile } from '../lib/server/config'
import { DEFAULTS, flagName, resolveSettings, splitModule, workerCount, type Key } from '../lib/server/settings'

function settingsOf (argv: string[], env: NodeJS.ProcessEnv = {}, pid = 1) {
  const cl = parseCommandLine(argv)
  return resolveSettings({ flags: cl.flags, flagNamer: (k: Key) => cl.spelled[k] as string, file: {}, fileNamer: (k) => k, env, pid })
}

function failsWith (t: Tap.Test, fn: () => unknown, re: RegExp, name: string): void {
  try {
    fn()
    t.fail(`${name}: no error`)
  } catch (err) {
    t.ok(err instanceof CliError, `${name}: a CliError`)
    t.match((err as Error).message, re, name)
    t.notMatch((err as Error).message, /\n/, `${name}: one line`)
  }
}

test('parseCommandLine: long, short and inline flags, repeatable --bind, module:export', async (t) => {
  const cl = parseCommandLine(['serve', './app.js:api', '-b', '127.0.0.1:8000', '--bind=unix:/tmp/a.sock', '-w', 'auto', '-p3000',
    '--strict', '--forwarded', '--http2', '--',])
  t.strictSame(cl.flags, { bind: ['127.0.0.1:8000', 'unix:/tmp/a.sock'], workers: 'auto', port: '3000', strict: true, forwarded: true, http2: true, app: './app.js:api' })
  t.equal(cl.spelled.port, '-p')
  t.equal(cl.spelled.bind, '--bind')
  t.strictSame(parseCommandLine(['-h']).help, true)
  t.strictSame(parseCommandLine(['--version']).version, true)
  t.strictSame(parseCommandLine(['serve', '-c', 'x.json', '--check-config']).config, 'x.json')
  t.strictSame(parseCommandLine(['serve', '--check-config']).checkConfig, true)
  t.strictSame(parseCommandLine(['serve', '--', 'app.js']).flags, { app: 'app.js' })
  t.strictSame(parseCommandLine(['serve', '-']).flags, { app: '-' })
  // A value is the next argument whatever it looks like: the range check reports it.
  t.strictSame(parseCommandLine(['serve', '--workers', '-1']).flags, { workers: '-1' })
  for (const flag of ['--bind', '--workers', '--timeout', '--graceful-timeout', '--max-requests', '--max-requests-jitter', '--access-log',
    '--access-log-format', '--log-level', '--certfile', '--keyfile', '--http2', '--health', '--trust', '--peers', '--hops', '--fields',
    '--forwarded', '--client-ip-header', '--host-header', '--allowed-hosts', '--strict', '--config', '--check-config', '--version', '-b', '-w', '-p']) {
    t.match(HELP, flag, `help lists ${flag}`)
  }
  const cases: Array<[string[], RegExp]> = [
    [[], /^missing command: serve \(try --help\)$/],
    [['start'], /^unknown command "start"/],
    [['serve', 'a.js', 'b.js'], /^unexpected argument "b.js"/],
    [['serve', '--bogus'], /^unknown option --bogus \(try --help\)$/],
    [['serve', '--bogus=1'], /^unknown option --bogus \(try --help\)$/],
    [['serve', '-x'], /^unknown option -x/],
    [['serve', '--port'], /^--port needs a value/],
    [['serve', '--strict=yes'], /^--strict takes no value, not "yes"$/]
  ]
  for (const [argv, re] of cases) failsWith(t, () => parseCommandLine(argv), re, argv.join(' '))
})

test('resolveSettings: defaults, and one-line errors naming the flag and the value', async (t) => {
  const { settings, notes } = settingsOf(['serve'])
  t.strictSame(notes, [])
  t.match(settings, {
    module: null,
    exportName: null,
    prefix: '/',
    binds: [{ kind: 'tcp', host: '127.0.0.1', port: 3000 }],
    workers: 0,
    timeout: 30,
    gracefulTimeout: 30,
    keepAlive: 5,
    maxRequests: 0,
    accessLog: '-',
    accessLogFormat: 'combined',
    logLevel: 'info',
    certfile: null,
    http2: false,
    health: null,
    trust: 'loopback,unix',
    peers: undefined,
    hops: null,
    fields: null,
    forwarded: false,
    clientIpHeader: null,
    hostHeader: null,
    allowedHosts: null,
    strict: false
  })
  const full = settingsOf(['serve', 'app.js:api', '-w', '3', '--timeout', '0.5', '--graceful-timeout', '2', '--keep-alive', '1', '--max-requests', '10',
    '--max-requests-jitter', '5', '--access-log', 'off', '--access-log-format', 'json', '--log-level', 'warn', '--health', '/healthz',
    '--trust', '2', '--hops', 'for=1, proto=2', '--client-ip-header', 'CF-Connecting-IP', '--host-header', 'X-FHost', '--allowed-hosts', 'a.example,.b.example',
    '--strict', '--forwarded', '--prefix', '/legacy', '--host', '::1', '-p', '0']).settings
  t.match(full, {
    module: 'app.js',
    exportName: 'api',
    workers: 3,
    timeout: 0.5,
    gracefulTimeout: 2,
    keepAlive: 1,
    maxRequests: 10,
    maxRequestsJitter: 5,
    accessLog: null,
    accessLogFormat: 'json',
    logLevel: 'warn',
    health: '/healthz',
    trust: 2,
    hops: { for: 1, proto: 2 },
    clientIpHeader: 'CF-Connecting-IP',
    hostHeader: 'X-FHost',
    allowedHosts: 'a.example,.b.example',
    strict: true,
    forwarded: true,
    prefix: '/legacy',
    binds: [{ kind: 'tcp', host: '::1', port: 0 }]
  })
  t.equal(settingsOf(['serve', '--workers', 'auto']).settings.workers, os.availableParallelism())
  t.equal(settingsOf(['serve', '--trust', 'true']).settings.trust, true)
  t.equal(settingsOf(['serve', '--trust', 'false']).settings.trust, false)
  t.strictSame(settingsOf(['serve', '--fields', 'for, proto']).settings.fields, ['for', 'proto'])
  t.equal(settingsOf(['serve', '--socket', '/tmp/s.sock']).settings.binds[0].kind, 'unix')
  t.strictSame(settingsOf(['serve', '--port', '8080']).settings.binds, [{ kind: 'tcp', host: '127.0.0.1', port: 8080 }])
  t.strictSame(settingsOf(['serve', '--host', '0.0.0.0']).settings.binds, [{ kind: 'tcp', host: '0.0.0.0', port: 3000 }])
  t.equal(settingsOf(['serve', '--certfile', 'c.pem', '--keyfile', 'k.pem', '--http2']).settings.http2, true)

  const cases: Array<[string[], RegExp]> = [
    [['serve', '--workers', '-1'], /^--workers "-1": must be "auto" or an integer from 1 to 256$/],
    [['serve', '-w', '0'], /^-w "0": must be "auto"/],
    [['serve', '--port', 'http'], /^--port "http": must be an integer from 0 to 65535$/],
    [['serve', '-p', '70000'], /^-p "70000": must be an integer/],
    [['serve', '--timeout', 'soon'], /^--timeout "soon": must be a number of seconds/],
    [['serve', '--graceful-timeout', '-3'], /^--graceful-timeout "-3"/],
    [['serve', '--max-requests', '10'], /^--max-requests 10: needs --workers/],
    [['serve', '--access-log-format', 'apache'], /^--access-log-format "apache": must be combined or json$/],
    [['serve', '--log-level', 'loud'], /^--log-level "loud": must be one of fatal/],
    [['serve', '--certfile', 'c.pem'], /^--certfile needs --keyfile$/],
    [['serve', '--keyfile', 'k.pem'], /^--keyfile needs --certfile$/],
    [['serve', '--http2'], /^--http2 true: needs --certfile and --keyfile/],
    [['serve', '--health', 'healthz'], /^--health "healthz": must be a path starting with "\/"$/],
    [['serve', '--prefix', 'legacy'], /^--prefix "legacy": must be a path starting with "\/"$/],
    [['serve', '--prefix', '/legacy/'], /^--prefix "\/legacy\/": must not end with "\/"/],
    [['serve', '--prefix', '/a/../b'], /^--prefix "\/a\/..\/b": must not contain "." or ".." segments$/],
    [['serve', '--strict', '--forwarded', '--hops', 'for'], /^--hops "for": must be a list like for=2,proto=1$/],
    [['serve', '--hops', 'for=1'], /^--hops: .*needs a numeric trust/],
    [['serve', '--trust', '2', '--fields', 'for'], /^--fields: .*does not go with a numeric trust/],
    [['serve', '--fields', 'for,ip'], /^--fields: "ip" is not a field/],
    [['serve', '--trust', '10.0.0.300'], /^--trust: "10.0.0.300" is not an IP address/],
    [['serve', '--trust', '999'], /^--trust: 999 is not a hop count/],
    [['serve', '--trust', 'true', '--host-header', 'X-FHost'], /^--trust: true is refused by hostRewrite/],
    [['serve', '--host-header', 'Host'], /^--host-header: "Host" must be a header set by the proxy/],
    [['serve', '--client-ip-header', 'a b'], /^--client-ip-header: "a b" is not a header name/],
    [['serve', '--allowed-hosts', 'a b'], /^--allowed-hosts: "a b" is not a host name/],
    [['serve', '--bind', '127.0.0.1:1', '--port', '2'], /^--bind cannot be combined with --port/],
    [['serve', '--socket', '/tmp/s', '--port', '1'], /^--socket cannot be combined with --port/],
    [['serve', '--socket', '/tmp/s', '--host', '::'], /^--socket cannot be combined with --host/],
    [['serve', '-b', 'nowhere'], /^-b "nowhere": must be HOST:PORT/],
    [['serve', '--prefix', '/a b'], /Invalid option "prefix"|--prefix/]
  ]
  for (const [argv, re] of cases) {
    try {
      settingsOf(argv)
      t.fail(argv.join(' '))
    } catch (err) {
      t.match(errorLine(err), /^fastify-proxy-fix: [^\n]+$/, argv.join(' '))
      t.match((err as Error).message, re, argv.join(' '))
    }
  }
  // --peers: who may connect and be counted with a hop count.
  t.match(settingsOf(['serve', '--trust', '1', '--peers', '10.0.0.0/8,unix']).settings, { trust: 1, peers: '10.0.0.0/8,unix' })
  t.equal(settingsOf(['serve', '--trust', '1', '--peers', 'true']).settings.peers, true)
  t.match(settingsOf(['serve', '--trust', '1', '--peers', '10.0.0.0/8', '--host-header', 'X-FHost']).settings, { peers: '10.0.0.0/8', hostHeader: 'X-FHost' })
  failsWith(t, () => settingsOf(['serve', '--trust', '1', '--peers', 'nope']), /^--peers: "nope"/, '--peers nope')
  failsWith(t, () => settingsOf(['serve', '--peers', 'false']), /^--peers: "false" is not an IP address/, '--peers false')
  t.strictSame(resolveSettings({ flags: {}, flagNamer: flagName, file: { trust: 1, peers: ['10.0.0.0/8'] }, fileNamer: flagName, env: {}, pid: 1 }).settings.peers, ['10.0.0.0/8'])
  t.throws(() => resolveSettings({ flags: {}, flagNamer: flagName, file: { peers: 'loopback', fields: ['ip'] }, fileNamer: (k) => `"${k}" in c.json`, env: {}, pid: 1 }), { message: /^"fields" in c.json: "ip" is not a field/ })
  t.equal(workerCount('x', 4), 4)
  const fromFile = (file: Record<string, unknown>) => resolveSettings({ flags: {}, flagNamer: flagName, file, fileNamer: (k) => `"${k}" in c.json`, env: {}, pid: 1 }).settings
  t.equal(fromFile({ http2: 'false', strict: 'true' }).strict, true)
  t.throws(() => fromFile({ strict: 'maybe' }), { message: '"strict" in c.json "maybe": must be true or false' })
  t.throws(() => fromFile({ workers: 10n }), { message: '"workers" in c.json 10: must be "auto" or an integer from 1 to 256' })
  t.throws(() => fromFile({ bind: [] }), { message: '"bind" in c.json []: must list at least one address' })
  t.strictSame(fromFile({ bind: 'unix:/x' }).binds, [{ kind: 'unix', path: '/x' }])
  t.throws(() => fromFile({ workers: () => 1 }), { message: /^"workers" in c.json \(\) => 1: must be/ })
  t.throws(() => fromFile({ certfile: '', keyfile: 'k' }), { message: '"certfile" in c.json "": must be a non-empty string' })
  t.strictSame(fromFile({ fields: ['for'] }).fields, ['for'])
  t.strictSame(fromFile({ trust: 1, hops: { proto: 0 } }).hops, { proto: 0 })
  t.equal(DEFAULTS.gracefulTimeout, 30)
})

test('the environment: PORT, HOST, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS, systemd LISTEN_FDS', async (t) => {
  const paas = settingsOf(['serve'], { PORT: '8123', WEB_CONCURRENCY: '2', FORWARDED_ALLOW_IPS: '10.0.0.0/8' })
  t.strictSame(paas.settings.binds, [{ kind: 'tcp', host: '0.0.0.0', port: 8123 }])
  t.match(paas.notes[0], /PORT is set and HOST is not: binding 0.0.0.0:8123/)
  t.equal(paas.settings.workers, 2)
  t.equal(paas.settings.trust, '10.0.0.0/8')
  t.strictSame(settingsOf(['serve'], { PORT: '8123', HOST: '::' }).settings.binds, [{ kind: 'tcp', host: '::', port: 8123 }])
  t.strictSame(settingsOf(['serve'], { HOST: '127.0.0.2' }).settings.binds, [{ kind: 'tcp', host: '127.0.0.2', port: 3000 }])
  t.equal(settingsOf(['serve'], { FORWARDED_ALLOW_IPS: '*' }).settings.trust, true)
  // Flags win over the environment.
  const flagged = settingsOf(['serve', '-p', '9000', '-w', '1', '--trust', 'loopback'], { PORT: '8123', WEB_CONCURRENCY: '4', FORWARDED_ALLOW_IPS: '10.0.0.1' }).settings
  t.match(flagged, { workers: 1, trust: 'loopback', binds: [{ port: 9000 }] })
  failsWith(t, () => settingsOf(['serve'], { WEB_CONCURRENCY: 'lots' }), /^WEB_CONCURRENCY "lots": must be "auto"/, 'WEB_CONCURRENCY')
  failsWith(t, () => settingsOf(['serve'], { PORT: 'x' }), /^PORT "x": must be an integer/, 'PORT')
  failsWith(t, () => settingsOf(['serve'], { FORWARDED_ALLOW_IPS: 'nope' }), /^FORWARDED_ALLOW_IPS: "nope"/, 'FORWARDED_ALLOW_IPS')

  const activated = settingsOf(['serve'], { LISTEN_FDS: '2', LISTEN_PID: '42', PORT: '1' }, 42)
  t.strictSame(activated.settings.binds, [{ kind: 'fd', fd: 3 }, { kind: 'fd', fd: 4 }])
  t.match(activated.notes[0], /systemd socket activation: listening on 2 inherited sockets/)
  t.equal(settingsOf(['serve'], { LISTEN_FDS: '1', LISTEN_PID: '42' }, 42).notes[0], 'systemd socket activation: listening on 1 inherited socket (LISTEN_FDS)')
  // Meant for another process (LISTEN_PID): ignored.
  t.strictSame(settingsOf(['serve'], { LISTEN_FDS: '1', LISTEN_PID: '7' }, 42).settings.binds, [{ kind: 'tcp', host: '127.0.0.1', port: 3000 }])
})

test('parseBind and bindText: gunicorn forms', async (t) => {
  t.strictSame(parseBind('-b', '127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000 })
  t.strictSame(parseBind('-b', '[::1]:8000'), { kind: 'tcp', host: '::1', port: 8000 })
  t.strictSame(parseBind('-b', ':8000'), { kind: 'tcp', host: '0.0.0.0', port: 8000 })
  t.strictSame(parseBind('-b', '8000'), { kind: 'tcp', host: '0.0.0.0', port: 8000 })
  t.strictSame(parseBind('-b', 'localhost:0'), { kind: 'tcp', host: 'localhost', port: 0 })
  t.strictSame(parseBind('-b', 'unix:/run/app.sock'), { kind: 'unix', path: '/run/app.sock' })
  t.strictSame(parseBind('-b', 'fd://3'), { kind: 'fd', fd: 3 })
  t.equal(bindText({ kind: 'tcp', host: '::1', port: 1 }), '[::1]:1')
  t.equal(bindText({ kind: 'tcp', host: '10.0.0.1', port: 1 }), '10.0.0.1:1')
  t.equal(bindText({ kind: 'unix', path: '/x' }), 'unix:/x')
  t.equal(bindText({ kind: 'fd', fd: 5 }), 'fd://5')
  const bad: Array<[unknown, RegExp]> = [
    ['', /must be HOST:PORT/], [3000, /must be HOST:PORT/], ['unix:', /needs a path/], ['fd://1', /3 or more/], ['fd://x', /3 or more/],
    ['[zz]:80', /zz is not an IPv6 address/], ['::1:80', /IPv6 address goes in brackets/], ['host:http', /the port must be an integer/], ['h:70000', /port must/]
  ]
  for (const [spec, re] of bad) failsWith(t, () => parseBind('--bind', spec), re, String(spec))
  t.strictSame(splitModule('C:app'), { module: 'C:app', exportName: null })
  t.strictSame(splitModule('./a.js:api'), { module: './a.js', exportName: 'api' })
  t.strictSame(splitModule('./a.js'), { module: './a.js', exportName: null })
})

test('--config: JSON, CommonJS and ESM; flags override it, it overrides the environment', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-config-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const json = path.join(dir, 'serve.json')
  fs.writeFileSync(json, JSON.stringify({ app: 'x.js:api', bind: ['127.0.0.1:8001', 'unix:/tmp/x.sock'], workers: 2, trust: ['10.0.0.0/8'], hops: undefined, strict: true, accessLog: false }))
  const loaded = await loadSettings(['serve', '-c', json, '-w', '3'], { WEB_CONCURRENCY: '5', FORWARDED_ALLOW_IPS: '10.9.9.9' }, dir, 1)
  t.match(loaded.resolved?.settings, { module: 'x.js', exportName: 'api', workers: 3, trust: ['10.0.0.0/8'], strict: true, accessLog: null, binds: [{ port: 8001 }, { path: '/tmp/x.sock' }] })
  t.match(describeSettings(loaded.resolved!.settings), /^module\s+x\.js:api\nbind\s+127\.0\.0\.1:8001 unix:\/tmp\/x\.sock\nworkers\s+3\n/)
  t.match(describeSettings(loaded.resolved!.settings), /\ntrust\s+\["10\.0\.0\.0\/8"\]\n/)
  t.match(describeSettings((await loadSettings(['serve'], {}, dir, 1)).resolved!.settings), /module\s+\(whoami page\)[\s\S]*workers\s+0 \(one process\)/)

  fs.writeFileSync(path.join(dir, 'serve.cjs'), 'module.exports = { workers: 4, gracefulTimeout: 5 }')
  t.match((await loadSettings(['serve', '--config', 'serve.cjs'], {}, dir, 1)).resolved?.settings, { workers: 4, gracefulTimeout: 5 })
  fs.writeFileSync(path.join(dir, 'serve.mjs'), 'export default async () => ({ logLevel: "debug" })')
  t.match(await readConfigFile('serve.mjs', dir), { logLevel: 'debug' })
  t.equal((await loadSettings(['--help'], {}, dir, 1)).resolved, null)

  fs.writeFileSync(path.join(dir, 'bad.json'), '{ "workers": ')
  fs.writeFileSync(path.join(dir, 'list.json'), '[]')
  fs.writeFileSync(path.join(dir, 'typo.json'), '{ "worker": 2 }')
  fs.writeFileSync(path.join(dir, 'value.json'), '{ "workers": -1 }')
  const cases: Array<[string, RegExp]> = [
    ['missing.json', /^--config "missing.json": cannot read/],
    ['bad.json', /^--config "bad.json": not valid JSON/],
    ['list.json', /^--config "list.json": must give an object of settings$/],
    ['typo.json', /^"worker" in typo.json is not a setting of serve/],
    ['value.json', /^"workers" in value.json -1: must be "auto" or an integer/],
    ['missing.cjs', /^cannot find missing.cjs/]
  ]
  for (const [file, re] of cases) {
    await t.rejects(loadSettings(['serve', '-c', file], {}, dir, 1), re, file)
  }
  t.throws(() => checkKeys({ nope: 1 }, (k) => `serve option "${k}"`), /^serve option "nope" is not a setting of serve/)
})

test('errorLine: one line, with the code of a coded error', async (t) => {
  t.equal(errorLine(new CliError('a\n  b')), 'fastify-proxy-fix: a b')
  t.equal(errorLine(Object.assign(new Error('boom'), { code: 'EX' })), 'fastify-proxy-fix: EX: boom')
  t.equal(errorLine('text'), 'fastify-proxy-fix: text')
})
