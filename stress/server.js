'use strict'

// The server under load: proxyFix + hostRewrite + mountApp (Express 5) on 127.0.0.1, in a child
// process. It answers with the IP and Host it resolved and the request's own x-expect header.
const Fastify = require('fastify')
const express = require('express')
const { proxyFix, hostRewrite, mountApp } = require('../dist/index.js')

const stats = { responses: 0, serverErrors: 0, logged: [] }

async function main () {
  const f = Fastify({ logger: false, keepAliveTimeout: 30_000 })
  await f.register(proxyFix)
  await f.register(hostRewrite, { header: 'x-fhost' })
  const legacy = express()
  legacy.use((req, res) => res.json({ ip: req.ip, host: req.headers.host, expect: req.headers['x-expect'] }))
  await f.register(mountApp, { app: legacy, prefix: '/legacy' })
  f.get('/echo', (req, reply) => { reply.send({ ip: req.ip, host: req.host, expect: req.headers['x-expect'] }) })
  f.addHook('onResponse', (req, reply, done) => {
    stats.responses++
    if (reply.statusCode >= 500) stats.serverErrors++
    done()
  })
  f.setErrorHandler((err, req, reply) => {
    if (!(err.statusCode < 500)) stats.logged.push(String(err && err.stack))
    reply.send(err)
  })
  await f.listen({ port: 0, host: '127.0.0.1' })
  process.send({ type: 'listening', port: f.server.address().port })
  process.on('message', async (msg) => {
    if (msg.type === 'heap') {
      global.gc()
      global.gc()
      process.send({ type: 'heap', heapUsed: process.memoryUsage().heapUsed, stats: { ...stats, logged: stats.logged.slice(0, 5) } })
    } else if (msg.type === 'stop') {
      await f.close()
      process.exit(0)
    }
  })
}

for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    process.send({ type: 'crash', event, error: String(err && err.stack) })
    process.exit(70)
  })
}

main()
