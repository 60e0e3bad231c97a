import { test } from 'tap'
import { parseIp, type Ip } from '../lib/core/ip'
import { compileList, compileFunction, compileCount, TRUST_OFF, TRUST_ALL, TrustError, type Trust } from '../lib/core/trust'

function ip (s: string): Ip {
  const parsed = parseIp(s)
  if (parsed === null) throw new Error('test address does not parse: ' + s)
  return parsed
}

type T = Parameters<Parameters<typeof test>[0]>[0]

// Each row: a trust list, then peers with the expected answer ('unix' stands for a Unix socket).
type Row = [string | string[], Array<[string, boolean]>]

function check (t: T, table: Row[]): void {
  for (const [list, peers] of table) {
    const trust = compileList(list)
    t.equal(trust.kind, 'list', `${JSON.stringify(list)} kind`)
    t.equal(trust.count, 0, `${JSON.stringify(list)} count`)
    for (const [peer, expected] of peers) {
      t.equal(trust.test(peer === 'unix' ? null : ip(peer), 0), expected, `${JSON.stringify(list)} ${peer}`)
    }
  }
}

test('compileList: single addresses', async (t) => {
  check(t, [
    ['127.0.0.1', [['127.0.0.1', true], ['127.0.0.2', false], ['::ffff:127.0.0.1', true], ['::1', false], ['unix', false]]],
    ['10.1.2.3', [['10.1.2.3', true], ['10.1.2.4', false], ['::ffff:a01:203', true], ['::a01:203', false]]],
    ['255.255.255.255', [['255.255.255.255', true], ['255.255.255.254', false], ['::ffff:255.255.255.255', true], ['0.0.0.0', false]]],
    ['0.0.0.0', [['0.0.0.0', true], ['0.0.0.1', false], ['::', false]]],
    ['::1', [['::1', true], ['0:0:0:0:0:0:0:1', true], ['::2', false], ['127.0.0.1', false], ['unix', false]]],
    ['2001:DB8::1', [['2001:db8::1', true], ['2001:db8::2', false]]],
    ['::ffff:10.0.0.1', [['10.0.0.1', true], ['::ffff:10.0.0.1', true], ['10.0.0.2', false], ['::a00:1', false]]]
  ])
})

test('compileList: IPv4 CIDR and netmask', async (t) => {
  check(t, [
    ['10.0.0.0/8', [['10.0.0.0', true], ['10.255.255.255', true], ['11.0.0.0', false], ['9.255.255.255', false], ['::ffff:10.1.2.3', true], ['::a01:203', false]]],
    ['10.0.0.0/255.0.0.0', [['10.0.0.0', true], ['10.255.255.255', true], ['11.0.0.0', false], ['::ffff:10.1.2.3', true]]],
    ['192.168.1.0/24', [['192.168.1.0', true], ['192.168.1.255', true], ['192.168.2.0', false], ['192.168.0.255', false]]],
    ['192.168.1.0/255.255.255.0', [['192.168.1.77', true], ['192.168.2.0', false]]],
    ['172.16.0.0/255.240.0.0', [['172.31.255.255', true], ['172.32.0.0', false], ['172.15.255.255', false]]],
    ['10.1.2.3/32', [['10.1.2.3', true], ['10.1.2.2', false]]],
    ['10.1.2.3/255.255.255.255', [['10.1.2.3', true], ['10.1.2.2', false], ['10.1.2.4', false]]],
    ['10.1.2.3/8', [['10.200.0.1', true], ['11.0.0.0', false]]], // host bits in the base are masked
    ['128.0.0.0/1', [['255.255.255.255', true], ['128.0.0.0', true], ['127.255.255.255', false]]],
    ['0.0.0.0/1', [['127.255.255.255', true], ['128.0.0.0', false]]],
    ['0.0.0.0/0', [['1.2.3.4', true], ['255.255.255.255', true], ['::ffff:1.2.3.4', true], ['::1', false], ['2001:db8::1', false], ['unix', false]]],
    ['0.0.0.0/0.0.0.0', [['1.2.3.4', true], ['::1', false]]],
    ['1.2.3.4/0', [['200.1.1.1', true], ['::2', false]]],
    ['10.0.0.0/08', [['10.9.9.9', true], ['11.0.0.0', false]]]
  ])
})

test('compileList: IPv6 CIDR', async (t) => {
  check(t, [
    ['2001:db8::/32', [['2001:db8::1', true], ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true], ['2001:db9::', false], ['2001:db7:ffff::', false], ['1.2.3.4', false]]],
    ['2001:db8::/33', [['2001:db8:7fff::1', true], ['2001:db8:8000::', false]]],
    ['2001:db8:8000::/33', [['2001:db8:8000::1', true], ['2001:db8:ffff::', true], ['2001:db8:7fff::', false]]],
    ['2001:db8::1/128', [['2001:db8::1', true], ['2001:db8::2', false], ['2001:db8::', false]]],
    ['2001:db8::ff/127', [['2001:db8::fe', true], ['2001:db8::ff', true], ['2001:db8::fd', false], ['2001:db8::100', false]]],
    ['2001:db8::1:2:3/64', [['2001:db8::ffff', true], ['2001:db8:0:1::', false]]], // host bits masked
    ['fe80::/10', [['fe80::1', true], ['febf:ffff::1', true], ['fec0::1', false], ['fe7f::1', false]]],
    ['fc00::/7', [['fc00::1', true], ['fdff::1', true], ['fe00::1', false], ['fbff::1', false]]],
    ['8000::/1', [['ffff::', true], ['7fff::', false]]],
    // ::/0 is all of IPv6 but, as in proxy-addr, never IPv4 or IPv4-mapped peers
    ['::/0', [['::1', true], ['2001:db8::1', true], ['::', true], ['1.2.3.4', false], ['::ffff:1.2.3.4', false], ['unix', false]]],
    ['::/64', [['::1', true], ['::1:2:3:4', true], ['0:0:0:1::', false], ['::ffff:10.0.0.1', false], ['10.0.0.1', false]]]
  ])
})

test('compileList: IPv4-mapped ranges', async (t) => {
  check(t, [
    // a mapped range is the IPv4 range it maps
    ['::ffff:10.0.0.0/104', [['10.1.2.3', true], ['::ffff:10.1.2.3', true], ['11.0.0.0', false], ['::ffff:11.0.0.0', false], ['::a01:203', false]]],
    ['::ffff:0:0/96', [['1.2.3.4', true], ['255.255.255.255', true], ['::ffff:1.2.3.4', true], ['::1', false], ['::1.2.3.4', false]]],
    ['::ffff:10.1.2.3/128', [['10.1.2.3', true], ['10.1.2.4', false]]],
    ['::FFFF:127.0.0.1/120', [['127.0.0.200', true], ['127.0.1.0', false]]],
    // below /96 the range spans more than the mapped block: it is a plain IPv6 range
    ['::ffff:0:0/95', [['::fffe:1:1', true], ['::ffff:1.2.3.4', false], ['1.2.3.4', false], ['::fffd:ffff:ffff', false]]]
  ])
})

test('compileList: named ranges, unix and list syntax', async (t) => {
  check(t, [
    ['loopback', [['127.0.0.1', true], ['127.255.255.254', true], ['::1', true], ['::ffff:127.0.0.1', true], ['128.0.0.1', false], ['126.255.255.255', false], ['::2', false], ['unix', false]]],
    ['linklocal', [['169.254.1.1', true], ['169.255.0.1', false], ['fe80::1', true], ['fec0::1', false], ['::ffff:169.254.0.1', true]]],
    ['uniquelocal', [['10.1.1.1', true], ['172.16.0.1', true], ['172.31.255.255', true], ['172.32.0.0', false], ['192.168.0.1', true], ['192.169.0.1', false], ['fc00::1', true], ['fdff::1', true], ['fe00::1', false], ['11.0.0.0', false]]],
    ['LoopBack', [['127.0.0.1', true], ['::1', true]]],
    ['UNIQUELOCAL', [['10.0.0.1', true]]],
    ['  loopback\t', [['127.0.0.1', true]]],
    ['unix', [['unix', true], ['127.0.0.1', false], ['::1', false]]],
    ['UNIX', [['unix', true]]],
    ['loopback, unix', [['unix', true], ['127.0.0.1', true], ['10.0.0.1', false]]],
    ['loopback, 10.0.0.0/8', [['127.0.0.1', true], ['10.2.3.4', true], ['192.168.0.1', false]]],
    [['loopback', '10.0.0.0/8'], [['127.0.0.1', true], ['10.2.3.4', true], ['192.168.0.1', false]]],
    [[' loopback ', ' ', '', '10.0.0.0/8 '], [['127.0.0.1', true], ['10.2.3.4', true], ['192.168.0.1', false]]],
    ['loopback,,', [['127.0.0.1', true], ['10.0.0.1', false]]],
    [', 10.0.0.1 ,', [['10.0.0.1', true], ['10.0.0.2', false]]],
    ['10.0.0.1,2001:db8::/32,uniquelocal', [['10.0.0.1', true], ['2001:db8::5', true], ['fd00::1', true], ['192.168.5.5', true], ['8.8.8.8', false]]],
    [['unix'], [['unix', true], ['1.2.3.4', false]]]
  ])
})

test('compileList: invalid entries throw TrustError naming the entry', async (t) => {
  const IP = 'is not an IP address, CIDR range or known name'
  const PREFIX = 'has an invalid prefix length or netmask'
  const table: Array<[unknown, string, string]> = [
    ['10.0.0.300', '10.0.0.300', IP],
    ['127.1', '127.1', IP],
    ['0177.0.0.1', '0177.0.0.1', IP],
    ['foo', 'foo', IP],
    ['loopback, foo', 'foo', IP],
    [['10.0.0.1', ' bogus '], 'bogus', IP],
    ['localhost', 'localhost', IP],
    ['fe80::1%eth0', 'fe80::1%eth0', IP], // zones are refused
    ['fe80::%eth0/10', 'fe80::%eth0/10', IP],
    ['10.0.0.0/33', '10.0.0.0/33', PREFIX],
    ['::1/129', '::1/129', PREFIX],
    ['10.0.0.0/', '10.0.0.0/', PREFIX],
    ['10.0.0.0/-1', '10.0.0.0/-1', PREFIX],
    ['10.0.0.0/1000', '10.0.0.0/1000', PREFIX],
    ['10.0.0.0/abc', '10.0.0.0/abc', PREFIX],
    ['10.0.0.0/8/8', '10.0.0.0/8/8', PREFIX],
    ['10.0.0.0/255.0.255.0', '10.0.0.0/255.0.255.0', PREFIX], // non-contiguous mask
    ['10.0.0.0/0.0.0.255', '10.0.0.0/0.0.0.255', PREFIX],
    ['10.0.0.0/255.255.255.256', '10.0.0.0/255.255.255.256', PREFIX],
    ['2001:db8::/ffff:ffff::', '2001:db8::/ffff:ffff::', PREFIX], // no IPv6 netmasks
    ['/8', '/8', IP],
    ['', '', 'names no address'],
    [' , ,', ' , ,', 'names no address'],
    [[], '', 'names no address'],
    [['', ' '], ', ', 'names no address'],
    [['loopback', 5], '5', 'is not a string'],
    [[null], 'null', 'is not a string'],
    [[undefined], 'undefined', 'is not a string']
  ]
  for (const [input, entry, message] of table) {
    let caught: unknown = null
    try {
      compileList(input as string[])
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof TrustError, `${JSON.stringify(input)} throws TrustError`)
    t.ok(caught instanceof Error, `${JSON.stringify(input)} throws an Error`)
    t.equal((caught as TrustError).entry, entry, `${JSON.stringify(input)} entry`)
    t.equal((caught as TrustError).message, message, `${JSON.stringify(input)} message`)
  }
})

test('compileFunction', async (t) => {
  const calls: Array<[string, number]> = []
  const trust = compileFunction((address, hop) => {
    calls.push([address, hop])
    return address === '127.0.0.1' || address === 'unix'
  })
  t.equal(trust.kind, 'function')
  t.equal(trust.count, 0)
  t.equal(trust.test(ip('::FFFF:127.0.0.1'), 3), false, 'mapped text is not the IPv4 text')
  t.equal(trust.test(ip('127.0.0.1'), 0), true)
  t.equal(trust.test(null, 1), true)
  t.equal(trust.test(ip('2001:0DB8::0001'), 2), false)
  t.same(calls, [['::ffff:127.0.0.1', 3], ['127.0.0.1', 0], ['unix', 1], ['2001:db8::1', 2]], 'receives canonical text and the hop')

  const results: Array<[unknown, boolean]> = [
    [true, true],
    [false, false],
    // truthy trusts, as in proxy-addr and Express
    [1, true],
    ['true', true],
    [{}, true],
    [0, false],
    ['', false],
    [null, false],
    [undefined, false]
  ]
  for (const [returned, expected] of results) {
    const fn = compileFunction(() => returned as boolean)
    t.equal(fn.test(ip('1.2.3.4'), 0), expected, `returning ${JSON.stringify(returned)}`)
  }

  const throwing = compileFunction(() => { throw new Error('boom') })
  t.equal(throwing.test(ip('1.2.3.4'), 0), false, 'a throwing function fails closed')
  t.equal(throwing.test(null, 0), false, 'also for a Unix socket')
})

test('compileCount, TRUST_OFF and TRUST_ALL', async (t) => {
  const table: Array<[Trust, string, number, boolean]> = [
    [compileCount(2), 'count', 2, true],
    [compileCount(0), 'count', 0, true],
    [TRUST_OFF, 'off', 0, false],
    [TRUST_ALL, 'all', 0, true]
  ]
  for (const [trust, kind, count, answer] of table) {
    t.equal(trust.kind, kind, kind)
    t.equal(trust.count, count, kind + ' count')
    t.equal(trust.test(ip('8.8.8.8'), 0), answer, kind + ' IPv4')
    t.equal(trust.test(ip('2001:db8::1'), 5), answer, kind + ' IPv6')
    t.equal(trust.test(null, 1), answer, kind + ' unix')
  }
})

test('private: loopback, link-local, unique-local and carrier-grade NAT', async (t) => {
  const trust = compileList('private')
  for (const a of ['127.0.0.1', '::1', '169.254.1.1', 'fe80::1', '10.1.1.1', '172.16.0.1', '192.168.1.1', 'fd00::1', '100.64.0.1', '100.127.255.255']) t.ok(trust.test(ip(a), 0), a)
  for (const a of ['100.63.255.255', '100.128.0.0', '8.8.8.8', '2001:db8::1']) t.notOk(trust.test(ip(a), 0), a)
  t.notOk(trust.test(null, 0), 'not unix')
})
