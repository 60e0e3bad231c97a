'use strict'

// CPU pinning shared by the benches: the load generator on one CPU, each server on another, so
// they do not take time from each other on a 2-core machine.
const { execFileSync } = require('node:child_process')
const os = require('node:os')

/**
 * Pins this process (every thread: autocannon runs on the main thread) to CPU `cpu`. Returns the
 * taskset path for pinning the servers, or null (with a printed note) when pinning is off or
 * unavailable.
 */
function pinSelf (cpu, log = console.log) {
  if (process.env.BENCH_NO_PIN === '1') {
    log('note: BENCH_NO_PIN=1: load generator and servers are not pinned to CPUs')
    return null
  }
  // The machine's CPUs, not this process's affinity mask (bench/mount.js inherits CPU 0 from run.js).
  const cpus = os.cpus().length
  if (cpus < 2) {
    log(`note: only ${cpus} CPU available: load generator and servers are not pinned`)
    return null
  }
  for (const taskset of ['/usr/bin/taskset', '/bin/taskset', 'taskset']) {
    try {
      execFileSync(taskset, ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' })
      return taskset
    } catch {}
  }
  log('note: taskset is missing or refused: load generator and servers are not pinned to CPUs')
  return null
}

/** fork() options that start the child under `taskset -c <cpu>` (all its threads) when pinning. */
function pinnedFork (taskset, cpu, execArgv = []) {
  if (taskset === null) return { execArgv }
  return { execPath: taskset, execArgv: ['-c', String(cpu), process.execPath, ...execArgv] }
}

module.exports = { pinSelf, pinnedFork }
