'use strict'

// Server child processes (bench/server.js <variant>): start pinned, ask their CPU time, stop.
// The child reports its own process.cpuUsage() over IPC: microsecond resolution, where
// /proc/<pid>/stat counts 10 ms ticks, too coarse for a 2 s round.
const path = require('node:path')
const { fork } = require('node:child_process')
const { pinnedFork } = require('./pin')

const SERVER = path.join(__dirname, '..', 'server.js')
const live = new Set()
let started = 0 // names the servers' profiles in start order

function killAll () {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch {}
  }
  live.clear()
}

process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping servers`)
    killAll()
    process.exit(130)
  })
}

/** Starts `variant` on 127.0.0.1 (a free port); resolves { variant, child, port }. */
function startServer (variant) {
  const execArgv = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-name', `${++started}-${variant}.cpuprofile`]
    : (process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [])
  const child = fork(SERVER, [variant], { ...pinnedFork(execArgv), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  live.add(child)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${variant}: did not start within 20 s`)), 20000)
    function done (err, port) {
      clearTimeout(timer)
      child.removeListener('message', onMessage)
      child.removeListener('exit', onExit)
      if (err) {
        stopServer({ child })
        reject(err)
      } else {
        resolve({ variant, child, port })
      }
    }
    function onMessage (m) {
      if (m && m.ready) done(null, m.port)
      else if (m && m.error) done(new Error(`${variant}: ${m.error}`))
    }
    function onExit (code, signal) { done(new Error(`${variant}: exited early (${code ?? signal})`)) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

let seq = 0

/** Sends `cmd` to the server and resolves its answer's `cpu` (µs), or rejects with its error. */
function ask (server, cmd, extra, timeoutMs) {
  const { child } = server
  const id = ++seq
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.removeListener('message', onMessage)
      reject(new Error(`${server.variant}: no answer to ${cmd} within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    function onMessage (m) {
      if (!m || m.id !== id) return
      clearTimeout(timer)
      child.removeListener('message', onMessage)
      if (m.error !== undefined) reject(new Error(`${server.variant}: ${m.error}`))
      else resolve(m.cpu)
    }
    child.on('message', onMessage)
    child.send({ cmd, id, ...extra })
  })
}

/** The server's CPU time so far (user + system), in microseconds. */
const serverCpu = (server) => ask(server, 'cpu', {}, 5000)

/** Runs `n` requests in the server without sockets (harness/dispatch.js); resolves the CPU µs they took. */
const serverDispatch = (server, n) => ask(server, 'dispatch', { n }, 60000)

/** Graceful stop (so --cpu-prof can write its file), SIGKILL after 3 s. */
function stopServer ({ child }) {
  return new Promise((resolve) => {
    const gone = () => { live.delete(child); resolve() }
    if (child.exitCode !== null || child.signalCode !== null) return gone()
    const timer = setTimeout(() => { try { child.kill('SIGKILL') } catch {} }, 3000)
    child.once('exit', () => { clearTimeout(timer); gone() })
    try { child.send('stop') } catch {}
    try { child.disconnect() } catch {}
  })
}

module.exports = { startServer, serverCpu, serverDispatch, stopServer, killAll }
