'use strict'

// The one table `npm run bench` prints, its header, and writing it into docs/benchmarks.md.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const DOCS = path.join(__dirname, '..', '..', 'docs', 'benchmarks.md')

function header ({ rounds, seconds, connections, load, rate, pinning, started }) {
  const cpus = os.cpus()
  const offered = rate === undefined ? `${load} x the slower side's capacity, probed with both saturated` : `${rate} req/s`
  const busy = os.loadavg()[0] > cpus.length
  return [
    `fastify-proxy-fix bench, ${started.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores; Node ${process.version}; load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    `pinning: ${pinning}`,
    `paired rows: both servers at once on one CPU, each offered the same fixed rate (req/s each: ${offered}),`,
    `  ${connections} keep-alive connections each; ${rounds} rounds x ${seconds} s after a warm-up round, the side going first alternating;`,
    '  ratio = baseline CPU per request / ours (above 1: ours is cheaper), median and [min..max] of the rounds',
    ...(busy ? ['note: the load average is above the core count: other work shares these CPUs, so spreads are wide'] : [])
  ]
}

const COLUMNS = [
  ['row', 46, 'l'], ['median', 8, 'r'], ['spread', 11, 'r'], ['ours / baseline', 27, 'r'], ['req/s each', 10, 'r'], ['target', 10, 'r'], ['result', 6, 'l']
]

function line (cells) {
  return cells.map((c, i) => {
    const [, width, align] = COLUMNS[i]
    return align === 'l' ? String(c).padEnd(width) : String(c).padStart(width)
  }).join('  ').trimEnd()
}

/** rows: { label, shown, spread, detail, offered, target, verdict } */
function table (head, rows, seconds) {
  const out = [...head, '']
  out.push(line(COLUMNS.map(([name]) => name)))
  out.push(line(COLUMNS.map(([, width]) => '-'.repeat(width))))
  for (const r of rows) out.push(line([r.label, r.shown, r.spread, r.detail, r.offered, r.target, r.verdict]))
  const notes = rows.filter((r) => r.note).map((r) => r.note)
  if (notes.length > 0) out.push('', ...notes)
  out.push('')
  const missed = rows.filter((r) => r.verdict === 'MISSED').length
  const errors = rows.filter((r) => r.verdict === 'error').length
  out.push(`${rows.length} rows, ${missed} missed${errors ? `, ${errors} could not be measured` : ''}; took ${Math.round(seconds)} s.` +
    ' A ratio reads against the calibration row: the machine is shared, and its noise is in every row.')
  return out.join('\n')
}

/**
 * Puts `text` (fenced) between the markers of docs/benchmarks.md: bench:table for the full run,
 * bench:table:NAME for `--only NAME`.
 */
function writeDocs (text, only) {
  const key = only === undefined ? 'bench:table' : `bench:table:${only}`
  const open = `<!-- ${key} -->`
  const close = `<!-- /${key} -->`
  let doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : `# Benchmarks\n\nThe table below is what \`npm run bench -- --write-docs\` printed.\n\n${open}\n${close}\n`
  const a = doc.indexOf(open)
  const b = doc.indexOf(close)
  if (a === -1 || b < a) throw new Error(`${DOCS} has no ${open} ... ${close} markers`)
  doc = doc.slice(0, a + open.length) + '\n```text\n' + text + '\n```\n' + doc.slice(b)
  fs.writeFileSync(DOCS, doc)
  return DOCS
}

module.exports = { header, table, writeDocs }
