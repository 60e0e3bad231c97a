import { test } from 'tap'
import { advise, listOf, type Hop, type VerdictInput } from '../lib/server/whoami-verdict'
import { BOTH_FAMILIES, FORGOTTEN_PROXY, TRUST_TOO_WIDE } from '../lib/core/warnings'

// The whoami page's verdict and suggestion, one row per situation the page must name.

const socket = (address: string, role: Hop['role']): Hop => ({ hop: 0, address, from: 'socket', role })
const xff = (hop: number, address: string, role: Hop['role']): Hop => ({ hop, address, from: 'X-Forwarded-For', role })
const base: VerdictInput = { peer: '127.0.0.2', trusted: true, hops: [], headers: {}, trust: undefined, peers: undefined, forwarded: false, notices: 0, prefix: '' }

interface Row {
  name: string
  input: Partial<VerdictInput>
  verdict: 'ok' | 'misconfigured' | 'spoofable'
  reason: RegExp
  options: Record<string, unknown>
  flags: string
  codes: string[]
}

const rows: Row[] = [
  {
    name: 'a trusted nginx in front',
    input: { trust: ['127.0.0.2'], hops: [socket('127.0.0.2', 'trusted proxy'), xff(1, '203.0.113.9', 'client')], headers: { 'x-forwarded-for': '203.0.113.9' } },
    verdict: 'ok',
    reason: /trusted proxy/,
    options: { trust: ['127.0.0.2'] },
    flags: '--trust 127.0.0.2',
    codes: []
  },
  {
    name: 'a direct client without headers, serve\'s default trust',
    input: { peer: '198.51.100.1', trusted: false, trust: 'loopback,unix', hops: [socket('198.51.100.1', 'client')] },
    verdict: 'ok',
    reason: /No proxy is involved/,
    options: { trust: 'loopback,unix' },
    flags: '--trust loopback,unix',
    codes: []
  },
  {
    name: 'a public client forging X-Forwarded-For: ignored, as it should be',
    input: { peer: '198.51.100.1', trusted: false, hops: [socket('198.51.100.1', 'client'), xff(1, '6.6.6.6', 'ignored')], headers: { 'x-forwarded-for': '6.6.6.6' } },
    verdict: 'ok',
    reason: /public address that is not trusted/,
    options: {},
    flags: '',
    codes: []
  },
  {
    name: 'a forgotten nginx on loopback',
    input: { trusted: false, trust: '127.0.0.3', hops: [socket('127.0.0.2', 'client'), xff(1, '127.0.0.1', 'ignored')], headers: { 'x-forwarded-for': '127.0.0.1' } },
    verdict: 'misconfigured',
    reason: /127\.0\.0\.2, a local address that is not trusted/,
    options: { trust: ['127.0.0.3', '127.0.0.2'] },
    flags: '--trust 127.0.0.3,127.0.0.2',
    codes: ['FPF_W_FORGOTTEN_PROXY']
  },
  {
    name: 'a forgotten proxy the resolver noticed, trust given as a list that has it already',
    input: { peer: '10.0.0.7', trusted: false, trust: ['10.0.0.7'], notices: FORGOTTEN_PROXY, headers: {} },
    verdict: 'misconfigured',
    reason: /10\.0\.0\.7/,
    options: { trust: ['10.0.0.7'] },
    flags: '--trust 10.0.0.7',
    codes: ['FPF_W_FORGOTTEN_PROXY']
  },
  {
    name: 'a forgotten proxy over a Unix socket',
    input: { peer: null, trusted: false, trust: '127.0.0.1', headers: { 'x-forwarded-proto': 'https' } },
    verdict: 'misconfigured',
    reason: /unix/,
    options: { trust: ['127.0.0.1', 'unix'] },
    flags: '--trust 127.0.0.1,unix',
    codes: ['FPF_W_FORGOTTEN_PROXY']
  },
  {
    name: 'a forgotten proxy with a hop count: peers gains it',
    input: { trusted: false, trust: 1, peers: ['10.0.0.0/8'], headers: { 'x-forwarded-for': '1.2.3.4' } },
    verdict: 'misconfigured',
    reason: /not trusted/,
    options: { trust: 1, peers: ['10.0.0.0/8', '127.0.0.2'] },
    flags: '--trust 1 --peers 10.0.0.0/8,127.0.0.2',
    codes: ['FPF_W_FORGOTTEN_PROXY']
  },
  {
    name: 'both header families from a trusted proxy',
    input: { trust: 'loopback', headers: { forwarded: 'for=1.2.3.4', 'x-forwarded-for': '1.2.3.4' } },
    verdict: 'misconfigured',
    reason: /both Forwarded and X-Forwarded-For/,
    options: { trust: 'loopback' },
    flags: '--trust loopback',
    codes: ['FPF_W_BOTH_FAMILIES']
  },
  {
    name: 'both families, noticed by the resolver, with Forwarded read',
    input: { trust: 'loopback', forwarded: true, notices: BOTH_FAMILIES },
    verdict: 'misconfigured',
    reason: /only one family/,
    options: { trust: 'loopback', forwarded: true },
    flags: '--trust loopback --forwarded',
    codes: ['FPF_W_BOTH_FAMILIES']
  },
  {
    name: 'a lost prefix: X-Forwarded-Prefix arrives but is not read',
    input: { trust: ['127.0.0.2'], headers: { 'x-forwarded-prefix': '/app' } },
    verdict: 'misconfigured',
    reason: /X-Forwarded-Prefix \/app arrives but is not read/,
    options: { trust: ['127.0.0.2'], fields: ['for', 'proto', 'host', 'port', 'prefix'] },
    flags: '--trust 127.0.0.2 --fields for,proto,host,port,prefix',
    codes: ['FPF_W_LOST_PREFIX']
  },
  {
    name: 'a lost prefix with a hop count',
    input: { trust: 2, peers: 'loopback', headers: { 'x-forwarded-prefix': '/app' } },
    verdict: 'misconfigured',
    reason: /\/app/,
    options: { trust: 2, peers: 'loopback', hops: { prefix: 2 } },
    flags: '--trust 2 --peers loopback --hops prefix=2',
    codes: ['FPF_W_LOST_PREFIX']
  },
  {
    name: 'a prefix that was read is not lost',
    input: { trust: 'loopback', headers: { 'x-forwarded-prefix': '/app' }, prefix: '/app' },
    verdict: 'ok',
    reason: /trusted proxy/,
    options: { trust: 'loopback' },
    flags: '--trust loopback',
    codes: []
  },
  {
    name: 'trust: true',
    input: { trust: true, hops: [socket('127.0.0.2', 'trusted proxy'), xff(1, '6.6.6.6', 'client')], headers: { 'x-forwarded-for': '6.6.6.6' } },
    verdict: 'spoofable',
    reason: /trust: true/,
    options: { trust: ['127.0.0.2'] },
    flags: '--trust 127.0.0.2',
    codes: ['FPF_W_TRUST_ALL']
  },
  {
    name: 'trust: true, a Unix-socket peer, Forwarded read',
    input: { peer: null, trust: true, forwarded: true },
    verdict: 'spoofable',
    reason: /any client/,
    options: { trust: ['unix'], forwarded: true },
    flags: '--trust unix --forwarded',
    codes: ['FPF_W_TRUST_ALL']
  },
  {
    name: 'a hop count with peers: true',
    input: { trust: 1, peers: true },
    verdict: 'spoofable',
    reason: /peers: true/,
    options: { trust: 1, peers: ['127.0.0.2'] },
    flags: '--trust 1 --peers 127.0.0.2',
    codes: ['FPF_W_UNCHECKED_COUNT']
  },
  {
    name: 'trust too wide: the walk trusted every hop',
    input: { peer: null, trust: 'private,unix', notices: TRUST_TOO_WIDE, hops: [socket('unix socket', 'trusted proxy'), xff(1, '10.0.0.5', 'trusted proxy'), xff(2, '10.0.0.5', 'trusted proxy'), xff(3, '192.168.1.20', 'client')] },
    verdict: 'spoofable',
    reason: /leftmost entry/,
    options: { trust: ['unix', '10.0.0.5'] },
    flags: '--trust unix,10.0.0.5',
    codes: ['FPF_W_TRUST_TOO_WIDE']
  },
  {
    name: 'a peer that is no address at all is not local',
    input: { peer: 'not-an-ip', trusted: false, headers: { 'x-forwarded-for': '1.2.3.4' } },
    verdict: 'ok',
    reason: /public address/,
    options: {},
    flags: '',
    codes: []
  }
]

test('advise: verdict, reason, suggestion and warnings', async (t) => {
  for (const row of rows) {
    const advice = advise({ ...base, ...row.input })
    t.equal(advice.verdict, row.verdict, `${row.name}: verdict`)
    t.match(advice.reason, row.reason, `${row.name}: reason`)
    t.strictSame(advice.suggestion.options, row.options, `${row.name}: options`)
    t.equal(advice.suggestion.flags, row.flags, `${row.name}: flags`)
    t.strictSame(advice.warnings.map((w) => w.code), row.codes, `${row.name}: warnings`)
    t.notMatch(advice.reason, /\n/, `${row.name}: one sentence`)
  }
})

test('advise: several warnings at once, the worst verdict wins', async (t) => {
  const advice = advise({ ...base, trust: true, notices: BOTH_FAMILIES | TRUST_TOO_WIDE, headers: { 'x-forwarded-prefix': '/p' } })
  t.equal(advice.verdict, 'spoofable')
  t.strictSame(advice.warnings.map((w) => w.code), ['FPF_W_TRUST_ALL', 'FPF_W_TRUST_TOO_WIDE', 'FPF_W_BOTH_FAMILIES', 'FPF_W_LOST_PREFIX'])
  t.equal(advice.lostPrefix, '/p')
  t.match(advice.warnings[0].message, 'list the proxies')
})

test('listOf', async (t) => {
  t.strictSame(listOf(' a, b ,,c'), ['a', 'b', 'c'])
  t.strictSame(listOf(['x', 1]), ['x', '1'])
  t.strictSame(listOf(undefined), [])
  t.strictSame(listOf(3), [])
})
