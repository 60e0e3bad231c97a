'use strict'

// Load proofs for `serve` (issue 12): a rolling reload (SIGHUP) and max-requests recycling, each
// under autocannon load, must lose no request. Run: npm run build && node bench/serve.js
// Env: SERVE_DURATION (s, default 6), SERVE_CONNECTIONS (default 50).
const { spawn } = require('node:child_process')
const path = require('node:path')
const autocannon = require('autocannon')

const cli = path.join(__dirname, '..', 'dist', 'cli.js')
const fixtures = path.join(__dirname, '..', 'test', 'fixtures')
const duration = Number(process.env.SERVE_DURATION || 6)
const connections = Number(process.env.SERVE_CONNECTIONS || 50)

function start (args) {
  const proc = spawn(process.execPath, [cli, 'serve', ...args], { cwd: fixtures, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  const collect = (chunk) => { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(l) }
  proc.stdout.on('data', collect)
  proc.stderr.on('data', (chunk) => { for (const l of chunk.toString().split('\n')) if (l !== '' && !/" \d{3} /.test(l)) lines.push(l) })
  const exit = new Promise((resolve) => proc.on('close', (code) => resolve(code)))
  const url = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const line = lines.find((l) => / serving .* on (http:\S+)/.test(l))
      if (line !== undefined) { clearInterval(timer); resolve(/ on (http:\S+)/.exec(line)[1]) }
    }, 20)
    proc.on('close', () => { clearInterval(timer); reject(new Error(lines.join('\n'))) })
  })
  return { proc, lines, exit, url }
}

async function load (url, during) {
  const run = autocannon({ url: url + '/pid', connections, duration })
  during()
  const r = await run
  return { requests: r.requests.total, ok: r['2xx'], errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, resets: r.resets, rps: Math.round(r.requests.average) }
}

async function scenario (name, args, during) {
  const s = start(args)
  const url = await s.url
  await new Promise((resolve) => setTimeout(resolve, 500))
  const result = await load(url, () => during(s))
  s.proc.kill('SIGTERM')
  const code = await s.exit
  const failed = result.errors + result.timeouts + result.non2xx
  const pids = new Set(s.lines.map((l) => /^fastify-proxy-fix: \[(\d+)\] serving/.exec(l)?.[1]).filter(Boolean))
  console.log(`${name}: ${result.requests} requests in ${duration} s (${result.rps} req/s), ${result.ok} 2xx; failed: ${failed} (errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}); ${pids.size} worker processes served; exit ${code}`)
  if (process.env.SERVE_VERBOSE) console.log(s.lines.join('\n'))
  return failed === 0 && code === 0
}

async function main () {
  let ok = true
  ok = await scenario('SIGHUP rolling reload, twice (2 workers)', ['fastify-plugin.js', '-w', '2', '-p', '0'], (s) => {
    // The second reload once the first has replaced both workers.
    setTimeout(() => s.proc.kill('SIGHUP'), 1000)
    const timer = setInterval(() => {
      if (s.lines.filter((l) => l.includes('which it replaces')).length < 2) return
      clearInterval(timer)
      s.proc.kill('SIGHUP')
    }, 50)
  }) && ok
  ok = await scenario('--max-requests 2500 --max-requests-jitter 500 (2 workers)', ['fastify-plugin.js', '-w', '2', '-p', '0', '--max-requests', '2500', '--max-requests-jitter', '500', '--access-log', 'off'], () => {}) && ok
  ok = await blocked() && ok
  ok = await holdsTimer([]) && ok
  ok = await holdsTimer(['-w', '2']) && ok
  process.exitCode = ok ? 0 : 1
}

const waitFor = (s, re, from = 0) => new Promise((resolve) => {
  const timer = setInterval(() => {
    const i = s.lines.findIndex((l, n) => n >= from && re.test(l))
    if (i !== -1) { clearInterval(timer); resolve(i) }
  }, 5)
})

// A busy-looping worker must be replaced within --timeout + 2 s.
async function blocked () {
  const timeout = 2
  const port = 20000 + Math.floor(Math.random() * 20000)
  const s = start(['busy.js', '-w', '1', '-p', String(port), '--timeout', String(timeout), '--access-log', 'off'])
  const url = await s.url
  const first = s.lines.length
  const t0 = Date.now()
  require('node:http').get(url + '/block').on('error', () => {})
  await waitFor(s, / serving /, first)
  const ms = Date.now() - t0
  s.proc.kill('SIGTERM')
  await s.exit
  console.log(`blocked worker (--timeout ${timeout}): replaced and serving again ${ms} ms after the blocking request (limit ${(timeout + 2) * 1000} ms)`)
  return ms <= (timeout + 2) * 1000
}

// A module holding a setInterval must exit within the grace period after SIGTERM.
async function holdsTimer (extra) {
  const grace = 5
  const s = start(['interval.js', '-p', '0', '--graceful-timeout', String(grace), ...extra])
  await s.url
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const t0 = Date.now()
  s.proc.kill('SIGTERM')
  const code = await s.exit
  const ms = Date.now() - t0
  console.log(`module with setInterval${extra.length ? ' ' + extra.join(' ') : ''}: exit ${code} ${ms} ms after SIGTERM (grace ${grace} s)`)
  return code === 0 && ms < grace * 1000
}

main()
