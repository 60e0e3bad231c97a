'use strict'

// The resolver on 16 KiB header values, well formed and adversarial, in both header families.
// Target: at most 20 µs per call for every case. Part of `npm run bench` (rows xf-16k, fwd-16k).

const path = require('node:path')
const DIST = path.join(__dirname, '..', '..', 'dist')
const { compileOptions } = require(path.join(DIST, 'core', 'options'))
const { resolve } = require(path.join(DIST, 'core', 'resolve'))

const { median, spread } = require('../harness/stats')

const TARGET_US = 20
const KIB16 = 16 * 1024

function fill (unit, prefix = '', suffix = '') {
  const n = Math.ceil((KIB16 - prefix.length - suffix.length) / unit.length)
  // a flat string, as Node's HTTP parser hands header values over (a rope would be flattened on first read)
  return Buffer.from((prefix + unit.repeat(n) + suffix).slice(0, KIB16), 'latin1').toString('latin1')
}

const PLANS = {
  'trust true': compileOptions({ trust: true }, 'proxyFix'),
  'trust 10/8': compileOptions({ trust: ['10.0.0.0/8', '127.0.0.1'] }, 'proxyFix'),
  'count 2': compileOptions({ trust: 2 }, 'proxyFix'),
  'strict true': compileOptions({ trust: true, strict: true }, 'proxyFix')
}

const X = [
  ['well formed: trusted 10/8 hops', fill('10.1.2.3, ', '198.51.100.9, ')],
  ['bare commas', fill(',')],
  ['commas and spaces', fill(' , ')],
  ['spaces', fill(' ')],
  ['one long token', fill('a')],
  ['brackets', fill('[')],
  ['colons', fill(':')],
  ['NBSP', fill('\u00a0')],
  ['digits and dots', fill('1.')],
  ['quotes and backslashes', fill('\\"')]
]
const F = [
  ['well formed: for= elements', fill('for=10.1.2.3, ', 'for=198.51.100.9, ')],
  ['backslashes', fill('\\')],
  ['semicolons', fill(';')],
  ['quoted escapes', fill('\\"', 'for="', '"')],
  ['quotes', fill('"')],
  ['unterminated quote', fill('a', 'for="')],
  ['bare commas', fill(',')],
  ['pairs', fill('a=b;')],
  ['broken then good', fill('x', '"', ', for=10.0.0.1')],
  ['equals', fill('=')]
]

function time (fn) {
  for (let i = 0; i < 50; i++) fn()
  // process.cpuUsage() moves in scheduler ticks (a few ms): a batch must last far longer than one
  const t = process.hrtime.bigint()
  for (let i = 0; i < 50; i++) fn()
  const each = Number(process.hrtime.bigint() - t) / 50
  const N = Math.max(300, Math.ceil(10e6 / Math.max(each, 1)))
  const rounds = []
  for (let r = 0; r < 7; r++) {
    // CPU time, not wall time: on a shared machine a batch can be preempted midway
    const t0 = process.cpuUsage()
    for (let i = 0; i < N; i++) fn()
    const t = process.cpuUsage(t0)
    rounds.push((t.user + t.system) / N)
  }
  return median(rounds)
}

const FAMILIES = [
  ['X-Forwarded-*', [['x-forwarded-for', X], ['x-forwarded-proto', X.slice(1, 6)], ['x-forwarded-host', X.slice(1, 6)]]],
  ['Forwarded', [['forwarded', F]]]
]

/**
 * Every case under every plan; per family the worst median µs per call, the case it came from,
 * and the spread of the cases' medians. `log` gets one line per case when given.
 */
function run (log) {
  const out = {}
  for (const [family, headers] of FAMILIES) {
    const times = []
    let worst = { us: 0, name: '' }
    for (const [header, cases] of headers) {
      for (const [name, value] of cases) {
        for (const [planName, base] of Object.entries(PLANS)) {
          const plan = header === 'forwarded' ? compileOptions({ ...base.options, forwarded: true }, 'proxyFix') : base
          const h = { host: 'internal', [header]: value }
          const us = time(() => resolve('127.0.0.1', false, h, plan, undefined).ip)
          times.push(us)
          if (us > worst.us) worst = { us, name: `${header}: ${name}, ${planName}` }
          if (log) log(`  ${header.padEnd(18)} ${name.padEnd(32)} ${planName.padEnd(12)} ${us.toFixed(2).padStart(7)} µs`)
        }
      }
    }
    out[family] = { worst: worst.us, name: worst.name, spread: spread(times), cases: times.length }
  }
  return out
}

module.exports = { run, TARGET_US }
