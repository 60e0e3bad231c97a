// The fast path's numeric trust test (a list trust's testV4) and its one-pass quad reader, against
// the general walk: the same view for trust lists at CIDR boundaries (/0, /1, /31, /32, netmasks,
// IPv4-mapped ranges, ::/0) and X-Forwarded-For hops on either side of them, with any OWS.
// 10,000 runs when CI is set, 1,000 locally; FC_SEED=<seed> FC_PATH=<path> replays a failure.
import { test } from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { walkXForwarded } from '../lib/core/fast-path'
import { compileOptions, type Plan } from '../lib/core/options'
import { makePeer } from '../lib/core/peer'
import type { Headers } from '../lib/core/resolve'
import { ProxyView } from '../lib/core/view'
import { params, RUNS } from './helpers/fast-check'
import { walkBoth } from './helpers/fast-path'
import { TRUST_TOO_WIDE } from '../lib/core/warnings'

const LISTS: string[][] = [
  ['0.0.0.0/0'],
  ['10.0.0.0/8'],
  ['10.0.0.1/32', '127.0.0.1'],
  ['10.0.0.0/31', '127.0.0.0/8'],
  ['128.0.0.0/1', '127.0.0.1'],
  ['10.0.0.0/255.255.255.0', '127.0.0.1'],
  ['::ffff:10.0.0.0/104', '::ffff:127.0.0.1'],
  ['::/0'],
  ['fd00::/8', '10.0.0.0/8', '127.0.0.1'],
  ['255.255.255.255/32', '0.0.0.0/32', '127.0.0.1'],
  ['private']
]
const PLANS: Array<[string, Plan]> = LISTS.flatMap((trust) => [
  [trust.join(' '), compileOptions({ trust }, 'proxyFix')],
  [trust.join(' ') + ' strict', compileOptions({ trust, strict: true }, 'proxyFix')]
] as Array<[string, Plan]>)

// addresses on both sides of every boundary above
const EDGE = ['0.0.0.0', '0.0.0.1', '9.255.255.255', '10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.255', '10.0.1.0', '10.255.255.255',
  '11.0.0.0', '127.0.0.1', '127.0.0.2', '127.255.255.255', '128.0.0.0', '203.0.113.7', '255.255.255.254', '255.255.255.255']
const v4 = fc.oneof(fc.constantFrom(...EDGE), fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.')))
const node = fc.oneof(
  { weight: 8, arbitrary: v4 },
  { weight: 2, arbitrary: v4.map((a) => `::ffff:${a}`) },
  { weight: 1, arbitrary: v4.map((a) => `[::ffff:${a}]:443`) },
  { weight: 1, arbitrary: v4.map((a) => `${a}:8080`) },
  { weight: 1, arbitrary: fc.constantFrom('::ffff:a00:1', '::a00:1', 'fd00::1', '::1', '::', 'unknown', '_obf') },
  // almost quads: leading zeros, out of range, short, long, trailing dot
  { weight: 2, arbitrary: fc.constantFrom('010.0.0.1', '10.0.0.01', '10.0.0.256', '10.0.1', '10.0.0.0.1', '10.0.0.1.', '.10.0.0.1', '10..0.1', '10.0.0.1000', '10.0.0.1x') }
)
// OWS as proxies write it, and runs longer than the one-pass reader takes
const ows = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('', ' ', '\t', ' \t') }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 14 }).map((n) => ' '.repeat(n)) })
const sep = fc.constantFrom(',', ', ', ',,', ' , ')
const xff = fc.array(fc.tuple(ows, node, ows), { minLength: 1, maxLength: 8 }).chain((nodes) => sep.map((s) => nodes.map(([a, n, b]) => a + n + b).join(s)))
const headers: fc.Arbitrary<Headers> = fc.record({
  host: fc.constant('app.test'),
  'x-forwarded-for': xff,
  'x-forwarded-proto': fc.constantFrom('https', 'http, https', 'https, http, https'),
  'x-forwarded-host': fc.constantFrom('a.example', 'a.example, b.example', 'a.example, b.example, c.example')
}, { requiredKeys: ['x-forwarded-for'] }) as fc.Arbitrary<Headers>

test('list trusts at CIDR boundaries: the fast path trusts exactly the hops the general walk trusts', async (t) => {
  const seen = { compared: 0, walkedPastOne: 0, allTrusted: 0, mapped: 0, error: 0 }
  await fc.assert(fc.property(headers, fc.constantFrom(...PLANS), (h, [, plan]) => {
    assert.equal(plan.fastPath, true)
    const fast = walkBoth('127.0.0.1', 'app.test', false, h, plan)
    seen.compared++
    if (fast.ips.length > 2) seen.walkedPastOne++
    if ((fast.notices & TRUST_TOO_WIDE) !== 0) seen.allTrusted++
    if (fast.ip?.startsWith('::ffff:') === true) seen.mapped++
    if (fast.error !== null) seen.error++
  }), params(RUNS))
  for (const [what, n] of Object.entries(seen)) t.ok(n > 0, `${what}: ${n}`)
})

test('a hop is trusted by its address only, never by its text', async (t) => {
  const plan = compileOptions({ trust: ['10.0.0.0/8', '127.0.0.1'] }, 'proxyFix')
  const cases: Array<[string, string, string[]]> = [
    // the client is the first untrusted hop from the right, whatever it looks like
    ['203.0.113.7, 10.0.0.1', '203.0.113.7', ['127.0.0.1', '10.0.0.1', '203.0.113.7']],
    ['203.0.113.7, 11.0.0.0', '11.0.0.0', ['127.0.0.1', '11.0.0.0']],
    ['203.0.113.7, 9.255.255.255', '9.255.255.255', ['127.0.0.1', '9.255.255.255']],
    ['203.0.113.7, 10.255.255.255', '203.0.113.7', ['127.0.0.1', '10.255.255.255', '203.0.113.7']],
    // a mapped hop is matched as its IPv4 address, and keeps its text
    ['203.0.113.7, ::ffff:10.0.0.1', '203.0.113.7', ['127.0.0.1', '::ffff:10.0.0.1', '203.0.113.7']],
    ['203.0.113.7,\t  10.0.0.1  \t', '203.0.113.7', ['127.0.0.1', '10.0.0.1', '203.0.113.7']],
    // not a quad: a leading zero is never read as 10.0.0.1 (nor as octal), and the walk stops there
    ['203.0.113.7, 010.0.0.1', '127.0.0.1', ['127.0.0.1']],
    ['203.0.113.7, 10.0.0.01', '127.0.0.1', ['127.0.0.1']],
    ['203.0.113.7, 10.0.0.1.', '127.0.0.1', ['127.0.0.1']]
  ]
  for (const [value, ip, ips] of cases) {
    const v = new ProxyView(makePeer('127.0.0.1'), 'app.test', false)
    walkXForwarded(v, plan, { 'x-forwarded-for': value })
    t.equal(v.ip, ip, value)
    t.same(v.ips, ips, value + ' ips')
  }
})
