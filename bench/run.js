'use strict'

// Benchmark suite for fastify-proxy-fix. Reports, not tests: always exits 0 once it has
// measured (FAIL lines are printed, not thrown); exits 1 only when it cannot measure at all
// (a server fails to start, a response is not 200, the two resolvers disagree).
//
// Run:  npm run bench           (builds dist/ first, then `node bench/run.js`)
//       node bench/run.js       (uses the existing dist/)
//
// 1. HTTP throughput: each variant (plain, trustProxy, proxyFix, hostRewrite when
//    dist/ exports it) is a Fastify server in its own child process (bench/server.js) on
//    127.0.0.1, started afresh for every measurement and warmed up 1 s; only one server
//    runs at a time. autocannon drives them from this process, variants interleaved in every
//    round (order rotated per round). The server is pinned to CPU 1 and this process (the
//    load generator) to CPU 0 with taskset, so the two do not fight over a core. Reported:
//    median req/s and the median of per-round ratios against `plain` (and
//    proxyFix/trustProxy) measured in the same round, with the spread of those ratios; also
//    the servers' CPU time per request (info only: less skewed by the 2-core load generator).
// 2. Resolver micro-benchmark: dist `resolve` vs proxy-addr `all()` on a 5-hop
//    X-Forwarded-For chain (interleaved batches, median ns/op), plus one 16 KiB header; then
//    bench/adversarial.js: 16 KiB values, well formed and adversarial, in both families.
// 3. mountApp: bench/mount.js, run as a child process at the end (same pinning; its pairs of
//    servers are loaded at once, see there).
//
// Environment:
//   BENCH_ROUNDS       HTTP rounds (default 7)
//   BENCH_DURATION     seconds per variant per round (default 3)
//   BENCH_CONNECTIONS  autocannon connections (default 50)
//   BENCH_VARIANTS     comma list to run a subset, e.g. "plain,proxyFix" (default: all)
//   BENCH_SKIP_HTTP=1  / BENCH_SKIP_MICRO=1  / BENCH_SKIP_MOUNT=1   skip a section
//   BENCH_NO_PIN=1     do not pin processes to CPUs (pinning needs taskset and 2+ CPUs)
//   BENCH_CPU_PROF=dir start the servers with `--cpu-prof --cpu-prof-dir dir` (profiling;
//                      one .cpuprofile per server process, i.e. per variant per round)
//
// The machine this runs on is shared and noisy: read the ratios, not the absolute numbers.
// bench/mount.js takes BENCH_MOUNT_ROUNDS / BENCH_MOUNT_DURATION (see there).

const path = require('node:path')
const http = require('node:http')
const { fork, spawn } = require('node:child_process')
const { pinSelf, pinnedFork } = require('./pin')
const autocannon = require('autocannon')
const proxyaddr = require('proxy-addr')

const DIST = path.join(__dirname, '..', 'dist')
const lib = require(DIST)
const { compileOptions } = require(path.join(DIST, 'core', 'options'))
// The pure resolver: the package export when present, else the built module itself.
const resolveFrom = typeof lib.resolve === 'function' ? 'dist (index export)' : 'dist/core/resolve.js'
const resolveFn = typeof lib.resolve === 'function' ? lib.resolve : require(path.join(DIST, 'core', 'resolve')).resolve

function intEnv (name, def, min, max) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}`)
  return n
}

const ROUNDS = intEnv('BENCH_ROUNDS', 7, 1, 50)
const DURATION = intEnv('BENCH_DURATION', 3, 1, 120)
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50, 1, 1000)
const HOST = '127.0.0.1'

const BASE_HEADERS = {
  'x-forwarded-for': '203.0.113.7, 10.0.0.2',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'example.com'
}

const VARIANTS = {
  plain: { headers: BASE_HEADERS, expect: (port) => ({ ip: HOST, protocol: 'http', host: `${HOST}:${port}` }) },
  trustProxy: { headers: BASE_HEADERS, expect: () => ({ ip: '203.0.113.7', protocol: 'https', host: 'example.com' }) },
  proxyFix: { headers: BASE_HEADERS, expect: () => ({ ip: '203.0.113.7', protocol: 'https', host: 'example.com' }) },
  proxyFixQuiet: { headers: BASE_HEADERS, expect: () => ({ ip: '203.0.113.7', protocol: 'https', host: 'example.com' }) },
  hostRewrite: {
    headers: { ...BASE_HEADERS, 'x-fhost': 'public.example.com' },
    expect: () => ({ ip: HOST, protocol: 'http', host: 'public.example.com' })
  }
}

const TARGETS = [
  { name: 'proxyFix vs plain', num: 'proxyFix', den: 'plain', min: 0.95 },
  { name: 'proxyFix vs trustProxy', num: 'proxyFix', den: 'trustProxy', min: 1.25 },
  { name: 'hostRewrite vs plain', num: 'hostRewrite', den: 'plain', min: 0.97 },
  // references: what the misconfiguration warnings cost (on against off), and the noise of the method
  { name: 'proxyFix warnings on vs off', num: 'proxyFix', den: 'proxyFixQuiet', min: null },
  { name: 'calibration: plain vs plain', num: 'plain', den: 'plain', min: null }
]

// ---------------------------------------------------------------- helpers

function median (xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fmt = (n, d = 0) => Number.isFinite(n) ? n.toFixed(d) : 'n/a'
const fmtRatio = (r) => Number.isFinite(r) ? r.toFixed(3) + 'x' : 'n/a'
const pad = (s, n) => String(s).padEnd(n)
const lpad = (s, n) => String(s).padStart(n)

let TASKSET = null

// ---------------------------------------------------------------- child servers

const children = new Set()

function killAll () {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGKILL') } catch {}
    }
  }
  children.clear()
}

process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping servers`)
    killAll()
    process.exit(130)
  })
}

function startServer (variant) {
  const execArgv = []
  if (process.env.BENCH_CPU_PROF) execArgv.push('--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF)
  const child = fork(path.join(__dirname, 'server.js'), [variant], { ...pinnedFork(TASKSET, 1, execArgv), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${variant}: server did not start within 15 s`)), 15000)
    function done (err, port) {
      clearTimeout(timer)
      child.removeListener('message', onMessage)
      child.removeListener('exit', onExit)
      if (err) reject(err)
      else resolve({ variant, child, port })
    }
    function onMessage (m) {
      if (m && m.ready) done(null, m.port)
      else if (m && m.error) done(new Error(`${variant}: server failed: ${m.error}`))
    }
    function onExit (code, signal) { done(new Error(`${variant}: server exited early (${code ?? signal})`)) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

/** Graceful stop (lets --cpu-prof write its file), SIGKILL after 5 s. */
function stopServer (server) {
  const { child } = server
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child)
      return resolve()
    }
    const timer = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      children.delete(child)
      resolve()
    })
    try { child.send('stop') } catch {}
    try { child.disconnect() } catch {}
  })
}

function getOnce (port, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path: '/', headers, agent: false, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error('sanity request timed out')))
    req.on('error', reject)
  })
}

/** One request per server: 200 and the corrected values this variant should produce. */
async function sanity (server) {
  const v = VARIANTS[server.variant]
  const res = await getOnce(server.port, v.headers)
  if (res.status !== 200) throw new Error(`${server.variant}: sanity request answered ${res.status}: ${res.body}`)
  const got = JSON.parse(res.body)
  const want = v.expect(server.port)
  for (const k of Object.keys(want)) {
    if (got[k] !== want[k]) throw new Error(`${server.variant}: sanity: ${k} is ${JSON.stringify(got[k])}, expected ${JSON.stringify(want[k])}`)
  }
}

let cpuSeq = 0

/** The server's process.cpuUsage() (user + system, microseconds), over IPC. */
function serverCpu (server) {
  const { child } = server
  const id = ++cpuSeq
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.removeListener('message', onMessage); reject(new Error(`${server.variant}: no cpu answer`)) }, 5000)
    function onMessage (m) {
      if (!m || m.id !== id) return
      clearTimeout(timer)
      child.removeListener('message', onMessage)
      resolve(m.cpu.user + m.cpu.system)
    }
    child.on('message', onMessage)
    child.send({ cmd: 'cpu', id })
  })
}

async function load (server, duration, connections = CONNECTIONS) {
  const cpu0 = await serverCpu(server)
  const result = await autocannon({
    url: `http://${HOST}:${server.port}/`,
    connections,
    pipelining: 1,
    duration,
    headers: VARIANTS[server.variant].headers
  })
  const bad = result.non2xx + result.errors + result.timeouts
  const ok = result['2xx']
  if (bad !== 0 || ok === 0 || result['1xx'] + result['3xx'] + result['4xx'] + result['5xx'] !== 0) {
    throw new Error(`${server.variant}: ${ok} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  const cpu1 = await serverCpu(server)
  return { rps: ok / result.duration, p99: result.latency.p99, cpuUs: (cpu1 - cpu0) / ok, busy: (cpu1 - cpu0) / (result.duration * 1e6) }
}

// ---------------------------------------------------------------- 1. HTTP

async function httpBench () {
  let names = ['plain', 'trustProxy', 'proxyFix', 'proxyFixQuiet', 'hostRewrite']
  if (typeof lib.hostRewrite !== 'function') {
    console.log('note: dist/ has no hostRewrite export yet: skipping the hostRewrite variant')
    names = names.filter((n) => n !== 'hostRewrite')
  }
  if (process.env.BENCH_VARIANTS) {
    const wanted = process.env.BENCH_VARIANTS.split(',').map((s) => s.trim())
    for (const w of wanted) if (!VARIANTS[w]) throw new Error(`BENCH_VARIANTS: unknown variant ${w}`)
    names = names.filter((n) => wanted.includes(n))
  }
  console.log(`\n== HTTP throughput: ${names.join(', ')}; ${ROUNDS} rounds x ${DURATION} s, ${CONNECTIONS} connections, pipelining 1`)

  // A fresh server process for every measurement, alone on its CPU: on this shared box one
  // process can stay slow for a while, and that must not bias one variant for the whole run.
  const rows = Object.fromEntries(names.map((n) => [n, []]))
  const p99 = Object.fromEntries(names.map((n) => [n, []]))
  const cpu = Object.fromEntries(names.map((n) => [n, []]))
  let checked = 0
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length])
    const line = []
    for (const name of order) {
      const s = await startServer(name)
      try {
        await sanity(s)
        if (++checked === names.length) console.log('sanity: every variant answers 200 with the expected ip/protocol/host')
        await load(s, 1) // warm-up (JIT, sockets), not counted
        const m = await load(s, DURATION)
        rows[name][r] = m.rps
        p99[name][r] = m.p99
        cpu[name][r] = m.cpuUs
        line.push(`${name} ${fmt(m.rps)} (server busy ${fmt(100 * m.busy)}%)`)
      } finally {
        await stopServer(s)
      }
    }
    console.log(`round ${r + 1}/${ROUNDS} req/s: ${line.join(', ')}`)
  }
  return { names, rows, p99, cpu }
}

// ---------------------------------------------------------------- 1b. HTTP, paired

/**
 * Each target's two servers loaded at once, round after round (half the connections each, both on
 * CPU 1): they share the machine's load at every instant, so the ratio holds steady where the
 * one-at-a-time rounds above swing (see bench/mount.js, which measures the same way). The targets
 * are judged on these ratios by server CPU per request.
 */
async function pairedBench (names) {
  const pairs = TARGETS.filter((t) => names.includes(t.num) && names.includes(t.den))
  console.log(`\n== HTTP, paired: both servers of a target at once, ${ROUNDS} rounds x ${DURATION} s, ${Math.ceil(CONNECTIONS / 2)} connections each`)
  const out = {}
  for (const t of pairs) {
    const sides = [await startServer(t.num), await startServer(t.den)]
    try {
      for (const side of sides) await sanity(side)
      await Promise.all(sides.map((side) => load(side, 1, Math.ceil(CONNECTIONS / 2))))
      const cpu = []
      const rps = []
      for (let r = 0; r < ROUNDS; r++) {
        // whichever load starts first gains a little: alternate the order each round
        const order = r % 2 === 0 ? [0, 1] : [1, 0]
        const results = []
        await Promise.all(order.map((i) => load(sides[i], DURATION, Math.ceil(CONNECTIONS / 2)).then((res) => { results[i] = res })))
        const [a, b] = results
        cpu.push(b.cpuUs / a.cpuUs)
        rps.push(a.rps / b.rps)
      }
      out[t.name] = { cpu, rps }
      const range = (xs) => `[${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}]`
      console.log(`${t.name}: ${fmtRatio(median(cpu))} by CPU per request ${range(cpu)}, ${fmtRatio(median(rps))} req/s ${range(rps)}`)
    } finally {
      for (const side of sides) await stopServer(side)
    }
  }
  return out
}

function roundRatios (rows, num, den) {
  if (!rows[num] || !rows[den]) return []
  return rows[num].map((x, i) => x / rows[den][i])
}

function perRoundRatio (rows, num, den) {
  return median(roundRatios(rows, num, den))
}

/** The spread of the per-round ratios, to judge the noise: "[min..max]". */
function spread (rows, num, den) {
  const rs = roundRatios(rows, num, den)
  return rs.length === 0 ? '' : `[${Math.min(...rs).toFixed(2)}..${Math.max(...rs).toFixed(2)}]`
}

// ---------------------------------------------------------------- 2. resolver micro-benchmark

function timeBatch (fn, iterations) {
  const t0 = process.hrtime.bigint()
  fn(iterations)
  return Number(process.hrtime.bigint() - t0) / iterations
}

function microBench () {
  console.log(`\n== Resolver micro-benchmark: resolve() from ${resolveFrom} vs proxy-addr all(), 5-hop X-Forwarded-For`)
  if (typeof resolveFn !== 'function') throw new Error('no resolve() found in dist/')
  const TRUST = ['127.0.0.1', '10.0.0.0/8']
  const peer = '127.0.0.1'
  const plan = compileOptions({ trust: TRUST }, 'proxyFix')
  const trustFn = proxyaddr.compile(TRUST)
  const headers = { host: 'internal', 'x-forwarded-for': '198.51.100.9, 10.0.0.4, 10.0.0.3, 10.0.0.2, 10.0.0.1' }
  const reqLike = { headers, connection: { remoteAddress: peer }, socket: { remoteAddress: peer } }

  const a = resolveFn(peer, false, headers, plan, undefined).ip
  const all = proxyaddr.all(reqLike, trustFn)
  const b = all[all.length - 1]
  if (a !== '198.51.100.9' || a !== b) throw new Error(`resolvers disagree: resolve() gives ${a}, proxy-addr gives ${b}`)

  let sink = 0
  const runResolve = (n) => {
    for (let i = 0; i < n; i++) sink += resolveFn(peer, false, headers, plan, undefined).ips.length
  }
  const runProxyAddr = (n) => {
    for (let i = 0; i < n; i++) sink += proxyaddr.all(reqLike, trustFn).length
  }

  const BATCH = 100000
  const ROUNDS_MICRO = 9
  for (let w = 0; w < 3; w++) { runResolve(BATCH); runProxyAddr(BATCH) }
  const ns = { resolve: [], proxyaddr: [] }
  const ratio = []
  for (let r = 0; r < ROUNDS_MICRO; r++) {
    let x, y
    if (r % 2 === 0) {
      x = timeBatch(runResolve, BATCH)
      y = timeBatch(runProxyAddr, BATCH)
    } else {
      y = timeBatch(runProxyAddr, BATCH)
      x = timeBatch(runResolve, BATCH)
    }
    ns.resolve.push(x)
    ns.proxyaddr.push(y)
    ratio.push(y / x)
  }
  const out = {
    resolveNs: median(ns.resolve),
    proxyaddrNs: median(ns.proxyaddr),
    speedup: median(ratio)
  }
  console.log(`resolve():      median ${fmt(out.resolveNs, 1)} ns/op  (rounds: ${ns.resolve.map((x) => fmt(x)).join(' ')})`)
  console.log(`proxy-addr all: median ${fmt(out.proxyaddrNs, 1)} ns/op  (rounds: ${ns.proxyaddr.map((x) => fmt(x)).join(' ')})`)
  console.log(`resolve() is ${fmtRatio(out.speedup)} as fast as proxy-addr all() (median of per-round ratios)`)

  // One 16 KiB X-Forwarded-For header: a client, then trusted 10/8 hops up to 16 KiB.
  const parts = []
  let len = '198.51.100.9'.length
  for (let i = 0; len < 16 * 1024; i++) {
    const hop = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    parts.push(hop)
    len += 2 + hop.length
  }
  const big = '198.51.100.9, ' + parts.join(', ')
  const bigHeaders = { host: 'internal', 'x-forwarded-for': big }
  const bigReq = { headers: bigHeaders, connection: { remoteAddress: peer }, socket: { remoteAddress: peer } }
  const bigResolve = (n) => {
    for (let i = 0; i < n; i++) sink += resolveFn(peer, false, bigHeaders, plan, undefined).ips.length
  }
  const bigProxyAddr = (n) => {
    for (let i = 0; i < n; i++) sink += proxyaddr.all(bigReq, trustFn).length
  }
  const BIG_BATCH = 2000
  bigResolve(BIG_BATCH)
  bigProxyAddr(200)
  const bigNs = []
  const bigPa = []
  for (let r = 0; r < 7; r++) {
    bigNs.push(timeBatch(bigResolve, BIG_BATCH))
    bigPa.push(timeBatch(bigProxyAddr, 200))
  }
  out.bigUs = median(bigNs) / 1000
  out.bigPaUs = median(bigPa) / 1000
  console.log(`16 KiB X-Forwarded-For (${big.length} chars, ${parts.length + 1} entries) through resolve(): median ${fmt(out.bigUs, 2)} us/call` +
    ` (proxy-addr all(), for context: ${fmt(out.bigPaUs, 1)} us/call)`)
  if (sink === 0) console.log('(sink)')
  return out
}

// ---------------------------------------------------------------- main

async function main () {
  console.log(`fastify-proxy-fix bench: node ${process.version}, dist at ${DIST}`)
  TASKSET = pinSelf(0)
  if (TASKSET !== null) console.log('pinning: load generator (this process) on CPU 0, each server on CPU 1 (taskset)')
  const h = process.env.BENCH_SKIP_HTTP === '1' ? null : await httpBench()
  const paired = h === null ? null : await pairedBench(h.names)
  const micro = process.env.BENCH_SKIP_MICRO === '1' ? null : microBench()
  const adversarial = process.env.BENCH_SKIP_MICRO === '1' ? null : require('./adversarial').run()

  console.log('\n== Summary')
  if (h) {
    const cols = ['variant', 'median req/s', 'vs plain (median of rounds)', 'round spread', 'median p99 ms']
    console.log(pad(cols[0], 13) + lpad(cols[1], 14) + lpad(cols[2], 30) + lpad(cols[3], 15) + lpad(cols[4], 15))
    for (const n of h.names) {
      const ratio = n === 'plain' ? 1 : perRoundRatio(h.rows, n, 'plain')
      const range = n === 'plain' ? '' : spread(h.rows, n, 'plain')
      console.log(pad(n, 13) + lpad(fmt(median(h.rows[n])), 14) + lpad(h.rows.plain ? fmtRatio(ratio) : 'n/a', 30) +
        lpad(range, 15) + lpad(fmt(median(h.p99[n]), 1), 15))
    }
    if (h.rows.proxyFix && h.rows.trustProxy) {
      console.log(`proxyFix / trustProxy (median of rounds): ${fmtRatio(perRoundRatio(h.rows, 'proxyFix', 'trustProxy'))} ${spread(h.rows, 'proxyFix', 'trustProxy')}`)
    }
    // Server CPU per request: less sensitive than req/s to the load generator sharing 2 cores.
    // Efficiency = den's CPU/req over num's (higher is better, comparable to a req/s ratio).
    console.log('\nserver CPU per request (user+sys, info only; efficiency vs plain = plain CPU/req / variant CPU/req, median of rounds):')
    for (const n of h.names) {
      const eff = n === 'plain' ? 1 : perRoundRatio(h.cpu, 'plain', n)
      console.log(`  ${pad(n, 13)} ${lpad(fmt(median(h.cpu[n]), 1), 7)} us/req   efficiency vs plain ${h.cpu.plain ? fmtRatio(eff) : 'n/a'}`)
    }
    if (h.cpu.proxyFix && h.cpu.trustProxy) {
      console.log(`  proxyFix vs trustProxy efficiency: ${fmtRatio(perRoundRatio(h.cpu, 'trustProxy', 'proxyFix'))} ${spread(h.cpu, 'trustProxy', 'proxyFix')}`)
    }
  }
  if (micro) {
    console.log(`resolve() ${fmt(micro.resolveNs, 1)} ns/op vs proxy-addr all() ${fmt(micro.proxyaddrNs, 1)} ns/op: ${fmtRatio(micro.speedup)} faster; 16 KiB XFF: ${fmt(micro.bigUs, 2)} us/call`)
  }
  if (adversarial) {
    console.log(`16 KiB values, both families, well formed and adversarial: worst ${fmt(adversarial.worst, 2)} us/call (target <= 20) ${adversarial.failed === 0 ? 'PASS' : `FAIL (${adversarial.failed} of ${adversarial.rows} rows over)  <<<<<<`}`)
  }

  console.log('\n== Targets (judged on the paired runs, by server CPU per request; one-at-a-time req/s for context)')
  let failed = 0
  for (const t of TARGETS) {
    if (!h || !paired[t.name]) {
      console.log(`${t.name}: skipped (${!h ? 'HTTP section skipped' : 'variant not run'})`)
      continue
    }
    const r = median(paired[t.name].cpu)
    if (t.min === null) {
      console.log(`${t.name}: ${fmtRatio(r)} (reference)`)
      continue
    }
    const pass = r >= t.min
    if (!pass) failed++
    console.log(`${t.name}: ${fmtRatio(r)} (target >= ${t.min}) ${pass ? 'PASS' : 'FAIL  <<<<<<'}; one at a time: ${fmtRatio(perRoundRatio(h.rows, t.num, t.den))} req/s ${spread(h.rows, t.num, t.den)}`)
  }
  if (failed > 0) console.log(`\n${failed} target(s) FAILED (reported only; exit code stays 0)`)

  if (process.env.BENCH_SKIP_MOUNT !== '1') await mountBench()
}

/** bench/mount.js in its own process (it pins itself and its servers the same way). */
function mountBench () {
  console.log('\n== mountApp (bench/mount.js)')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'mount.js')], { stdio: 'inherit' })
    children.add(child)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      children.delete(child)
      if (code === 0) resolve()
      else reject(new Error(`bench/mount.js could not measure (${code ?? signal})`))
    })
  })
}

main().then(() => {
  killAll()
  process.exit(0)
}, (err) => {
  console.error('\nbench aborted:', err && err.stack ? err.stack : err)
  killAll()
  process.exit(1)
})
