'use strict'

// `npm run bench`: every comparison of issue 16 on the paired method (bench/harness/paired.js) plus
// the resolver micro-benchmarks, as one table on stdout (progress on stderr). Reports only: exit 0
// when every row was measured, missed targets or not; 1 when a row could not be measured.
//
//   npm run bench -- [--only NAME] [--write-docs] [--rounds 7] [--seconds 1.75] [--load 0.6]
//                    [--rate N] [--connections 32] [--verbose]
//   --only NAME     the row with that slug, else the rows whose slug or label contains NAME
//                   (the calibration row always runs; an unknown NAME lists the slugs)
//   --write-docs    also write the table into docs/benchmarks.md, between its bench:table markers
//                   (with --only NAME, between bench:table:NAME markers)
//   --load F        offered rate per side, as a share of the slower side's probed capacity
//   --rate N        a fixed offered rate per side instead (req/s)
// Env: BENCH_NO_PIN=1 (no taskset), BENCH_CPU_PROF=dir (servers write <n>-<variant>.cpuprofile files
// there; `node bench/profile/breakdown.js dir` groups their self time by owner).
const { pinSelf } = require('./harness/pin')
const { paired, DEFAULTS } = require('./harness/paired')
const { header, table, writeDocs } = require('./harness/table')
const { killAll } = require('./harness/children')
const { select, slugs } = require('./rows')

function parseArgs (argv) {
  const o = { ...DEFAULTS, writeDocs: false, verbose: false, only: undefined, rate: undefined }
  const num = (flag, v, min, max, int = true) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new Error(`${flag}: expected a number from ${min} to ${max}, got ${JSON.stringify(v)}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--write-docs') o.writeDocs = true
    else if (a === '--verbose') o.verbose = true
    else if (a === '--only') o.only = argv[++i]
    else if (a === '--rounds') o.rounds = num(a, argv[++i], 1, 100)
    else if (a === '--seconds') o.seconds = num(a, argv[++i], 0.5, 60, false)
    else if (a === '--load') o.load = num(a, argv[++i], 0.05, 1, false)
    else if (a === '--rate') o.rate = num(a, argv[++i], 10, 1e6)
    else if (a === '--connections') o.connections = num(a, argv[++i], 1, 1000)
    else throw new Error(`unknown argument ${a}`)
  }
  if (o.only !== undefined && select(o.only).length === 0) {
    throw new Error(`--only ${o.only}: no row matches; rows: ${slugs().join(', ')}`)
  }
  return o
}

const progress = (msg) => process.stderr.write(msg + '\n')

async function measure (row, o) {
  const t0 = Date.now()
  if (row.run) {
    const r = await row.run()
    progress(`${row.slug}: ${r.shown} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    return { ...r, offered: '' }
  }
  progress(`${row.slug}: ${row.ours} against ${row.base} ...`)
  const r = await paired(row.ours, row.base, { ...o, log: o.verbose ? progress : undefined })
  progress(`${row.slug}: ${r.ratio.toFixed(3)} [${r.spread.min.toFixed(3)}..${r.spread.max.toFixed(3)}] at ${r.rate} req/s each` +
    `${r.redone ? `, ${r.redone} round(s) run again` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  return {
    value: r.ratio,
    shown: r.ratio.toFixed(3),
    spread: `${r.spread.min.toFixed(2)}..${r.spread.max.toFixed(2)}`,
    detail: `${r.oursUs.toFixed(1)} / ${r.baseUs.toFixed(1)} µs CPU/req`,
    offered: String(r.rate)
  }
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const started = new Date()
  const pinning = pinSelf()
  const rows = []
  let failed = 0
  for (const row of select(o.only)) {
    try {
      const r = await measure(row, o)
      const verdict = row.target.met === null ? 'ref' : row.target.met(r.value) ? 'met' : 'MISSED'
      rows.push({ label: row.label, ...r, target: row.target.text, verdict })
    } catch (err) {
      failed++
      progress(`${row.slug}: could not measure: ${err && err.stack ? err.stack : err}`)
      rows.push({ label: row.label, shown: 'n/a', spread: '', detail: String(err.message ?? err).slice(0, 30), offered: '', target: row.target.text, verdict: 'error' })
    }
  }
  const text = table(header({ ...o, pinning, started }), rows, (Date.now() - started) / 1000)
  console.log(text)
  if (o.writeDocs) progress(`wrote the table into ${writeDocs(text, o.only)}`)
  return failed
}

main().then((failed) => {
  killAll()
  process.exit(failed > 0 ? 1 : 0)
}, (err) => {
  console.error(`bench: ${err && err.message ? err.message : err}`)
  killAll()
  process.exit(1)
})
