'use strict'

// mountApp benchmark: each server runs in its own child process on 127.0.0.1, and autocannon
// measures them side by side, round after round, in one run. Every measurement gets a fresh
// server, alone (one server at a time), warmed up 1 s; the order rotates every round. The
// server is pinned to CPU 1 and this process (autocannon) to CPU 0 with taskset when it can.
// Each ratio is the median of the per-round ratios, with their spread [min..max].
//   node bench/mount.js [rounds=5] [seconds=3]
//   (or BENCH_MOUNT_ROUNDS / BENCH_MOUNT_DURATION; BENCH_ONLY=name,name for a subset;
//    BENCH_NO_PIN=1 to skip pinning). Also run at the end of bench/run.js (npm run bench).
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
  'express mounted' () {
    const f = require('fastify')({ logger: false })
    f.register(mountApp(), { app: expressApp(), prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'connect handler mounted' () {
    const f = require('fastify')({ logger: false })
    const handler = (req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8')
      res.end(BODY)
    }
    f.register(mountApp(), { app: handler, prefix: '/legacy' })
    return { fastify: f, path: '/legacy/hello' }
  },
  'native route' () {
    const f = require('fastify')({ logger: false })
    f.get('/hello', (req, reply) => { reply.header('content-type', 'application/json; charset=utf-8').send(BODY) })
    return { fastify: f, path: '/hello' }
  },
  'native raw res' () {
    // Reference: a Fastify route answering on the raw response, as a mounted handler does.
    const f = require('fastify')({ logger: false })
    f.get('/hello', (req, reply) => {
      reply.hijack()
      reply.raw.setHeader('content-type', 'application/json; charset=utf-8')
      reply.raw.end(BODY)
    })
    return { fastify: f, path: '/hello' }
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

const pairs = [
  ['express mounted', 'express alone', 1.05],
  ['connect handler mounted', 'native route', 0.9],
  ['routes beside a mount', 'routes alone', 0.97]
]

function mountApp () {
  return require(path.join(__dirname, '..', 'dist', 'mount-app.js')).mountApp
}

function expressApp () {
  const express = require('express')
  const app = express()
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
  const rounds = numArg(2, 'BENCH_MOUNT_ROUNDS', 5)
  const seconds = numArg(3, 'BENCH_MOUNT_DURATION', 3)
  const autocannon = require('autocannon')
  const only = process.env.BENCH_ONLY?.split(',')
  const names = Object.keys(servers).filter((n) => only === undefined || only.includes(n))
  TASKSET = pinSelf(0)
  console.log(`mountApp bench: ${names.length} servers, ${rounds} rounds x ${seconds} s, 50 connections, one server at a time` +
    (TASKSET === null ? '' : '; autocannon on CPU 0, server on CPU 1 (taskset)'))
  const results = Object.fromEntries(names.map((n) => [n, []]))
  const costs = Object.fromEntries(names.map((n) => [n, []]))
  const measure = async (port, url, duration) => {
    const r = await autocannon({ url: `http://127.0.0.1:${port}${url}`, connections: 50, pipelining: 1, duration })
    if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r['2xx'] === 0) {
      throw new Error(`${url}: ${r['2xx']} 2xx, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
    }
    return r
  }
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length])
    for (const name of order) {
      const { proc, port, path: url } = await start(name)
      try {
        await measure(port, url, 1) // warm-up
        const before = await cpuOf(proc)
        const r = await measure(port, url, seconds)
        const cpu = (await cpuOf(proc)) - before
        const ok = r['2xx']
        results[name][round] = ok / r.duration
        costs[name][round] = cpu / ok
        console.log(`round ${round + 1} ${name.padEnd(24)} ${Math.round(ok / r.duration)} req/s, ${(cpu / ok).toFixed(1)} µs CPU/req`)
      } finally {
        await stop(proc)
      }
    }
  }
  console.log('\nmedians:')
  for (const name of names) console.log(`  ${name.padEnd(24)} ${Math.round(median(results[name]))} req/s, ${median(costs[name]).toFixed(1)} µs CPU/req`)
  console.log('\nratios (median of per-round ratios [spread]):')
  let ok = true
  for (const [a, b, target] of pairs.filter(([a, b]) => names.includes(a) && names.includes(b))) {
    const rs = results[a].map((x, i) => x / results[b][i])
    const cs = costs[b].map((x, i) => x / costs[a][i])
    const ratio = median(rs)
    const pass = ratio >= target
    ok &&= pass
    const range = (xs) => `[${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}]`
    console.log(`  ${a} / ${b}: ${ratio.toFixed(3)}x req/s ${range(rs)}, ${median(cs).toFixed(3)}x by server CPU per request ${range(cs)} (target >= ${target}) ${pass ? 'ok' : 'MISSED'}`)
  }
  if (!ok) console.log('(missed targets are reported only; exit code stays 0)')
}

if (process.argv[2] === '--serve') {
  child(process.argv[3]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
