'use strict'

// One benchmark server: `node bench/server.js <variant>` (forked by bench/harness/children.js).
// Listens on 127.0.0.1 (a free port), reports { ready, port } over IPC, answers { cmd: 'cpu', id }
// with its process.cpuUsage() in µs, runs { cmd: 'dispatch', n } requests without sockets
// (harness/dispatch.js) and answers their CPU µs, and exits cleanly on 'stop' or when the parent goes away.
const { variants } = require('./variants')
const { dispatcher } = require('./harness/dispatch')

async function main () {
  const variant = variants[process.argv[2]]
  if (variant === undefined) throw new Error(`unknown variant ${process.argv[2]}`)
  const { fastify, server } = variant.build()
  let port
  let close
  if (fastify) {
    await fastify.listen({ host: '127.0.0.1', port: 0 })
    port = fastify.server.address().port
    close = () => fastify.close()
  } else {
    server.keepAliveTimeout = 72000 // Fastify's default, so an idle bench connection stays open on both sides
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = server.address().port
    close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
  }

  let dispatch = null
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(0), 2000).unref()
    close().then(() => process.exit(0), () => process.exit(0))
  }
  process.on('disconnect', stop)
  process.on('SIGTERM', stop)
  process.on('message', (m) => {
    if (m === 'stop') stop()
    else if (m && m.cmd === 'cpu' && process.connected) {
      const { user, system } = process.cpuUsage()
      process.send({ id: m.id, cpu: user + system })
    } else if (m && m.cmd === 'dispatch' && process.connected) {
      dispatch ??= dispatcher(fastify ? fastify.server : server, variant)
      dispatch(m.n).then((cpu) => process.send({ id: m.id, cpu }), (err) => process.send({ id: m.id, error: String(err) }))
    }
  })
  process.send({ ready: true, port })
}

main().catch((err) => {
  if (process.connected) process.send({ error: String(err && err.stack ? err.stack : err) })
  process.exit(1)
})
