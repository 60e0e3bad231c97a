'use strict'

// Where a server's CPU goes, from the .cpuprofile files that `BENCH_CPU_PROF=dir npm run bench`
// writes (one per server, named <n>-<variant>.cpuprofile). Self time is grouped by who runs it:
// this library (dist/), each npm package, Node's own JavaScript, native calls made from JS (the
// syscalls that read and write the sockets show up here, under the frame that made them), and V8
// (garbage collection, and "(program)": native work outside any JS frame, such as the HTTP
// parser's callbacks into C++ and the event loop). The first 4 s (start-up, the warm-up and the capacity probe) are left out.
//   node bench/profile/breakdown.js DIR [--top N]
const fs = require('node:fs')
const path = require('node:path')

const SKIP_US = 4_000_000

function group (frame) {
  const url = frame.url
  if (url === '') {
    if (frame.functionName.startsWith('(')) return `v8 ${frame.functionName}`
    return 'native calls from JS'
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg !== null) return pkg[1]
  if (url.includes('/dist/')) return 'fastify-proxy-fix (dist/)'
  if (url.startsWith('node:')) return 'node (JS)'
  return 'bench (handler, variants)'
}

function selfTimes (file) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const groups = new Map()
  const fns = new Map()
  let at = 0
  let busy = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] || 0
    at += dt
    if (at < SKIP_US) continue
    const frame = byId.get(p.samples[i]).callFrame
    if (frame.functionName === '(idle)') continue
    busy += dt
    const g = group(frame)
    groups.set(g, (groups.get(g) || 0) + dt)
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${frame.lineNumber + 1}`
    fns.set(fn, (fns.get(fn) || 0) + dt)
  }
  return { busy, groups, fns }
}

function main () {
  const dir = process.argv[2]
  const topAt = process.argv.indexOf('--top')
  const top = topAt === -1 ? 8 : Number(process.argv[topAt + 1])
  if (dir === undefined) throw new Error('usage: node bench/profile/breakdown.js DIR [--top N]')
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort((a, b) => parseInt(a) - parseInt(b))
  for (const f of files) {
    const { busy, groups, fns } = selfTimes(path.join(dir, f))
    console.log(`\n${f}: ${(busy / 1000).toFixed(0)} ms busy (self time, idle left out)`)
    for (const [g, t] of [...groups].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${(100 * t / busy).toFixed(1).padStart(5)}%  ${g}`)
    }
    console.log('  top functions:')
    for (const [fn, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`  ${(100 * t / busy).toFixed(1).padStart(5)}%  ${fn}`)
    }
  }
}

main()
