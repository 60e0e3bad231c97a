'use strict'

// The resolver against proxy-addr's all() on a 5-hop X-Forwarded-For chain: interleaved batches,
// the order alternating, ns of CPU per call for each and the median of the per-batch ratios.
const path = require('node:path')
const proxyaddr = require('proxy-addr')
const { median, spread } = require('../harness/stats')

const DIST = path.join(__dirname, '..', '..', 'dist')
const { compileOptions } = require(path.join(DIST, 'core', 'options'))
const { resolve } = require(path.join(DIST, 'core', 'resolve'))

const TRUST = ['127.0.0.1', '10.0.0.0/8']
const PEER = '127.0.0.1'
const BATCH = 30000

// CPU time, not wall time: on a shared machine a batch can be preempted midway.
function nsPerCall (fn) {
  const t0 = process.cpuUsage()
  fn(BATCH)
  const t = process.cpuUsage(t0)
  return (t.user + t.system) * 1000 / BATCH
}

function run (rounds = 7) {
  const plan = compileOptions({ trust: TRUST }, 'proxyFix')
  const trustFn = proxyaddr.compile(TRUST)
  const headers = { host: 'internal', 'x-forwarded-for': '198.51.100.9, 10.0.0.4, 10.0.0.3, 10.0.0.2, 10.0.0.1' }
  const req = { headers, connection: { remoteAddress: PEER }, socket: { remoteAddress: PEER } }
  const ours = resolve(PEER, false, headers, plan, undefined).ip
  const theirs = proxyaddr.all(req, trustFn).at(-1)
  if (ours !== '198.51.100.9' || ours !== theirs) throw new Error(`resolvers disagree: resolve() gives ${ours}, proxy-addr ${theirs}`)

  let sink = 0
  const a = (n) => { for (let i = 0; i < n; i++) sink += resolve(PEER, false, headers, plan, undefined).ips.length }
  const b = (n) => { for (let i = 0; i < n; i++) sink += proxyaddr.all(req, trustFn).length }
  for (let w = 0; w < 3; w++) { a(BATCH); b(BATCH) }
  const ns = [[], []]
  const ratios = []
  for (let r = 0; r < rounds; r++) {
    let x, y
    if (r % 2 === 0) { x = nsPerCall(a); y = nsPerCall(b) } else { y = nsPerCall(b); x = nsPerCall(a) }
    ns[0].push(x)
    ns[1].push(y)
    ratios.push(y / x)
  }
  if (sink === 0) throw new Error('sink')
  return { ratio: median(ratios), spread: spread(ratios), ours: median(ns[0]), base: median(ns[1]) }
}

module.exports = { run }
