'use strict'

// mountApp benchmark. Each comparison runs its two servers at the same time: both start once in
// their own child processes on 127.0.0.1, both pinned to CPU 1 (taskset, when it can) with
// autocannon on CPU 0, and each round loads both at once for the same seconds (25 connections
// each). The two share the CPU and the machine's load at every instant, so their ratio is steady on
// a shared machine where one-after-the-other runs swing by ±30%: the same server against itself
// gives 1.00 [0.99..1.02] (the calibration row). Reported: the median of the rounds' ratios with
// their spread, by server CPU time per request (the figure the targets are judged on) and by req/s.
//   node bench/mount.js [rounds=10] [seconds=2]
//   (or BENCH_MOUNT_ROUNDS / BENCH_MOUNT_DURATION; BENCH_ONLY=name,name picks comparisons by their
//    first server; BENCH_NO_PIN=1 to skip pinning). Also run at the end of bench/run.js (npm run bench).
// Exits 0 once it has measured (missed targets are printed, not thrown), 1 when it cannot.
// Needs the compiled plugin: npm run build (or npx tsc -p tsconfig.json).

const { fork } = require('node:child_process')
const { pinSelf, pinnedFork } = require('./pin')
const path = require('node:path')

const BODY = '{"hello":"world"}'

const servers = {
  'express alone' () {
    const http = require('node:http')
    return { server: http.createServer(expressApp()), path: '/hello' }
  },
  'express alone (etag off)' () {
    const http = require('node:http')
    return { server: http.createServer(expressApp(false)), path: '/hello' }
  },
  'express mounted (etag off)' () {
    const f = require('fastify')({ logger: false })
    f.register(mountApp(), { app: expressApp(false), prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'express mounted' () {
    const f = require('fastify')({ logger: false })
    f.register(mountApp(), { app: expressApp(), prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'express mounted, shadowed by routes' () {
    // Fastify routes under the prefix: the shadow check (mount-shadow.ts) runs on every request.
    const f = require('fastify')({ logger: false })
    f.get('/legacy/secret', (req, reply) => { reply.send('guarded') })
    f.get('/legacy/users/:id/comments', (req, reply) => { reply.send('guarded') })
    f.register(mountApp(), { app: expressApp(), prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'connect handler mounted' () {
    const f = require('fastify')({ logger: false })
    f.register(mountApp(), { app: connectHandler, prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'native route' () {
    // The equivalent route: the same URL, answered by Fastify itself.
    const f = require('fastify')({ logger: false })
    f.get('/legacy/hello', (req, reply) => { reply.header('content-type', 'application/json; charset=utf-8').send(BODY) })
    return { fastify: f, path: '/legacy/hello' }
  },
  '@fastify/express' () {
    // The anchor, for reference: the same Express app under @fastify/express.
    const f = require('fastify')({ logger: false })
    f.register(require('@fastify/express')).after(() => { f.use('/legacy', expressApp()) })
    return { fastify: f, path: '/legacy/hello' }
  },
  '@fastify/middie handler' () {
    const f = require('fastify')({ logger: false })
    f.register(require('@fastify/middie')).after(() => { f.use('/legacy', connectHandler) })
    return { fastify: f, path: '/legacy/hello' }
  },
  'routes beside a mount' () {
    const f = require('fastify')({ logger: false })
    f.get('/hello', (req, reply) => { reply.send({ hello: 'world' }) })
    f.register(mountApp(), { app: expressApp(), prefix: '/legacy' })
    return { fastify: f, path: '/hello' }
  },
  'routes alone' () {
    const f = require('fastify')({ logger: false })
    f.get('/hello', (req, reply) => { reply.send({ hello: 'world' }) })
    return { fastify: f, path: '/hello' }
  }
}

/** [server, baseline, target]; a null target is a reference figure. */
const pairs = [
  ['express mounted', 'express alone', 1.05],
  ['connect handler mounted', 'native route', 0.9],
  ['routes beside a mount', 'routes alone', 0.97],
  ['@fastify/express', 'express alone', null],
  ['@fastify/middie handler', 'native route', null],
  ['express mounted', '@fastify/express', null],
  // The cost of shadowing routes, per request; a mount without them does no such work.
  ['express mounted, shadowed by routes', 'express mounted', null],
  // The same app with app.set('etag', false) on both sides: no ETag header to hash and write.
  ['express mounted (etag off)', 'express alone (etag off)', null],
  ['routes alone', 'routes alone', null] // calibration: the same server against itself
]

function connectHandler (req, res) {
  res.setHeader('content-type', 'application/json; charset=utf-8')
  res.end(BODY)
}

function mountApp () {
  return require(path.join(__dirname, '..', 'dist', 'mount', 'mount-app.js')).mountApp
}

function expressApp (etag = true) {
  const express = require('express')
  const app = express()
  app.set('etag', etag)
  app.get('/hello', (req, res) => { res.json({ hello: 'world' }) })
  return app
}

async function child (name) {
  const { server, fastify, path: url } = servers[name]()
  let port
  if (fastify) {
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    port = fastify.server.address().port
  } else {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = server.address().port
  }
  process.send({ port, path: url })
  // CPU time per request is steadier than req/s when the client shares the machine.
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send({ cpu: user + system })
  })
  process.on('disconnect', () => process.exit(0))
}

// ---------------------------------------------------------------- CPU pinning (as in bench/run.js)

let TASKSET = null

function cpuOf (proc) {
  return new Promise((resolve) => {
    proc.once('message', (msg) => resolve(msg.cpu))
    proc.send('cpu')
  })
}

function start (name) {
  const opts = pinnedFork(TASKSET, 1)
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--serve', name], { ...opts, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const early = (code) => reject(new Error(`${name} exited with ${code}`))
    proc.once('message', (msg) => {
      proc.removeListener('exit', early)
      resolve({ proc, ...msg })
    })
    proc.once('error', reject)
    proc.once('exit', early)
  })
}

function stop (proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
    proc.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    proc.kill()
  })
}

function median (list) {
  const s = list.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function numArg (i, env, def) {
  const raw = process.argv[i] ?? process.env[env]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 120) throw new Error(`${env} (or argument ${i - 1}) must be an integer from 1 to 120`)
  return n
}

async function main () {
  const rounds = numArg(2, 'BENCH_MOUNT_ROUNDS', 10)
  const seconds = numArg(3, 'BENCH_MOUNT_DURATION', 2)
  const autocannon = require('autocannon')
  const only = process.env.BENCH_ONLY?.split(',')
  const chosen = pairs.filter(([a]) => only === undefined || only.includes(a))
  TASKSET = pinSelf(0)
  console.log(`mountApp bench: ${chosen.length} comparisons, ${rounds} rounds x ${seconds} s, both servers loaded at once (25 connections each)` +
    (TASKSET === null ? '' : '; autocannon on CPU 0, both servers on CPU 1 (taskset)'))
  const load = async (side, duration) => {
    const r = await autocannon({ url: `http://127.0.0.1:${side.port}${side.path}`, connections: 25, pipelining: 1, duration })
    if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r['2xx'] === 0) {
      throw new Error(`${side.path}: ${r['2xx']} 2xx, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
    }
    return r
  }
  const range = (xs) => `[${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}]`
  let ok = true
  console.log('\nratios (median of per-round ratios [spread]; by CPU: baseline CPU per request / server CPU per request):')
  for (const [a, b, target] of chosen) {
    const sides = [await start(a), await start(b)]
    try {
      await Promise.all(sides.map((side) => load(side, 2))) // warm-up
      const cs = []
      const rs = []
      const us = [[], []]
      for (let round = 0; round < rounds; round++) {
        const before = await Promise.all(sides.map((side) => cpuOf(side.proc)))
        const got = await Promise.all(sides.map((side) => load(side, seconds)))
        const after = await Promise.all(sides.map((side) => cpuOf(side.proc)))
        const perReq = sides.map((_, i) => (after[i] - before[i]) / got[i]['2xx'])
        cs.push(perReq[1] / perReq[0])
        rs.push(got[0]['2xx'] / got[1]['2xx'])
        us[0].push(perReq[0])
        us[1].push(perReq[1])
      }
      const ratio = median(cs)
      const verdict = target === null ? '(reference)' : `(target >= ${target}) ${ratio >= target ? 'ok' : 'MISSED'}`
      if (target !== null) ok &&= ratio >= target
      console.log(`  ${a} / ${b}: ${ratio.toFixed(3)}x by CPU ${range(cs)}, ${median(rs).toFixed(3)}x req/s ${range(rs)}` +
        ` (${median(us[0]).toFixed(1)} vs ${median(us[1]).toFixed(1)} µs CPU/req) ${verdict}`)
    } finally {
      for (const side of sides) await stop(side.proc)
    }
  }
  if (!ok) console.log('(missed targets are reported only; exit code stays 0)')
}

if (process.argv[2] === '--serve') {
  child(process.argv[3]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
