'use strict'

// The resolver on 16 KiB header values, well formed and adversarial, in both header families.
// Target: at most 20 us per call for every row (issue: trust you can rely on). Run alone with
// `node bench/adversarial.js` after `npm run build`, or as part of `npm run bench`.

const path = require('node:path')
const DIST = path.join(__dirname, '..', 'dist')
const { compileOptions } = require(path.join(DIST, 'core', 'options'))
const { resolve } = require(path.join(DIST, 'core', 'resolve'))

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
  const N = 300
  for (let i = 0; i < 50; i++) fn()
  const rounds = []
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i++) fn()
    rounds.push(Number(process.hrtime.bigint() - t0) / N / 1000)
  }
  rounds.sort((a, b) => a - b)
  return { median: rounds[3], min: rounds[0], max: rounds[6] }
}

function run () {
  console.log(`\n== Resolver on 16 KiB header values (target <= ${TARGET_US} us per call, median of 7 rounds [min..max])`)
  let worst = 0
  let failed = 0
  const rows = []
  for (const [family, cases, header] of [['X-Forwarded-For', X, 'x-forwarded-for'], ['Forwarded', F, 'forwarded'], ['X-Forwarded-Proto', X.slice(1, 6), 'x-forwarded-proto'], ['X-Forwarded-Host', X.slice(1, 6), 'x-forwarded-host']]) {
    for (const [name, value] of cases) {
      for (const [planName, base] of Object.entries(PLANS)) {
        const plan = header === 'forwarded' ? compileOptions({ ...base.options, forwarded: true }, 'proxyFix') : base
        const headers = { host: 'internal', [header]: value }
        const t = time(() => resolve('127.0.0.1', false, headers, plan, undefined).ip)
        worst = Math.max(worst, t.median)
        const pass = t.median <= TARGET_US
        if (!pass) failed++
        rows.push([family, name, planName, t])
      }
    }
  }
  for (const [family, name, planName, t] of rows) {
    const flag = t.median <= TARGET_US ? 'PASS' : 'FAIL  <<<<<<'
    console.log(`${family.padEnd(18)} ${name.padEnd(32)} ${planName.padEnd(12)} ${t.median.toFixed(2).padStart(7)} us [${t.min.toFixed(2)}..${t.max.toFixed(2)}] ${flag}`)
  }
  console.log(`worst row: ${worst.toFixed(2)} us; ${rows.length - failed}/${rows.length} rows within ${TARGET_US} us`)
  return { worst, failed, rows: rows.length }
}

module.exports = { run }
if (require.main === module) run()
