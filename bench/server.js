'use strict'

// One benchmark server, forked by bench/run.js: `node bench/server.js <variant>`.
// Listens on 127.0.0.1 (random port), reports { ready, port } over IPC, and exits cleanly
// (so --cpu-prof can write its profile) when the parent disconnects or sends 'stop'.
// Answers { cmd: 'cpu', id } with its process.cpuUsage(), for CPU time per request.

const path = require('node:path')
const Fastify = require('fastify')

const lib = require(path.join(__dirname, '..', 'dist'))

const TRUST = ['127.0.0.1', '10.0.0.0/8']

function build (variant) {
  switch (variant) {
    case 'plain':
      return Fastify()
    case 'trustProxy':
      return Fastify({ trustProxy: TRUST })
    case 'proxyFix': {
      const app = Fastify()
      app.register(lib.proxyFix, { trust: TRUST })
      return app
    }
    case 'proxyFixQuiet': {
      const app = Fastify()
      app.register(lib.proxyFix, { trust: TRUST, warnings: false })
      return app
    }
    case 'hostRewrite': {
      if (typeof lib.hostRewrite !== 'function') throw new Error('hostRewrite is not exported by dist/')
      const app = Fastify()
      app.register(lib.hostRewrite, { header: 'x-fhost', trust: ['127.0.0.1'] })
      return app
    }
    default:
      throw new Error(`unknown variant: ${variant}`)
  }
}

async function main () {
  const variant = process.argv[2]
  const app = build(variant)
  app.get('/', (req) => ({ ip: req.ip, protocol: req.protocol, host: req.host }))

  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    const force = setTimeout(() => process.exit(0), 2000)
    force.unref()
    app.close().then(() => process.exit(0), () => process.exit(0))
  }
  process.on('disconnect', stop)
  process.on('message', (m) => {
    if (m === 'stop') stop()
    else if (m && m.cmd === 'cpu' && process.connected) process.send({ id: m.id, cpu: process.cpuUsage() })
  })
  process.on('SIGTERM', stop)

  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ ready: true, port: app.server.address().port })
}

main().catch((err) => {
  if (process.connected) process.send({ error: String(err && err.stack ? err.stack : err) })
  process.exit(1)
})
