// The fast path for the commonest plan (lib/core/fast-path.ts) against the general walk over an
// XForwardedSource: the same view on every input. 10,000 runs per property when CI is set,
// 1,000 locally; FC_SEED=<seed> FC_PATH=<path> replays a failure.
import { test } from 'tap'
import fc from 'fast-check'
import { compileOptions, type Plan } from '../lib/core/options'
import type { Headers } from '../lib/core/resolve'
import { params, RUNS } from './helpers/fast-check'
import { walkBoth } from './helpers/fast-path'

const TRUST = ['10.0.0.0/8', 'fd00::/8', '127.0.0.1']
const trusted = /^(10\.|127\.0\.0\.1$|fd|\[fd|::ffff:10\.)/i

const PLANS: Array<[string, Plan]> = [
  ['list', compileOptions({ trust: TRUST }, 'proxyFix')],
  ['list quiet', compileOptions({ trust: TRUST, warnings: false }, 'proxyFix')],
  ['list strict', compileOptions({ trust: TRUST, strict: true }, 'proxyFix')],
  ['loopback', compileOptions({}, 'proxyFix')],
  ['function', compileOptions({ trust: (a: string) => trusted.test(a), strict: true }, 'proxyFix')],
  ['function by hop', compileOptions({ trust: (_a: string, i: number) => i < 3 }, 'proxyFix')],
  ['trust all', compileOptions({ trust: true }, 'proxyFix')],
  ['fields for, prefix', compileOptions({ trust: TRUST, fields: ['for', 'prefix'] }, 'proxyFix')],
  ['fields proto, host, port', compileOptions({ trust: TRUST, fields: ['proto', 'host', 'port'], strict: true }, 'proxyFix')],
  ['allowedHosts', compileOptions({ trust: TRUST, allowedHosts: ['.example', 'legit.com'] }, 'proxyFix')],
  ['hostRewrite', compileOptions({ trust: TRUST, header: 'x-fhost' }, 'hostRewrite')]
]

const octet = fc.oneof(fc.nat(255), fc.constantFrom(0, 10, 127, 255))
const v4 = fc.tuple(fc.constantFrom(10, 127, 203, 0), octet, octet, octet).map((o) => o.join('.'))
const v6 = fc.oneof(fc.constantFrom('fd00::1', '::1', '2001:db8::7', '::ffff:10.0.0.1', 'FD00:0:0:0:0:0:0:2', '::'), fc.ipV6())
const node = fc.oneof(
  { weight: 6, arbitrary: v4 },
  { weight: 2, arbitrary: v6 },
  { weight: 1, arbitrary: v6.map((a) => `[${a}]:443`) },
  { weight: 1, arbitrary: v4.map((a) => `${a}:8080`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('unknown', 'UNKNOWN', '_obf', '127.1', '0177.0.0.1', '256.0.0.1', '1.2.3.4.5', '', ' ', '\t', '"1.2.3.4"',
      'fe80::1%eth0', '[fe80::1%25eth0]', '10.0.0.1 10.0.0.2', '10.0.0.1\r', '10.0.0.1\u00a0')
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) }
)
const ows = fc.constantFrom('', ' ', '  ', '\t', ' \t')
const sep = fc.constantFrom(',', ', ', ' , ', ',,', ', ,', '\t,')
const list = fc.tuple(fc.array(fc.tuple(ows, node, ows), { maxLength: 8 }), sep, ows).map(([nodes, s, pad]) => pad + nodes.map(([a, n, b]) => a + n + b).join(s) + pad)
// more than MAX_ENTRIES elements, empty ones included, and an element longer than MAX_ELEMENT
const near = fc.oneof(v4, fc.constant('10.0.0.1'))
const long = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 45 }), near, fc.array(near, { maxLength: 3 })).map(([n, a, near]) => [...Array(n).fill(a), ...near].join(', ')),
  fc.tuple(fc.integer({ min: 25, max: 45 }), fc.array(near, { maxLength: 3 })).map(([n, a]) => ','.repeat(n) + a.join(',')),
  fc.tuple(fc.integer({ min: -2, max: 2 }), near, fc.array(near, { maxLength: 2 })).map(([d, a, b]) => [' '.repeat(2048 - a.length + d) + a, ...b].join(','))
)
const forList = fc.oneof({ weight: 4, arbitrary: list }, { weight: 1, arbitrary: long })
const fieldList = (values: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.array(fc.tuple(ows, values, ows).map(([a, v, b]) => a + v + b), { minLength: 1, maxLength: 4 }).chain((a) => sep.map((s) => a.join(s)))
const proto = fc.constantFrom('https', 'http', 'HTTPS', 'wss', 'ws', 'ftp', '', 'https ', 'httpss')
const host = fc.constantFrom('example.com', 'a.example:8443', '[::1]:8443', '[::1]', 'evil.com:fake@legit.com', 'a b', 'x.legit.com', '', 'h:0', 'h:99999')
const port = fc.constantFrom('443', '80', '0', '99999', '8080', 'x', '')
const prefix = fc.constantFrom('/app', '/app/', '/', '//evil', '/a/%2e%2e', 'app', '/a%2Fb', '')
/** One header line, or several (Node keeps an array only for a few names; the resolver joins any). */
const lines = (v: fc.Arbitrary<string>): fc.Arbitrary<string | string[]> => fc.oneof({ weight: 5, arbitrary: v }, { weight: 1, arbitrary: fc.array(v, { minLength: 1, maxLength: 3 }) })

const headers: fc.Arbitrary<Headers> = fc.record({
  host: fc.constantFrom('app.test', 'app.test:8080', '[::1]:3000', ''),
  'x-forwarded-for': lines(forList),
  'x-forwarded-proto': lines(fieldList(proto)),
  'x-forwarded-host': lines(fieldList(host)),
  'x-forwarded-port': lines(fieldList(port)),
  'x-forwarded-prefix': lines(fieldList(prefix)),
  forwarded: fc.constant('for=10.0.0.9')
}, { requiredKeys: [] }) as fc.Arbitrary<Headers>

const peer = fc.constantFrom('127.0.0.1', '10.1.2.3', 'fd00::5', '203.0.113.9')

test('every plan the fast path takes is one the general walk handles the same way', async (t) => {
  const seen = { compared: 0, error: 0, overflow: 0, tooWide: 0, ipv6: 0, proto: 0, host: 0, port: 0, prefix: 0 }
  await fc.assert(fc.property(peer, fc.boolean(), headers, fc.constantFrom(...PLANS), (address, encrypted, h, [, plan]) => {
    fc.pre(plan.fastPath)
    const host = typeof h.host === 'string' ? h.host : ''
    const fast = walkBoth(address, host, encrypted, h, plan)
    seen.compared++
    if (fast.error !== null) seen.error++
    if (fast.error?.message.includes('more than') === true) seen.overflow++
    if ((fast.notices & 2) !== 0) seen.tooWide++
    if (fast.ip?.includes(':') === true) seen.ipv6++
    if (fast.protocol !== (encrypted ? 'https' : 'http')) seen.proto++
    if (fast.host !== host) seen.host++
    if (fast.port !== null && !host.endsWith(':' + String(fast.port))) seen.port++
    if (fast.prefix !== '') seen.prefix++
  }), params(RUNS))
  // the inputs reach every outcome, not only the easy ones
  for (const [what, n] of Object.entries(seen)) t.ok(n > 0, `${what}: ${n}`)
})

test('the plans it takes', async (t) => {
  t.equal(compileOptions({ trust: TRUST }, 'proxyFix').fastPath, true)
  t.equal(compileOptions({ trust: () => true }, 'proxyFix').fastPath, true)
  t.equal(compileOptions({ trust: TRUST, forwarded: true }, 'proxyFix').fastPath, false)
  t.equal(compileOptions({ trust: 2 }, 'proxyFix').fastPath, false)
  t.equal(compileOptions({ trust: TRUST, clientIpHeader: 'x-real-ip' }, 'proxyFix').fastPath, false)
  t.equal(compileOptions({ trust: TRUST, clientIpHeader: { 'cf-connecting-ip': ['10.0.0.0/8'] } }, 'proxyFix').fastPath, false)
})
