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
  process.exitCode = ok ? 0 : 1
}

main()
