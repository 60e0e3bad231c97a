'use strict'

// npm run stress: a bounded loopback load test and a memory test, against dist/.
//
//   Load:   autocannon, STRESS_CONNECTIONS (200) keep-alive connections for STRESS_DURATION (20)
//           seconds against a real server in a child process (proxyFix + hostRewrite + mountApp),
//           requests rotating through the adversarial set in stress/scenarios.js. All come from
//           127.0.0.1, a trusted proxy, each for a different client: every answer must carry the
//           IP and Host resolved for its own request. Pass: zero 5xx, zero socket errors and
//           timeouts, zero mismatches, the server alive.
//   Memory: STRESS_REQUESTS (1,000,000) random header sets through resolve(), then
//           STRESS_INJECT (20,000) through the plugins with inject(). Pass: heap after GC grows
//           by less than 5 MB.
//
// Run with node --expose-gc. Exits non-zero on any failure. STRESS_SEED fixes the random headers.

const { fork } = require('node:child_process')
const { join } = require('node:path')
const autocannon = require('autocannon')
const Fastify = require('fastify')
const { proxyFix, hostRewrite, mountApp } = require('../dist/index.js')
const { mulberry32 } = require('../test/prng')
const { resolve } = require('../dist/core/resolve.js')
const { compileOptions } = require('../dist/core/options.js')
const { scenario } = require('./scenarios.js')

const DURATION = Number(process.env.STRESS_DURATION ?? 20)
const CONNECTIONS = Number(process.env.STRESS_CONNECTIONS ?? 200)
const REQUESTS = Number(process.env.STRESS_REQUESTS ?? 1_000_000)
const INJECTS = Number(process.env.STRESS_INJECT ?? 20_000)
const SEED = Number(process.env.STRESS_SEED ?? (Date.now() % 2 ** 31))
const HEAP_LIMIT = 5 * 1024 * 1024

if (typeof global.gc !== 'function') {
  console.error('stress/run.js needs node --expose-gc')
  process.exit(2)
}

const MB = (bytes) => (bytes / 1024 / 1024).toFixed(2) + ' MB'
const failures = []
const figures = {}

/** Lets pending immediates and timers run (inject() resolves through microtasks only, so a tight
 * loop of awaited injects leaves one pending Immediate per request holding its response), then
 * collects twice. */
async function settle () {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

function heapAfterGc () {
  global.gc()
  global.gc()
  return process.memoryUsage().heapUsed
}

// ---- load ----

function startServer () {
  const child = fork(join(__dirname, 'server.js'), { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiters = new Map()
  let crash = null
  child.on('message', (msg) => {
    if (msg.type === 'crash') crash = msg
    const w = waiters.get(msg.type)
    if (w !== undefined) {
      waiters.delete(msg.type)
      w(msg)
    }
  })
  const next = (type) => new Promise((resolve, reject) => {
    waiters.set(type, resolve)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}${crash ? ': ' + crash.error : ''}`)))
  })
  return { child, next, crashed: () => crash }
}

async function load () {
  const server = startServer()
  const { port } = await server.next('listening')
  server.child.send({ type: 'heap' })
  const before = await server.next('heap')

  let counter = 0
  let checked = 0
  let mismatches = 0
  const examples = []
  const mismatch = (why) => {
    mismatches++
    if (examples.length < 5) examples.push(why)
  }
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: DURATION,
    pipelining: 1,
    requests: [{
      setupRequest (req, context) {
        const s = scenario(counter++)
        context.expected = s
        return { ...req, method: 'GET', path: s.path, headers: s.headers }
      },
      onResponse (status, body, context) {
        const want = context.expected
        checked++
        if (status !== want.status) return mismatch(`${want.path} n=${want.headers['x-expect']}: status ${status}, want ${want.status}`)
        if (status !== 200) return
        let got
        try {
          got = JSON.parse(body)
        } catch {
          return mismatch(`${want.path}: body is not JSON: ${String(body).slice(0, 60)}`)
        }
        if (got.expect !== want.headers['x-expect'] || got.ip !== want.ip || got.host !== want.host) {
          mismatch(`${want.path} n=${want.headers['x-expect']}: got ${JSON.stringify(got)}, want ip ${want.ip} host ${want.host}`)
        }
      }
    }]
  })
  server.child.send({ type: 'heap' })
  const after = await server.next('heap')
  server.child.send({ type: 'stop' })
  await new Promise((resolve) => server.child.once('exit', resolve))

  const fivexx = result['5xx']
  figures.load = {
    connections: CONNECTIONS,
    durationSeconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.average),
    latencyP99ms: result.latency.p99,
    checked,
    '2xx': result['2xx'],
    '4xx (expected, from the adversarial set)': result['4xx'],
    '5xx': fivexx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    mismatches,
    serverResponses: after.stats.responses,
    serverErrors: after.stats.serverErrors,
    serverHeapGrowth: MB(after.heapUsed - before.heapUsed)
  }
  if (fivexx !== 0 || after.stats.serverErrors !== 0) failures.push(`load: ${fivexx} 5xx answers (server counted ${after.stats.serverErrors}): ${after.stats.logged.join('\n')}`)
  if (result.errors !== 0 || result.timeouts !== 0) failures.push(`load: ${result.errors} socket errors, ${result.timeouts} timeouts`)
  if (mismatches !== 0) failures.push(`load: ${mismatches} answers did not match their own request, e.g.\n  ${examples.join('\n  ')}`)
  if (checked === 0) failures.push('load: no response was checked')
  if (server.crashed()) failures.push(`load: the server crashed: ${server.crashed().error}`)
}

// ---- memory ----

const FRAGMENTS = ['127.0.0.1', '10.0.0.2', '::1', '::ffff:127.0.0.1', '127.1', '0x7f.0.0.1', 'unknown', '_obf', 'proxy', '[2001:db8::1]:443',
  'https', 'HTTP', 'wss', 'pub.example:8443', 'evil.com:fake@legit.com', '/app/', '//evil', 'for=1.2.3.4;proto=https', 'for="', '', ' ']

function randomHeaders (rnd, n) {
  const ip = () => `${(rnd() * 256) | 0}.${(rnd() * 256) | 0}.${(n >>> 8) & 255}.${n & 255}`
  const item = () => {
    const r = rnd()
    if (r < 0.5) return ip()
    if (r < 0.8) return FRAGMENTS[(rnd() * FRAGMENTS.length) | 0]
    // random printable junk
    let s = ''
    const len = (rnd() * 12) | 0
    for (let i = 0; i < len; i++) s += String.fromCharCode(32 + ((rnd() * 95) | 0))
    return s
  }
  const list = () => {
    const len = 1 + ((rnd() * 4) | 0)
    const out = []
    for (let i = 0; i < len; i++) out.push(item())
    return out.join(', ')
  }
  const h = { host: rnd() < 0.9 ? `h${n % 5000}.example` : item() }
  if (rnd() < 0.9) h['x-forwarded-for'] = list()
  if (rnd() < 0.5) h['x-forwarded-proto'] = list()
  if (rnd() < 0.5) h['x-forwarded-host'] = list()
  if (rnd() < 0.2) h['x-forwarded-port'] = item()
  if (rnd() < 0.2) h['x-forwarded-prefix'] = item()
  if (rnd() < 0.2) h.forwarded = `for=${ip()};proto=https, ${item()}`
  if (rnd() < 0.3) h['x-fhost'] = item()
  if (rnd() < 0.1) h['x-real-ip'] = item()
  return h
}

async function memory () {
  const rnd = mulberry32(SEED)
  const plans = [
    [compileOptions({}, 'proxyFix'), compileOptions({ header: 'x-fhost' }, 'hostRewrite')],
    [compileOptions({ trust: ['loopback', '10.0.0.0/8'], strict: true, allowedHosts: ['.example'] }, 'proxyFix'), undefined],
    [compileOptions({ forwarded: true }, 'proxyFix'), undefined],
    [compileOptions({ clientIpHeader: 'x-real-ip' }, 'proxyFix'), undefined],
    [compileOptions({ trust: 2 }, 'proxyFix'), undefined]
  ]
  const peers = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.9', '203.0.113.9']
  let sink = 0
  const once = (n) => {
    const [fix, rewrite] = plans[n % plans.length]
    const v = resolve(peers[n % peers.length], (n & 1) === 1, randomHeaders(rnd, n), fix, rewrite)
    sink += v.ips.length + v.host.length + (v.error === null ? 0 : 1) + (v.ip === undefined ? 0 : v.ip.length)
  }
  for (let n = 0; n < 20_000; n++) once(n) // warm-up: JIT, lazy compilation
  const base = heapAfterGc()
  const t0 = process.hrtime.bigint()
  for (let n = 0; n < REQUESTS; n++) once(n)
  const resolveMs = Number(process.hrtime.bigint() - t0) / 1e6
  const afterResolve = heapAfterGc()

  const f = Fastify()
  await f.register(proxyFix, { trust: ['loopback', '10.0.0.0/8'] })
  await f.register(hostRewrite, { header: 'x-fhost' })
  await f.register(mountApp, { prefix: '/legacy', app: (req, res) => res.end(String(req.ip)) })
  f.get('/echo', (req, reply) => { reply.send(`${req.ip} ${req.host} ${req.protocol}`) })
  await f.ready()
  const paths = ['/echo', '/legacy/x', '/%6cegacy/y?z=1', '/%zz']
  let fivexx = 0
  const inject = async (n) => {
    const res = await f.inject({ url: paths[n % paths.length], remoteAddress: peers[n % peers.length], headers: randomHeaders(rnd, n) })
    if (res.statusCode >= 500) fivexx++
    if (n % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  for (let n = 0; n < 2_000; n++) await inject(n)
  await settle()
  const injectBase = heapAfterGc()
  const t1 = process.hrtime.bigint()
  for (let n = 0; n < INJECTS; n++) await inject(n)
  const injectMs = Number(process.hrtime.bigint() - t1) / 1e6
  await settle()
  const afterInject = heapAfterGc()
  await f.close()

  const growth = afterResolve - base
  const injectGrowth = afterInject - injectBase
  figures.memory = {
    seed: SEED,
    resolveCalls: REQUESTS,
    resolveNsPerCall: Math.round(resolveMs * 1e6 / REQUESTS),
    heapBefore: MB(base),
    heapAfterResolve: MB(afterResolve),
    resolveHeapGrowth: MB(growth),
    injectRequests: INJECTS,
    injectMsPerRequest: (injectMs / INJECTS).toFixed(3),
    inject5xx: fivexx,
    injectHeapGrowth: MB(injectGrowth),
    checksum: sink
  }
  if (growth >= HEAP_LIMIT) failures.push(`memory: the heap grew by ${MB(growth)} over ${REQUESTS} resolve() calls (limit 5 MB)`)
  if (injectGrowth >= HEAP_LIMIT) failures.push(`memory: the heap grew by ${MB(injectGrowth)} over ${INJECTS} inject() requests (limit 5 MB)`)
  if (fivexx !== 0) failures.push(`memory: ${fivexx} inject() answers were 5xx`)
}

async function main () {
  const skip = (process.env.STRESS_SKIP ?? '').split(',')
  if (!skip.includes('load')) await load()
  if (!skip.includes('memory')) await memory()
  console.log(JSON.stringify(figures, null, 2))
  console.log('\nstress summary')
  if (figures.load !== undefined) {
    const l = figures.load
    console.log(`  load:   ${l.requests} requests in ${l.durationSeconds} s over ${l.connections} keep-alive connections (${l.requestsPerSecond} req/s, p99 ${l.latencyP99ms} ms); ` +
      `${l.checked} answers checked, ${l.mismatches} mismatches, ${l['5xx']} 5xx, ${l.socketErrors} socket errors, ${l.timeouts} timeouts; server heap ${l.serverHeapGrowth}`)
  }
  if (figures.memory !== undefined) {
    const m = figures.memory
    console.log(`  memory: ${m.resolveCalls} resolve() calls (${m.resolveNsPerCall} ns each), heap after GC ${m.heapBefore} -> ${m.heapAfterResolve} (${m.resolveHeapGrowth}); ` +
      `${m.injectRequests} inject() requests, heap growth ${m.injectHeapGrowth}, ${m.inject5xx} 5xx; seed ${m.seed}`)
  }
  if (failures.length > 0) {
    console.log(`  FAILED:\n  - ${failures.join('\n  - ')}`)
    process.exit(1)
  }
  console.log('  PASSED')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
