'use strict'

// Heap growth over 1M resolves, in its own process started with --expose-gc: the heap after a full
// GC, before and after. Prints { growthMB } as JSON; bench/run.js starts it (pinned).
const path = require('node:path')

const DIST = path.join(__dirname, '..', '..', 'dist')
const { compileOptions } = require(path.join(DIST, 'core', 'options'))
const { resolve } = require(path.join(DIST, 'core', 'resolve'))

const COUNT = 1e6

function main () {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc')
  const plan = compileOptions({ trust: ['127.0.0.1', '10.0.0.0/8'] }, 'proxyFix')
  // varying clients and peers, as a busy server sees them (a per-peer cache must not grow unbounded)
  const headers = (i) => ({ host: 'internal', 'x-forwarded-for': `198.51.${(i >> 8) & 255}.${i & 255}, 10.0.0.2`, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' })
  let sink = 0
  for (let i = 0; i < 10000; i++) sink += resolve('127.0.0.1', false, headers(i), plan, undefined).ips.length
  global.gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < COUNT; i++) sink += resolve(`10.0.${(i >> 8) & 255}.${i & 255}`, false, headers(i), plan, undefined).ips.length
  global.gc()
  const after = process.memoryUsage().heapUsed
  console.log(JSON.stringify({ growthMB: (after - before) / 1048576, resolves: COUNT, sink }))
}

main()
