// The one-pass IPv4 readers of the hot path against the behaviour they replaced: parseIPv4
// (ip.ts), quadBefore (fast-path.ts, an X-Forwarded-For element read from the right) and a list
// trust's testV4 (trust.ts). The oracle is the previous code, kept here verbatim: a faster reader
// must accept, refuse and trust exactly what it did.
import { test } from 'tap'
import { parseIPv4, parseIp } from '../lib/core/ip'
import { lastQuad, quadBefore } from '../lib/core/fast-path'
import { isOws, MAX_ELEMENT } from '../lib/core/list'
import { compileList, TRUST_ALL } from '../lib/core/trust'

const { mulberry32: rng } = require('./prng') as { mulberry32: (seed: number) => () => number }

/** parseIPv4 as it was before the one-pass rewrite. */
function oldParseIPv4 (s: string, start: number, end: number): number {
  let value = 0
  let octets = 0
  let i = start
  while (i < end) {
    const first = i
    let octet = 0
    while (i < end) {
      const c = s.charCodeAt(i)
      if (c < 48 || c > 57) break
      octet = octet * 10 + (c - 48)
      i++
    }
    const len = i - first
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && s.charCodeAt(first) === 48)) return -1
    value = value * 256 + octet
    octets++
    if (i === end) break
    if (s.charCodeAt(i) !== 46 || octets === 4) return -1
    i++
    if (i === end) return -1
  }
  return octets === 4 ? value : -1
}

/** The walk's element ending at `at`, read the general way (RightCursor.next), then parsed. */
function oldElement (value: string, at: number): { v4: number, start: number, end: number, comma: number } | null {
  const comma = value.lastIndexOf(',', at - 1)
  let s = comma + 1
  let e = at
  if (e - s > MAX_ELEMENT) return null
  while (s < e && isOws(value.charCodeAt(s))) s++
  while (e > s && isOws(value.charCodeAt(e - 1))) e--
  if (e === s) return null
  const v4 = oldParseIPv4(value, s, e)
  return v4 === -1 ? null : { v4, start: s, end: e, comma }
}

const EDGES = [
  '0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.1', '100.0.0.0', '0.10.100.200', '199.249.250.255',
  // leading zeros
  '01.2.3.4', '1.02.3.4', '1.2.03.4', '1.2.3.04', '00.0.0.0', '0.0.0.00', '1.2.3.004', '0177.0.0.1', '1.2.3.0004',
  // out of range, too many digits
  '256.0.0.0', '1.256.0.0', '1.2.256.0', '1.2.3.256', '999.1.1.1', '1.2.3.999', '1000.1.1.1', '1.2.3.1000', '1111.2.3.4',
  // empty octets, short and long forms
  '.1.2.3', '1..2.3', '1.2..3', '1.2.3.', '...', '.', '', '1', '1.2', '1.2.3', '127.1', '1.2.3.4.', '.1.2.3.4', '1.2.3.4.5', '1.2.3.4.5.6.7.8',
  // whitespace and other characters inside or around
  ' 1.2.3.4', '1.2.3.4 ', '\t1.2.3.4', '1.2 .3.4', '1.2.3.4\r', '1.2.3.4\n', '1.2.3.4\u00a0', '\u00a01.2.3.4', '1,2,3,4', 'a.b.c.d',
  '1.2.3.-1', '1.2.3.+1', '0x7f.0.0.1', '\uff11.2.3.4', '1.2.3.4/8', '1.2.3.4:80', '[1.2.3.4]', '"1.2.3.4"', '1.2.3.4%eth0',
  // IPv4-mapped and embedded IPv6 forms are not dotted quads
  '::ffff:1.2.3.4', '::1.2.3.4', 'ffff:1.2.3.4', ':1.2.3.4', '::ffff:10.0.0.1',
  // huge values
  '9'.repeat(400) + '.1.1.1', '1.2.3.' + '9'.repeat(400), '1.2.3.' + '0'.repeat(400), '1.'.repeat(5000) + '1', '1.2.3.4'.repeat(1000)
]

test('parseIPv4: the same verdict and value as before on edge cases', async (t) => {
  for (const s of EDGES) t.equal(parseIPv4(s, 0, s.length), oldParseIPv4(s, 0, s.length), JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s))
  t.equal(parseIPv4('255.255.255.255', 0, 15), 4294967295, 'unsigned, never -1')
  t.equal(parseIPv4('x1.2.3.4y', 1, 8), 16909060, 'reads only its range')
  t.equal(parseIPv4('1.2.3.4', 3, 3), -1, 'empty range')
})

/** Random strings over the characters that matter, each read at random ranges. */
function randomDotted (rand: () => number): string {
  const pieces = ['0', '00', '01', '1', '9', '10', '25', '99', '100', '199', '249', '250', '255', '256', '300', '999', '1000', '007', '',
    '.', '..', ' ', '\t', ',', ':', 'a', 'ffff', '::', '\u00a0']
  const n = rand() < 0.6 ? 4 : 1 + Math.floor(rand() * 8)
  let s = ''
  for (let j = 0; j < n; j++) {
    if (j > 0) s += rand() < 0.9 ? '.' : pieces[Math.floor(rand() * pieces.length)]
    s += rand() < 0.6 ? String(Math.floor(rand() * 300)) : pieces[Math.floor(rand() * pieces.length)]
  }
  return s
}

test('parseIPv4: the same as before on random dotted strings and ranges', async (t) => {
  const rand = rng(1616)
  let valid = 0
  let mismatches = 0
  for (let k = 0; k < 40000; k++) {
    const s = randomDotted(rand)
    const a = Math.floor(rand() * (s.length + 1))
    const b = a + Math.floor(rand() * (s.length - a + 1))
    for (const [start, end] of [[0, s.length], [a, b]]) {
      const ours = parseIPv4(s, start, end)
      if (ours !== oldParseIPv4(s, start, end)) {
        mismatches++
        t.fail(`${JSON.stringify(s)} [${start}, ${end})`)
      }
      if (ours !== -1) valid++
    }
  }
  t.equal(mismatches, 0)
  t.ok(valid > 2000, `the sample holds valid quads: ${valid}`)
})

test('parseIPv4: every quad of small octets, and each one-character change of them', async (t) => {
  const octets = ['0', '1', '9', '10', '99', '100', '255', '256', '00', '01']
  let mismatches = 0
  for (const a of octets) {
    for (const b of octets) {
      for (const c of ['0', '255', '01']) {
        for (const d of octets) {
          const s = `${a}.${b}.${c}.${d}`
          if (parseIPv4(s, 0, s.length) !== oldParseIPv4(s, 0, s.length)) mismatches++
          for (let i = 0; i < s.length; i++) {
            for (const ch of ['.', '0', '5', ' ', 'x', '']) {
              const m = s.slice(0, i) + ch + s.slice(i + 1)
              if (parseIPv4(m, 0, m.length) !== oldParseIPv4(m, 0, m.length)) mismatches++
            }
          }
        }
      }
    }
  }
  t.equal(mismatches, 0)
})

test('quadBefore: table', async (t) => {
  const table: Array<[string, number, number, [number, number, number] | null]> = [
    ['1.2.3.4', 7, 16909060, [0, 7, -1]],
    ['0.0.0.0', 7, 0, [0, 7, -1]],
    ['255.255.255.255', 15, 4294967295, [0, 15, -1]],
    ['100.0.0.0', 9, 1677721600, [0, 9, -1]],
    ['x, 1.2.3.4', 10, 16909060, [3, 10, 1]],
    ['x,1.2.3.4', 9, 16909060, [2, 9, 1]],
    ['1.2.3.4, 5.6.7.8', 7, 16909060, [0, 7, -1]],
    ['1.2.3.4, 5.6.7.8', 16, 84281096, [9, 16, 7]],
    [' \t1.2.3.4 \t', 11, 16909060, [2, 9, -1]],
    ['a,' + ' '.repeat(8) + '1.2.3.4' + ' '.repeat(8), 25, 16909060, [10, 17, 1]],
    // more OWS than a proxy writes: left to the general walk, which gives the same answer
    [' '.repeat(9) + '1.2.3.4', 16, -1, null],
    ['1.2.3.4' + ' '.repeat(9), 16, -1, null],
    ['1.2.3.4' + '\t'.repeat(9), 16, -1, null],
    ['', 0, -1, null],
    [',', 1, -1, null],
    [' , ', 3, -1, null],
    ['01.2.3.4', 8, -1, null],
    ['1.2.3.04', 8, -1, null],
    ['1.2.3.00', 8, -1, null],
    ['1.2.3.256', 9, -1, null],
    ['256.2.3.4', 9, -1, null],
    ['1.2.3.1000', 10, -1, null],
    ['1000.2.3.4', 10, -1, null],
    ['1..2.3', 6, -1, null],
    ['.1.2.3', 6, -1, null],
    ['1.2.3.', 6, -1, null],
    ['1.2.3.4.', 8, -1, null],
    ['.1.2.3.4', 8, -1, null],
    ['1.2.3.4.5', 9, -1, null],
    ['1.2.3', 5, -1, null],
    ['127.1', 5, -1, null],
    ['1.2.3.4 5.6.7.8', 15, -1, null],
    ['x1.2.3.4', 8, -1, null],
    [';1.2.3.4', 8, -1, null],
    ['::ffff:1.2.3.4', 14, -1, null],
    ['[1.2.3.4]', 9, -1, null],
    ['1.2.3.4:80', 10, -1, null],
    ['1.2.3.4\r', 8, -1, null],
    ['\r1.2.3.4', 8, -1, null],
    ['1.2.3.4\u00a0', 8, -1, null],
    ['\uff11.2.3.4', 7, -1, null],
    ['9'.repeat(400) + '.1.1.1', 406, -1, null],
    ['1.2.3.' + '9'.repeat(400), 406, -1, null],
    ['1.'.repeat(5000) + '1', 10001, -1, null],
    [' '.repeat(16384), 16384, -1, null]
  ]
  for (const [value, at, expected, bounds] of table) {
    const label = JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value) + ` at ${at}`
    t.equal(quadBefore(value, at), expected, label)
    if (bounds !== null) t.same(lastQuad(), bounds, label + ' bounds')
    const old = oldElement(value, at)
    if (expected !== -1) t.same(old, { v4: expected, start: bounds?.[0], end: bounds?.[1], comma: bounds?.[2] }, label + ': as the general walk reads it')
  }
  t.ok(2 * 8 + 15 < MAX_ELEMENT, 'an element quadBefore accepts is never long enough to be left untrimmed')
})

test('quadBefore: the general walk\'s element and value, at every position of random lists', async (t) => {
  const rand = rng(7239)
  const nodes = [...EDGES.filter((s) => s.length < 40), '10.0.0.1', '203.0.113.7', '198.51.100.9', 'unknown', '_obf', '[::1]:80', '']
  const ows = ['', ' ', '\t', '  ', ' \t ', ' '.repeat(8), '\t'.repeat(8), ' '.repeat(9), ' '.repeat(12)]
  let mismatches = 0
  let quads = 0
  for (let k = 0; k < 4000; k++) {
    const n = 1 + Math.floor(rand() * 6)
    const parts: string[] = []
    for (let j = 0; j < n; j++) {
      const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]
      parts.push(pick(ows) + (rand() < 0.3 ? randomDotted(rand) : pick(nodes)) + pick(ows))
    }
    const value = parts.join(rand() < 0.8 ? ',' : ', ')
    for (let at = 0; at <= value.length; at++) {
      const got = quadBefore(value, at)
      const old = oldElement(value, at)
      if (got !== -1) {
        quads++
        const [start, end, comma] = lastQuad()
        if (old === null || old.v4 !== got || old.start !== start || old.end !== end || old.comma !== comma) {
          mismatches++
          t.fail(`${JSON.stringify(value)} at ${at}: ${got} [${start}, ${end}) after ${comma}, the walk reads ${JSON.stringify(old)}`)
        }
      } else if (old !== null && old.start - old.comma - 1 <= 8 && at - old.end <= 8) {
        // a quad with a proxy's OWS is always taken in one pass: the fast path is not skipped
        mismatches++
        t.fail(`${JSON.stringify(value)} at ${at}: missed ${JSON.stringify(old)}`)
      }
    }
  }
  t.equal(mismatches, 0)
  t.ok(quads > 5000, `quads read: ${quads}`)
})

test('testV4: the same trust verdict as test() on the parsed address', async (t) => {
  const lists: Array<string | string[]> = [
    ['0.0.0.0/0'],
    ['10.0.0.0/8'],
    ['10.0.0.0/32'],
    ['10.0.0.0/31'],
    ['10.0.0.7/29'],
    ['128.0.0.0/1'],
    ['0.0.0.0/1'],
    ['255.255.255.255/32', '0.0.0.0/32'],
    ['10.1.0.0/255.255.0.0'],
    ['::ffff:10.0.0.0/104'],
    ['::ffff:0:0/96'],
    ['::ffff:10.0.0.1'],
    ['::/0'],
    ['fd00::/8', '127.0.0.1'],
    ['unix'],
    'private',
    'loopback, 203.0.113.0/24'
  ]
  const addresses = ['0.0.0.0', '0.0.0.1', '9.255.255.255', '10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.7', '10.0.0.8', '10.0.0.255',
    '10.0.1.0', '10.1.0.0', '10.1.255.255', '10.2.0.0', '10.255.255.255', '11.0.0.0', '127.0.0.1', '127.0.0.2', '127.255.255.255',
    '128.0.0.0', '172.16.0.1', '192.168.1.1', '203.0.113.0', '203.0.113.255', '203.0.114.0', '255.255.255.254', '255.255.255.255']
  const rand = rng(104)
  for (let k = 0; k < 200; k++) addresses.push([0, 0, 0, 0].map(() => Math.floor(rand() * 256)).join('.'))
  let checked = 0
  for (const list of lists) {
    const trust = compileList(list)
    const testV4 = trust.testV4 as (v4: number) => boolean
    for (const a of addresses) {
      const ip = parseIp(a)
      if (ip === null) throw new Error(a)
      const mapped = parseIp('::ffff:' + a)
      t.equal(testV4(ip.v4), trust.test(ip, 0), `${JSON.stringify(list)} ${a}`)
      // an IPv4-mapped address is matched as its IPv4 address, as before
      t.equal(trust.test(mapped, 0), trust.test(ip, 0), `${JSON.stringify(list)} ::ffff:${a}`)
      checked++
    }
  }
  t.equal(checked, lists.length * addresses.length)
  const verdicts: Array<[string | string[], string, boolean]> = [
    [['0.0.0.0/0'], '255.255.255.255', true],
    [['10.0.0.0/32'], '10.0.0.1', false],
    [['10.0.0.0/31'], '10.0.0.1', true],
    [['10.0.0.0/31'], '10.0.0.2', false],
    [['128.0.0.0/1'], '127.255.255.255', false],
    [['128.0.0.0/1'], '255.255.255.255', true],
    [['::ffff:10.0.0.0/104'], '10.255.255.255', true],
    [['::ffff:10.0.0.0/104'], '11.0.0.0', false],
    [['::/0'], '10.0.0.1', false],
    [['unix'], '10.0.0.1', false]
  ]
  for (const [list, a, expected] of verdicts) t.equal((compileList(list).testV4 as (v4: number) => boolean)(parseIPv4(a, 0, a.length)), expected, `${JSON.stringify(list)} ${a}`)
  t.equal((TRUST_ALL.testV4 as (v4: number) => boolean)(0), true, 'trust all')
})
