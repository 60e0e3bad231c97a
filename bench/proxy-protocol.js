'use strict'

// PROXY protocol benchmark, keep-alive. The same Fastify app twice, in two child processes: one on
// Fastify's own server, one on proxyProtocolServer() (from: loopback). Both are loaded at the same
// time by one client process (25 keep-alive connections each, opened once and kept for every
// round, one request in flight per connection); on the PROXY side each connection sends a v1
// header once, before its first request, as a balancer does.
// Each round alternates which side the client starts first. Reported per comparison: the median of
// the rounds' ratios (baseline CPU per request / server CPU per request, the figure the target is
// judged on; and req/s) with their spread, the same pair with the places swapped, and a
// calibration row (the plain server against itself).
//   node bench/proxy-protocol.js [rounds=20] [seconds=2]   (BENCH_NO_PIN=1 to skip CPU pinning,
//   BENCH_VERBOSE=1 to print every round)
// Needs the build: npm run build. Exits 0 once it has measured (a missed target is printed), 1 when it cannot.

const { fork } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')
const { pinSelf, pinnedFork } = require('./pin')

const CONNECTIONS = 25
const REQUEST = 'GET /hello HTTP/1.1\r\nHost: bench.example\r\n\r\n'
const TARGET = 0.97

// Both load the library, so the two processes differ only in the server they listen with.
const servers = {
  plain: () => {
    require(path.join(__dirname, '..', 'dist', 'index.js'))
    return {}
  },
  'proxy protocol': () => {
    const { proxyProtocolServer } = require(path.join(__dirname, '..', 'dist', 'index.js'))
    return { serverFactory: proxyProtocolServer({ from: 'loopback' }) }
  }
}

const pairs = [
  ['proxy protocol', 'plain', TARGET],
  // the same pair with the places swapped: a bias of the first or second place shows as a
  // ratio far from 1 / the first row's
  ['plain', 'proxy protocol', null],
  ['plain', 'plain', null] // calibration: the same server against itself
]

async function child (name) {
  const app = require('fastify')({ logger: false, ...servers[name]() })
  app.get('/hello', (request, reply) => { reply.send({ hello: 'world', ip: request.ip }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.send({ port: app.server.address().port })
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send({ cpu: user + system })
  })
  process.on('disconnect', () => process.exit(0))
}

let TASKSET = null

function start (name) {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--serve', name], { ...pinnedFork(TASKSET, 1), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const early = (code) => reject(new Error(`${name} exited with ${code}`))
    proc.once('message', (msg) => {
      proc.removeListener('exit', early)
      resolve({ name, proc, port: msg.port, header: name === 'proxy protocol' })
    })
    proc.once('exit', early)
  })
}

function cpuOf (proc) {
  return new Promise((resolve) => {
    proc.once('message', (msg) => resolve(msg.cpu))
    proc.send('cpu')
  })
}

function stop (proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve()
    proc.once('exit', () => resolve())
    proc.kill()
  })
}

/** One request on a fresh connection: the size of one response (the same for every request). */
function responseSize (side) {
  return new Promise((resolve, reject) => {
    const s = net.connect(side.port, '127.0.0.1')
    let data = Buffer.alloc(0)
    s.on('data', (c) => {
      data = Buffer.concat([data, c])
      const end = data.indexOf('\r\n\r\n')
      const m = /content-length: (\d+)/i.exec(data.toString('latin1'))
      if (end !== -1 && m && data.length >= end + 4 + Number(m[1])) {
        s.destroy()
        if (!data.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(`${side.name}: ${data}`))
        resolve(end + 4 + Number(m[1]))
      }
    })
    s.on('error', reject)
    s.write((side.header ? 'PROXY TCP4 198.51.100.7 127.0.0.1 50000 80\r\n' : '') + REQUEST)
  })
}

/**
 * Opens CONNECTIONS keep-alive connections (the PROXY side sends a header on each, once, as a
 * balancer does) and keeps them for every round: a round measures requests on warm connections.
 * `run(ms)` keeps one request in flight on each connection for `ms`, then waits for the last
 * responses; it resolves with the number of responses.
 */
function pool (side, size) {
  const conns = []
  let count = 0
  let busy = 0
  let stopping = true
  let finish = null
  for (let i = 0; i < CONNECTIONS; i++) {
    const s = net.connect(side.port, '127.0.0.1')
    s.setNoDelay(true)
    let pending = 0
    s.on('data', (c) => {
      pending += c.length
      while (pending >= size) {
        pending -= size
        count++
        if (stopping) {
          if (--busy === 0 && finish !== null) finish()
        } else {
          s.write(REQUEST)
        }
      }
    })
    s.on('error', (err) => { throw err })
    // the client a balancer would announce: its address and port, once per connection
    if (side.header) s.write(`PROXY TCP4 198.51.100.${i + 1} 127.0.0.1 ${50000 + i} 80\r\n`)
    conns.push(s)
  }
  return {
    run (ms) {
      return new Promise((resolve) => {
        count = 0
        stopping = false
        busy = conns.length
        finish = () => { finish = null; resolve(count) }
        for (const s of conns) s.write(REQUEST)
        setTimeout(() => { stopping = true }, ms)
      })
    },
    close () { for (const s of conns) s.destroy() }
  }
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function numArg (i, def) {
  const raw = process.argv[i]
  if (raw === undefined) return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 120) throw new Error(`argument ${i - 1} must be an integer from 1 to 120`)
  return n
}

async function main () {
  const rounds = numArg(2, 20)
  const seconds = numArg(3, 2)
  TASKSET = pinSelf(0)
  console.log(`PROXY protocol bench: ${rounds} rounds x ${seconds} s, both servers loaded at once (${CONNECTIONS} keep-alive connections each), the first to start alternating` +
    (TASKSET === null ? '' : '; client on CPU 0, both servers on CPU 1 (taskset)'))
  const range = (xs) => `[${Math.min(...xs).toFixed(3)}..${Math.max(...xs).toFixed(3)}]`
  for (const [a, b, target] of pairs) {
    const sides = [await start(a), await start(b)]
    try {
      const sizes = await Promise.all(sides.map(responseSize))
      const pools = sides.map((side, i) => pool(side, sizes[i]))
      await Promise.all(pools.map((p) => p.run(1000))) // warm-up
      const byCpu = []
      const byRate = []
      const us = [[], []]
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0]
        const before = await Promise.all(sides.map((side) => cpuOf(side.proc)))
        const counts = [0, 0]
        const runs = []
        for (const i of order) runs.push(pools[i].run(seconds * 1000).then((n) => { counts[i] = n }))
        await Promise.all(runs)
        const after = await Promise.all(sides.map((side) => cpuOf(side.proc)))
        const per = sides.map((_, i) => (after[i] - before[i]) / counts[i])
        byCpu.push(per[1] / per[0])
        byRate.push(counts[0] / counts[1])
        us[0].push(per[0])
        us[1].push(per[1])
        if (round === rounds - 1) for (const p of pools) p.close()
        if (process.env.BENCH_VERBOSE === '1') console.log(`    round ${round + 1} (${sides[order[0]].name} first): ${(per[1] / per[0]).toFixed(3)} by CPU, ${(counts[0] / counts[1]).toFixed(3)} req/s (${counts[0]} vs ${counts[1]})`)
      }
      const ratio = median(byCpu)
      const verdict = target !== null ? `(target >= ${target}) ${ratio >= target ? 'ok' : 'MISSED'}` : a === b ? '(calibration)' : '(places swapped)'
      console.log(`  ${a} / ${b}: ${ratio.toFixed(3)}x by CPU ${range(byCpu)}, ${median(byRate).toFixed(3)}x req/s ${range(byRate)}` +
        ` (${median(us[0]).toFixed(2)} vs ${median(us[1]).toFixed(2)} µs CPU/req) ${verdict}`)
    } finally {
      for (const side of sides) await stop(side.proc)
    }
  }
}

if (process.argv[2] === '--serve') {
  child(process.argv[3]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
