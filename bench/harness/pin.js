'use strict'

// CPU pinning: the load generator on CPU 0, every server on CPU 1, so a pair of servers shares one
// core (each sees the same interference) and the client never takes time from them.
const { execFileSync } = require('node:child_process')
const os = require('node:os')

const LOAD_CPU = 0
const SERVER_CPU = 1

let taskset

/** The taskset binary when pinning is possible and wanted, else null (with the reason). */
function findTaskset () {
  if (taskset !== undefined) return taskset
  taskset = null
  if (process.env.BENCH_NO_PIN === '1') return note('BENCH_NO_PIN=1')
  if (os.cpus().length < 2) return note(`only ${os.cpus().length} CPU`)
  for (const bin of ['/usr/bin/taskset', '/bin/taskset', 'taskset']) {
    try {
      execFileSync(bin, ['-V'], { stdio: 'ignore' })
      taskset = bin
      return taskset
    } catch {}
  }
  return note('taskset is missing')
}

let reason = null
function note (why) {
  reason = why
  return null
}

/** Pins this process (all its threads) to the load CPU. Returns a one-line description. */
function pinSelf () {
  const bin = findTaskset()
  if (bin === null) return `not pinned (${reason})`
  try {
    execFileSync(bin, ['-a', '-cp', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' })
  } catch {
    taskset = null
    return 'not pinned (taskset refused)'
  }
  return `load generator on CPU ${LOAD_CPU}, both servers of a pair on CPU ${SERVER_CPU} (taskset)`
}

/** fork() options that run the child under `taskset -c <server cpu>` when pinning. */
function pinnedFork (execArgv = []) {
  const bin = findTaskset()
  if (bin === null) return { execArgv }
  return { execPath: bin, execArgv: ['-c', String(SERVER_CPU), process.execPath, ...execArgv] }
}

/** [command, args] that run `node ...args` on the server CPU when pinning. */
function pinnedNode (args) {
  const bin = findTaskset()
  return bin === null ? [process.execPath, args] : [bin, ['-c', String(SERVER_CPU), process.execPath, ...args]]
}

module.exports = { pinSelf, pinnedFork, pinnedNode }
