'use strict'

// Every row of `npm run bench`, with its target (from issue 16). A paired row names two variants
// (bench/variants.js): ours and the baseline; its figure is baseline CPU per request / ours, so
// above 1 ours is cheaper. A micro row runs a function in this process (or a child).
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { pinnedNode } = require('./harness/pin')

const atLeast = (min) => ({ text: `>= ${min.toFixed(2)}`, met: (x) => x >= min })
const atMost = (max, unit) => ({ text: `<= ${max} ${unit}`, met: (x) => x <= max })
const near = (lo, hi) => ({ text: `${lo.toFixed(2)}..${hi.toFixed(2)}`, met: (x) => x >= lo && x <= hi })

const paired = (slug, label, ours, base, target) => ({ slug, label, ours, base, target })

const CALIBRATION = paired('calibration', 'calibration: plain / plain (same server twice)', 'plain', 'plain', near(0.98, 1.02))

const PAIRED = [
  paired('proxyfix-plain', 'proxyFix / plain Fastify', 'proxyFix', 'plain', atLeast(0.97)),
  paired('proxyfix-trustproxy', 'proxyFix / Fastify trustProxy', 'proxyFix', 'trustProxy', atLeast(1.35)),
  paired('hostrewrite', 'hostRewrite / plain', 'hostRewrite', 'plainFhost', atLeast(0.98)),
  paired('express-alone', 'Express mounted / Express alone', 'expressMounted', 'expressAlone', atLeast(1.10)),
  paired('fastify-express', 'Express mounted / @fastify/express, same trust', 'expressTrustMounted', 'fastifyExpressTrust', atLeast(1.25)),
  paired('express-http-alone', 'Express mounted, expressHttpOptions / alone', 'expressMountedHttp', 'expressAlone', atLeast(1.10)),
  paired('express-http-fastify-express', 'Express mounted, expressHttpOptions / @fastify/express', 'expressTrustMountedHttp', 'fastifyExpressTrust', atLeast(1.25)),
  paired('connect-native', 'Connect handler mounted / native route', 'connectMounted', 'nativeRoute', atLeast(0.95)),
  paired('connect-middie', 'Connect handler mounted / @fastify/middie', 'connectMounted', 'middie', atLeast(1.10)),
  paired('beside-mount', 'routes beside a mount / without', 'routesBesideMount', 'routesAlone', atLeast(0.99)),
  // What the row above is made of, one part at a time: run with --only beside (not in the full table)
  { ...paired('beside-connect', 'routes beside a Connect mount / without', 'routesBesideConnect', 'routesAlone', atLeast(0.99)), extra: true },
  { ...paired('beside-express-loaded', 'routes, an Express app loaded, not mounted / without', 'routesExpressLoaded', 'routesAlone', atLeast(0.99)), extra: true },
  { ...paired('beside-wildcard', 'routes beside a wildcard route, no mount / without', 'routesBesideWildcard', 'routesAlone', atLeast(0.99)), extra: true },
  paired('proxy-protocol', 'PROXY protocol listener / without, keep-alive', 'ppListener', 'ppPlain', atLeast(0.97)),
  // the warnings cost nothing once fired: no more than the noise (a cheaper warned side is noise too)
  paired('warnings', 'proxyFix warnings fired / warnings off', 'proxyFixWarned', 'proxyFixQuiet', atLeast(0.98))
]

const fmtSpread = (s) => `${s.min.toFixed(2)}..${s.max.toFixed(2)}`

// A reference: printed, with no target of its own.
const reference = { text: '-', met: null }

// The same comparisons without sockets (bench/micro/no-sockets.js): the JavaScript alone, which
// the socket work both sides share dilutes in the rows above. `--only no-sockets` runs them.
const noSockets = (slug, label, ours, base) => ({
  slug: `no-sockets-${slug}`,
  label: `no sockets: ${label}`,
  target: reference,
  extra: true,
  async run () {
    const r = await require('./micro/no-sockets').run(ours, base)
    return { value: r.ratio, shown: r.ratio.toFixed(3), spread: fmtSpread(r.spread), detail: `${r.ours.toFixed(2)} / ${r.base.toFixed(2)} µs CPU/req` }
  }
})

const NO_SOCKETS = [
  noSockets('calibration', 'plain / plain', 'plain', 'plain'),
  noSockets('proxyfix-plain', 'proxyFix / plain', 'proxyFix', 'plain'),
  noSockets('proxyfix-trustproxy', 'proxyFix / trustProxy', 'proxyFix', 'trustProxy'),
  noSockets('hostrewrite', 'hostRewrite / plain', 'hostRewrite', 'plainFhost'),
  noSockets('express-alone', 'Express mounted / alone', 'expressMounted', 'expressAlone'),
  noSockets('fastify-express', 'Express mounted / @fastify/express', 'expressTrustMounted', 'fastifyExpressTrust'),
  noSockets('express-http-alone', 'Express mounted, expressHttpOptions / alone', 'expressMountedHttp', 'expressAlone'),
  noSockets('connect-native', 'Connect mounted / native route', 'connectMounted', 'nativeRoute'),
  noSockets('connect-middie', 'Connect mounted / @fastify/middie', 'connectMounted', 'middie')
]

const MICRO = [
  {
    slug: 'resolver',
    label: 'resolver / proxy-addr all(), 5 hops',
    target: atLeast(10),
    run () {
      const r = require('./micro/resolver').run()
      return { value: r.ratio, shown: `${r.ratio.toFixed(1)}x`, spread: fmtSpread(r.spread), detail: `${r.ours.toFixed(0)} / ${r.base.toFixed(0)} ns CPU/call` }
    }
  },
  ...['X-Forwarded-*', 'Forwarded'].map((family) => ({
    slug: family === 'Forwarded' ? 'forwarded-16k' : 'xforwarded-16k',
    label: `worst 16 KiB value, ${family}`,
    target: atMost(20, 'µs'),
    run: adversarial(family)
  })),
  {
    slug: 'heap',
    label: 'heap growth over 1M resolves',
    target: atMost(5, 'MB'),
    run () {
      const [cmd, args] = pinnedNode(['--expose-gc', path.join(__dirname, 'micro', 'heap.js')])
      const r = JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' }))
      return { value: r.growthMB, shown: `${r.growthMB.toFixed(2)} MB`, spread: '', detail: 'full GC before and after' }
    }
  }
]

// Both families are measured in one pass; the second row reuses it.
let adversarialResult = null
function adversarial (family) {
  return () => {
    adversarialResult ??= require('./micro/adversarial').run()
    const r = adversarialResult[family]
    return { value: r.worst, shown: `${r.worst.toFixed(2)} µs`, spread: fmtSpread(r.spread), detail: `${r.cases} cases, µs CPU/call`, note: `worst ${family} case: ${r.name}` }
  }
}

/**
 * The rows `--only name` picks, the calibration row always first: the row with that slug, else
 * every row whose slug or label contains it.
 */
function select (only) {
  const all = [...PAIRED, ...MICRO, ...NO_SOCKETS]
  if (only === undefined) return [CALIBRATION, ...all.filter((r) => r.extra !== true)]
  const q = only.toLowerCase()
  if (q === CALIBRATION.slug) return [CALIBRATION]
  const exact = all.filter((r) => r.slug === q)
  const picked = exact.length > 0 ? exact : all.filter((r) => r.slug.includes(q) || r.label.toLowerCase().includes(q))
  return picked.length === 0 ? [] : [CALIBRATION, ...picked]
}

const slugs = () => [CALIBRATION, ...PAIRED, ...MICRO, ...NO_SOCKETS].map((r) => r.slug)

module.exports = { select, slugs }
