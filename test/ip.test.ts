import { test } from 'tap'
import { isIP, isIPv4 } from 'node:net'
import { parseIPv4, parseIPv6, parseIp, parseNode, UNKNOWN, formatIPv4, formatIPv6, MAX_NODE } from '../lib/core/ip'

// Seeded, so every run checks the same inputs.
const { mulberry32: rng } = require('./prng') as { mulberry32: (seed: number) => () => number }

const v4 = (s: string): number => parseIPv4(s, 0, s.length)
const v6 = (s: string): number[] | null => {
  const p = parseIPv6(s, 0, s.length)
  return p === null ? null : Array.from(p)
}

test('parseIPv4: canonical dotted quads', async (t) => {
  const table: Array<[string, number]> = [
    ['0.0.0.0', 0],
    ['255.255.255.255', 4294967295],
    ['127.0.0.1', 2130706433],
    ['1.2.3.4', 16909060],
    ['10.0.0.255', 167772415],
    ['192.168.1.1', 3232235777],
    ['128.0.0.0', 2147483648],
    ['255.0.0.0', 4278190080],
    ['0.0.0.255', 255],
    ['100.64.10.99', 1681918563]
  ]
  for (const [input, expected] of table) t.equal(v4(input), expected, input)
})

test('parseIPv4: rejected forms', async (t) => {
  const table: string[] = [
    '127.1', // short form (CVE-2024-29415)
    '0177.0.0.1', // octal
    '012.1.2.3',
    '0x7f.0.0.1', // hex
    '01.2.3.4',
    '00.0.0.0',
    '0.0.0.00',
    '1.2.3.0004',
    '1.2.3.256',
    '256.0.0.0',
    '1.2.3.999',
    '1111.2.3.4',
    '1.2.3.4.',
    '.1.2.3',
    '1..2.3',
    '1.2.3.',
    '1.2.3',
    '1',
    '',
    '.',
    '...',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2 .3.4',
    '1.2.3.4.5',
    '1,2,3,4',
    'a.b.c.d',
    '1.2.3.-1',
    '1.2.3.+1',
    '\uff11.2.3.4', // fullwidth digit one
    '1.2.3.4/8',
    '1.2.3.4:80',
    '9'.repeat(400) + '.1.1.1',
    '1.2.3.' + '9'.repeat(400),
    '1.2.3.' + '0'.repeat(400)
  ]
  for (const input of table) t.equal(v4(input), -1, JSON.stringify(input))
})

test('parseIPv4: reads only the given range', async (t) => {
  const table: Array<[string, number, number, number]> = [
    ['x1.2.3.4y', 1, 8, 16909060],
    ['1.2.3.4:80', 0, 7, 16909060],
    ['1.2.3.4:80', 0, 8, -1],
    ['1.2.3.45', 0, 7, 16909060],
    ['1.2.3.4', 0, 0, -1]
  ]
  for (const [s, start, end, expected] of table) t.equal(parseIPv4(s, start, end), expected, `${s} [${start}, ${end})`)
})

test('parseIPv4 agrees with net.isIPv4 on random dotted strings', async (t) => {
  const rand = rng(42)
  const pieces = ['0', '00', '01', '1', '9', '10', '99', '100', '199', '249', '250', '255', '256', '300', '999', '1000', '007', '', 'a', ' 1', '0x1']
  let checked = 0
  let valid = 0
  for (let k = 0; k < 600; k++) {
    const count = rand() < 0.8 ? 4 : 1 + Math.floor(rand() * 6)
    const octets: string[] = []
    for (let j = 0; j < count; j++) {
      octets.push(rand() < 0.6 ? String(Math.floor(rand() * 300)) : pieces[Math.floor(rand() * pieces.length)])
    }
    const s = octets.join('.')
    const ours = v4(s)
    t.equal(ours !== -1, isIPv4(s), JSON.stringify(s))
    if (ours !== -1) {
      valid++
      t.equal(formatIPv4(ours), s, 'round trip ' + s)
    }
    checked++
  }
  t.equal(checked, 600)
  t.ok(valid > 100, 'the sample holds enough valid addresses: ' + valid)
})

test('formatIPv4', async (t) => {
  const table: Array<[number, string]> = [
    [0, '0.0.0.0'],
    [4294967295, '255.255.255.255'],
    [2130706433, '127.0.0.1'],
    [16909060, '1.2.3.4'],
    [2147483648, '128.0.0.0']
  ]
  for (const [input, expected] of table) t.equal(formatIPv4(input), expected, expected)
})

test('parseIPv6: valid forms', async (t) => {
  const table: Array<[string, number[]]> = [
    ['2001:db8:0:0:0:0:2:1', [0x2001, 0xdb8, 0, 0, 0, 0, 2, 1]],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', [0x2001, 0xdb8, 0, 0, 0, 0, 2, 1]],
    ['2001:DB8:AbCd:EF01:2:3:4:5', [0x2001, 0xdb8, 0xabcd, 0xef01, 2, 3, 4, 5]],
    ['ffff:FFFF:fFfF:ffff:ffff:ffff:ffff:ffff', [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff]],
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['1::', [1, 0, 0, 0, 0, 0, 0, 0]],
    ['1::8', [1, 0, 0, 0, 0, 0, 0, 8]],
    ['2001:db8::2:1', [0x2001, 0xdb8, 0, 0, 0, 0, 2, 1]],
    ['1:2:3::6:7:8', [1, 2, 3, 0, 0, 6, 7, 8]],
    ['1:2:3:4:5:6:7::', [1, 2, 3, 4, 5, 6, 7, 0]],
    ['::2:3:4:5:6:7:8', [0, 2, 3, 4, 5, 6, 7, 8]],
    ['1:2:3:4:5:6::8', [1, 2, 3, 4, 5, 6, 0, 8]],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]],
    ['::FFFF:255.255.255.255', [0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff]],
    ['64:ff9b::1.2.3.4', [0x64, 0xff9b, 0, 0, 0, 0, 0x102, 0x304]],
    ['::1.2.3.4', [0, 0, 0, 0, 0, 0, 0x102, 0x304]],
    ['1:2:3:4:5:6:1.2.3.4', [1, 2, 3, 4, 5, 6, 0x102, 0x304]],
    ['1:2:3:4:5::1.2.3.4', [1, 2, 3, 4, 5, 0, 0x102, 0x304]],
    ['fe80::', [0xfe80, 0, 0, 0, 0, 0, 0, 0]]
  ]
  for (const [input, expected] of table) t.same(v6(input), expected, input)
})

test('parseIPv6: rejected forms', async (t) => {
  const table: string[] = [
    '',
    ':',
    '1',
    ':::',
    '::::',
    ':1',
    ':1:2:3:4:5:6:7',
    '1:',
    '1:2',
    '1:2:3:4:5:6:7', // too few groups
    '1:2:3:4:5:6:7:8:9', // too many groups
    '1:2:3:4:5:6:7:8:', // trailing single colon
    '1:2:3:4:5:6:7:8::',
    '1::2:3:4:5:6:7:8', // a gap with eight groups
    '::1:2:3:4:5:6:7:8',
    '1::2::3', // two gaps
    '::1::',
    '1:::2',
    '12345::', // five-digit group
    '::00000',
    'g::',
    '::g',
    '::1 ',
    ' ::1',
    '[::1]',
    '::-1',
    'fe80::1%eth0', // parseIPv6 itself never takes a zone
    '1:2:3:4:5:6:7:1.2.3.4', // too many groups with IPv4
    '1:2:3:4:5:6:7::1.2.3.4',
    '::1.2.3',
    '::1.2.3.4.5',
    '::01.2.3.4',
    '::1.2.3.4:5', // IPv4 must come last
    '::ffff:1a.2.3.4',
    '1.2.3.4',
    '::ffff:256.1.1.1'
  ]
  for (const input of table) t.equal(v6(input), null, JSON.stringify(input))
})

test('parseIPv6: reads only the given range, never past its end', async (t) => {
  const table: Array<[string, number, number, number[] | null]> = [
    ['[::1]:80', 1, 4, [0, 0, 0, 0, 0, 0, 0, 1]],
    ['[2001:db8::1]', 1, 12, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    // "1:" followed by a ':' outside the range is not "1::"
    ['1::', 0, 2, null],
    ['x1:2::', 1, 5, null],
    ['1:2:3:4:5:6:7:8:', 0, 16, null],
    ['1:2:3:4:5:6:7:8:', 0, 15, [1, 2, 3, 4, 5, 6, 7, 8]]
  ]
  for (const [s, start, end, expected] of table) {
    const p = parseIPv6(s, start, end)
    t.same(p === null ? null : Array.from(p), expected, `${s} [${start}, ${end})`)
  }
})

test('parseIp: canonical text, v4 and v6', async (t) => {
  const table: Array<[string, string, number, number[] | null]> = [
    ['1.2.3.4', '1.2.3.4', 16909060, null],
    ['0.0.0.0', '0.0.0.0', 0, null],
    ['255.255.255.255', '255.255.255.255', 4294967295, null],
    ['::1', '::1', -1, [0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', '::', -1, [0, 0, 0, 0, 0, 0, 0, 0]],
    ['2001:DB8::1', '2001:db8::1', -1, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', 2130706433, [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ['::fFFf:127.0.0.1', '::ffff:127.0.0.1', 2130706433, [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ['::ffff:7f00:1', '::ffff:127.0.0.1', 2130706433, [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ['0:0:0:0:0:ffff:0a00:0001', '::ffff:10.0.0.1', 167772161, [0, 0, 0, 0, 0, 0xffff, 0xa00, 1]],
    ['::ffff:0:0', '::ffff:0.0.0.0', 0, [0, 0, 0, 0, 0, 0xffff, 0, 0]],
    ['::ffff:255.255.255.255', '::ffff:255.255.255.255', 4294967295, [0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff]],
    // not mapped: IPv4-compatible and NAT64 addresses are plain IPv6
    ['::1.2.3.4', '::102:304', -1, [0, 0, 0, 0, 0, 0, 0x102, 0x304]],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304', -1, [0x64, 0xff9b, 0, 0, 0, 0, 0x102, 0x304]],
    ['0:0:0:0:1:ffff:1.2.3.4', '::1:ffff:102:304', -1, [0, 0, 0, 0, 1, 0xffff, 0x102, 0x304]],
    ['fe80::1%eth0', 'fe80::1', -1, [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ['fe80::1%25', 'fe80::1', -1, [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ['::1%lo:0.a-B', '::1', -1, [0, 0, 0, 0, 0, 0, 0, 1]],
    ['::ffff:1.2.3.4%en0', '::ffff:1.2.3.4', 16909060, [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]]
  ]
  for (const [input, text, ipv4, hextets] of table) {
    const ip = parseIp(input)
    t.same(ip === null ? null : { text: ip.text, v4: ip.v4, v6: ip.v6 === null ? null : Array.from(ip.v6) }, { text, v4: ipv4, v6: hextets }, input)
  }
})

test('parseIp: RFC 5952 canonical text', async (t) => {
  const table: Array<[string, string]> = [
    ['2001:0DB8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // lowercase, no leading zeros
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['1:0:0:2:0:0:0:0', '1:0:0:2::'],
    ['0:0:1:0:0:0:1:0', '0:0:1::1:0'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['0:1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:0:0:0:0:0:0:1', '1::1'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['1:2:3:4:5:6:0:0', '1:2:3:4:5:6::'],
    ['0:0:3:4:5:6:7:8', '::3:4:5:6:7:8'],
    ['FE80::0001', 'fe80::1'],
    ['::FFFF:1.2.3.4', '::ffff:1.2.3.4'],
    ['0:0:0:0:0:FFFF:0102:0304', '::ffff:1.2.3.4'],
    ['abcd:ef01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789']
  ]
  for (const [input, expected] of table) t.equal(parseIp(input)?.text, expected, input)
})

test('parseIp: rejected input', async (t) => {
  const table: string[] = [
    '', '127.1', '0177.0.0.1', '0x7f.0.0.1', '1.2.3.256', 'localhost', 'unknown',
    'fe80::1%', // empty zone
    'fe80::1%eth 0', // zone with a space
    'fe80::1%eth0%1', // two zones
    'fe80::1%eth_0',
    '%eth0',
    '1.2.3.4%eth0', // IPv4 has no zone
    '[::1]', '::1:', '1::2::3', '::1/128', '1.2.3.4/32', '1.2.3.4:80'
  ]
  for (const input of table) t.equal(parseIp(input), null, JSON.stringify(input))
})

test('parseIp validity agrees with net.isIP', async (t) => {
  const table: string[] = [
    '1.2.3.4', '0.0.0.0', '255.255.255.255', '127.1', '0177.0.0.1', '0x7f.0.0.1', '01.2.3.4', '1.2.3.4.',
    '::', '::1', '1::', '1::8', '2001:db8::1', '2001:DB8::1', '2001:0db8:0:0:0:0:0:1', '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:',
    ':1:2:3:4:5:6:7:8', '::ffff:1.2.3.4', '::ffff:127.0.0.1', '64:ff9b::1.2.3.4', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '::01.2.3.4', '::1.2.3.4:5', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%25',
    'fe80::1%eth 0', 'fe80::1%eth0%1', 'fe80::1%lo:0', '1.2.3.4%eth0', ':::', ':', '', 'localhost', 'g::',
    '::ffff:255.255.255.255', '0:0:0:0:0:ffff:1.2.3.4', ' ::1', '::1 ', '[::1]', 'abcd::ef01:2345'
  ]
  for (const input of table) t.equal(parseIp(input) !== null, isIP(input) !== 0, JSON.stringify(input))
})

test('parseIp validity agrees with net.isIP on random strings', async (t) => {
  const rand = rng(7)
  const alphabet = ['0', '1', 'a', 'F', 'ffff', '00000', ':', ':', '::', '.', '1.2.3.4', '255', '256', '%', 'e', ' ']
  let agreed = 0
  let valid = 0
  for (let k = 0; k < 800; k++) {
    let s = ''
    const n = 1 + Math.floor(rand() * 12)
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)]
    const ours = parseIp(s) !== null
    if (ours) valid++
    if (ours === (isIP(s) !== 0)) agreed++
    else t.fail('disagrees with net.isIP: ' + JSON.stringify(s))
  }
  t.equal(agreed, 800)
  t.ok(valid > 20, 'the sample holds enough valid addresses: ' + valid)
})

test('formatIPv6: random addresses round-trip and match the WHATWG serialiser', async (t) => {
  const rand = rng(1234)
  let checked = 0
  for (let k = 0; k < 500; k++) {
    const p = new Uint16Array(8)
    for (let j = 0; j < 8; j++) p[j] = rand() < 0.45 ? 0 : rand() < 0.5 ? Math.floor(rand() * 16) : Math.floor(rand() * 65536)
    const text = formatIPv6(p)
    t.same(v6(text), Array.from(p), 'round trip ' + text)
    t.equal(text, text.toLowerCase(), 'lowercase ' + text)
    const mapped = p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0xffff
    if (mapped) {
      t.equal(text, '::ffff:' + formatIPv4(p[6] * 65536 + p[7]), 'mapped ' + text)
    } else {
      // The URL parser is only a formatting reference here, for addresses already known valid.
      t.equal('[' + text + ']', new URL('http://[' + text + ']/').hostname, 'RFC 5952 ' + text)
    }
    checked++
  }
  t.equal(checked, 500)
})

test('parseNode: addresses', async (t) => {
  const table: Array<[string, string, number]> = [
    ['1.2.3.4', '1.2.3.4', 16909060],
    ['1.2.3.4:5678', '1.2.3.4', 16909060],
    ['1.2.3.4:0', '1.2.3.4', 16909060],
    ['1.2.3.4:99999', '1.2.3.4', 16909060], // node-port is 1*5DIGIT
    ['1.2.3.4:_port', '1.2.3.4', 16909060],
    ['1.2.3.4:_x-Y.9_', '1.2.3.4', 16909060],
    ['[2001:db8::1]:443', '2001:db8::1', -1],
    ['[2001:DB8::1]', '2001:db8::1', -1],
    ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17', -1],
    ['[::1]:_obf', '::1', -1],
    ['[::ffff:1.2.3.4]:80', '::ffff:1.2.3.4', 16909060],
    ['[fe80::1%eth0]', 'fe80::1', -1],
    ['[fe80::1%eth0]:80', 'fe80::1', -1],
    ['2001:db8::1', '2001:db8::1', -1],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', -1],
    ['2001:db8::1:443', '2001:db8::1:443', -1], // unbracketed: the whole text is the address
    ['::', '::', -1],
    ['::1', '::1', -1],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', 2130706433],
    ['::FFFF:127.0.0.1', '::ffff:127.0.0.1', 2130706433],
    ['fe80::1%eth0', 'fe80::1', -1]
  ]
  for (const [input, text, ipv4] of table) {
    const node = parseNode(input)
    t.same(node === null || node === UNKNOWN ? node : { text: node.text, v4: node.v4 }, { text, v4: ipv4 }, input)
  }
  const mapped = parseNode('::ffff:127.0.0.1')
  t.same(mapped !== null && mapped !== UNKNOWN ? Array.from(mapped.v6 ?? []) : null, [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1])
  const plain = parseNode('1.2.3.4:80')
  t.equal(plain !== null && plain !== UNKNOWN ? plain.v6 : 'not an ip', null)
})

test('parseNode: RFC 7239 non-addresses', async (t) => {
  const table: string[] = ['unknown', 'UNKNOWN', 'Unknown', 'unknown:80', 'unknown:_p', '_hidden', '_obf:_port', '_a.b-c_9', '_x:80', '__']
  for (const input of table) t.equal(parseNode(input), UNKNOWN, input)
  t.equal(UNKNOWN, 'unknown')
})

test('parseNode: malformed', async (t) => {
  const table: string[] = [
    '',
    '_', // obfnode needs one character after "_"
    '_a!b',
    '_a b',
    'proxy',
    'proxy:80',
    'garbage here',
    'unknow',
    'unknownx',
    'unknown:',
    'unknown:x',
    '1.2.3',
    '127.1',
    '0177.0.0.1',
    '1.2.3.4:',
    '1.2.3.4:99999x',
    '1.2.3.4:123456',
    '1.2.3.4:_',
    '1.2.3.4:-1',
    '1.2.3.4%eth0',
    ':80',
    ':',
    '[1.2.3.4]', // only IPv6 goes in brackets
    '[1.2.3.4]:80',
    '[1.2.3.4%x]',
    '[]',
    '[::1',
    '[::1]:',
    '[::1]x',
    '[::1]]',
    '[::1]:80x',
    '[::1]:123456',
    '[fe80::1%]',
    '[fe80::1%eth0',
    '[::1:]',
    '[1::2::3]',
    '1::2::3',
    '2001:db8::g',
    '::1%'
  ]
  for (const input of table) t.equal(parseNode(input), null, JSON.stringify(input))
})

test('parseNode: a node longer than MAX_NODE is refused unread', async (t) => {
  t.equal(parseNode('_' + 'a'.repeat(MAX_NODE - 1)), UNKNOWN, 'an obfuscated identifier up to the bound')
  t.equal(parseNode('_' + 'a'.repeat(MAX_NODE)), null)
  t.equal(parseNode('1'.repeat(16 * 1024)), null)
})
