'use strict'

// mountApp benchmark: each server runs in its own child process on 127.0.0.1, and autocannon
// measures them side by side, round after round, in one run. Ratios are of medians.
//   node bench/mount.js [rounds=3] [seconds=4]
// Needs the compiled plugin: npm run build (or npx tsc -p tsconfig.json).

const { fork } = require('node:child_process')
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
}

function cpuOf (proc) {
  return new Promise((resolve) => {
    proc.once('message', (msg) => resolve(msg.cpu))
    proc.send('cpu')
  })
}

function start (name) {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--serve', name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    proc.once('message', (msg) => resolve({ proc, ...msg }))
    proc.once('error', reject)
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
  })
}

function median (list) {
  const s = [...list].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main () {
  const rounds = Number(process.argv[2] ?? 3)
  const seconds = Number(process.argv[3] ?? 4)
  const autocannon = require('autocannon')
  const only = process.env.BENCH_ONLY?.split(',')
  const names = Object.keys(servers).filter((n) => only === undefined || only.includes(n))
  const running = {}
  for (const name of names) running[name] = await start(name)
  const results = Object.fromEntries(names.map((n) => [n, []]))
  const costs = Object.fromEntries(names.map((n) => [n, []]))
  try {
    for (const { port, path: url } of Object.values(running)) {
      await autocannon({ url: `http://127.0.0.1:${port}${url}`, connections: 50, duration: 1 }) // warm-up
    }
    for (let round = 1; round <= rounds; round++) {
      for (const name of names) {
        const { proc, port, path: url } = running[name]
        const before = await cpuOf(proc)
        const r = await autocannon({ url: `http://127.0.0.1:${port}${url}`, connections: 50, pipelining: 1, duration: seconds })
        const cpu = (await cpuOf(proc)) - before
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`)
        results[name].push(r.requests.average)
        costs[name].push(cpu / r.requests.total)
        console.log(`round ${round} ${name.padEnd(24)} ${Math.round(r.requests.average)} req/s, ${(cpu / r.requests.total).toFixed(1)} µs CPU/req`)
      }
    }
  } finally {
    for (const { proc } of Object.values(running)) {
      proc.removeAllListeners('exit')
      proc.kill()
    }
  }
  console.log('\nmedians:')
  for (const name of names) console.log(`  ${name.padEnd(24)} ${Math.round(median(results[name]))} req/s, ${median(costs[name]).toFixed(1)} µs CPU/req`)
  console.log('\nratios:')
  let ok = true
  for (const [a, b, target] of pairs.filter(([a, b]) => names.includes(a) && names.includes(b))) {
    const ratio = median(results[a]) / median(results[b])
    const pass = ratio >= target
    ok &&= pass
    const cpuRatio = median(costs[b]) / median(costs[a])
    console.log(`  ${a} / ${b}: ${ratio.toFixed(3)}x req/s, ${cpuRatio.toFixed(3)}x by server CPU per request (target >= ${target}) ${pass ? 'ok' : 'MISSED'}`)
  }
  process.exitCode = ok ? 0 : 1
}

if (process.argv[2] === '--serve') {
  child(process.argv[3]).catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
