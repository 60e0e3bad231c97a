import { test } from 'tap'
import { createRequire } from 'node:module'
import { parseHost, splitHost, withPort, parsePort, parseProto, parsePrefix, type HostParts } from '../lib/core/field-values'

test('parseHost: valid hosts', async (t) => {
  const long = 'a'.repeat(253)
  const table: Array<[string, string, number | null]> = [
    ['example.com', 'example.com', null],
    ['example.com:8080', 'example.com', 8080],
    ['EXAMPLE.com', 'EXAMPLE.com', null],
    ['localhost:1', 'localhost', 1],
    ['a:65535', 'a', 65535],
    ['a:080', 'a', 80],
    ['under_score.example-dash.com', 'under_score.example-dash.com', null],
    ['xn--exmple-cua.com', 'xn--exmple-cua.com', null], // IDNs arrive as punycode
    ['example.com.', 'example.com.', null],
    ['1.2.3.4', '1.2.3.4', null],
    ['1.2.3.4:80', '1.2.3.4', 80],
    ['[::1]', '[::1]', null],
    ['[::1]:8080', '[::1]', 8080],
    ['[2001:DB8::1]:443', '[2001:DB8::1]', 443],
    ['[::ffff:1.2.3.4]', '[::ffff:1.2.3.4]', null],
    [long, long, null],
    [long + ':65535', long, 65535]
  ]
  for (const [input, hostname, port] of table) {
    t.same(parseHost(input), { host: input, hostname, port }, input.length > 40 ? `${input.length} chars` : input)
  }
})

test('parseHost: refused hosts', async (t) => {
  const table: string[] = [
    // userinfo (GHSA-7gcc-r8m5-44qm)
    'good.com@evil.com',
    'good.com:@evil.com',
    'user:pass@evil.com',
    '@evil.com',
    // path, query, fragment (GHSA-g2pf-xv49-m2h5)
    'evil.com/x',
    'evil.com?x',
    'evil.com#x',
    'evil.com:80/x',
    'evil.com:80?x',
    '[::1]/x',
    // whitespace, controls, non-ASCII
    'a b',
    ' a',
    'a ',
    'a\r',
    'a\nb',
    'a\u0000',
    'a\tb',
    'ex\u00e4mple.com',
    'a\\b',
    'a,b',
    'a;b',
    // ports
    'a:99999',
    'a:65536',
    'a:123456',
    'a:abc',
    'a:0',
    'a:00000',
    'a:',
    'a:8o',
    'a:-1',
    'a:+80',
    'a:80:80',
    ':80',
    // IPv6
    '::1',
    '2001:db8::1',
    '2001:db8::1:80',
    '[::1',
    '[::1]x',
    '[::1]:',
    '[::1]:0',
    '[::1]]',
    '[fe80::1%eth0]',
    '[fe80::1%25eth0]',
    '[]',
    '[1.2.3.4]',
    '[::g]',
    '[' + '1:'.repeat(200) + '1]',
    // empty and overlong
    '',
    'a'.repeat(254),
    'a'.repeat(254) + ':1',
    'a'.repeat(300),
    'a'.repeat(253) + ':123456'
  ]
  for (const input of table) t.equal(parseHost(input), null, input.length > 40 ? `${input.length} chars` : JSON.stringify(input))
})

// Fastify's own getters, run on a plain object: splitHost must read a Host header the same way.
const requireFromHere = createRequire(__filename)
const Request = requireFromHere('fastify/lib/request.js') as { prototype: object }
function fastifyReading (host: string): { hostname: string, port: number | null } {
  const get = (name: string): unknown => Object.getOwnPropertyDescriptor(Request.prototype, name)?.get?.call({ host })
  return { hostname: get('hostname') as string, port: get('port') as number | null }
}

test('splitHost: Fastify request.js semantics', async (t) => {
  const table: Array<[string, string, number | null]> = [
    ['example.com', 'example.com', null],
    ['example.com:8080', 'example.com', 8080],
    ['[::1]', '[::1]', null], // brackets kept, no port
    ['[::1]:3000', '[::1]', 3000],
    ['[2001:db8::1]:443', '[2001:db8::1]', 443],
    ['', '', null],
    ['1234', '1234', null],
    ['a:', 'a', null],
    ['a:b:80', 'a', 80],
    ['a:12abc', 'a', null],
    ['host:99999', 'host', 99999], // no range check: it only mirrors Fastify
    [':80', '', 80],
    ['[::1', '', 1], // unterminated: Fastify still reads the trailing ":1"
    ['a:080', 'a', 80]
  ]
  for (const [input, hostname, port] of table) {
    const parts = splitHost(input)
    t.same(parts, { host: input, hostname, port }, JSON.stringify(input))
    t.same(fastifyReading(input), { hostname, port }, 'fastify agrees on ' + JSON.stringify(input))
  }
})

test('withPort', async (t) => {
  const table: Array<[HostParts, number, HostParts]> = [
    [splitHost('example.com:80'), 443, { host: 'example.com:443', hostname: 'example.com', port: 443 }],
    [splitHost('example.com'), 8443, { host: 'example.com:8443', hostname: 'example.com', port: 8443 }],
    [splitHost('[::1]'), 8080, { host: '[::1]:8080', hostname: '[::1]', port: 8080 }],
    [splitHost('[::1]:80'), 81, { host: '[::1]:81', hostname: '[::1]', port: 81 }]
  ]
  for (const [parts, port, expected] of table) t.same(withPort(parts.hostname, port), expected, `${parts.host} -> ${port}`)
})

test('parsePort', async (t) => {
  const table: Array<[string, number]> = [
    ['80', 80],
    ['1', 1],
    ['65535', 65535],
    ['080', 80],
    ['0', -1],
    ['00000', -1],
    ['65536', -1],
    ['99999', -1],
    ['123456', -1],
    ['', -1],
    ['8a', -1],
    [' 80', -1],
    ['80 ', -1],
    ['-1', -1],
    ['+80', -1],
    ['8.0', -1],
    ['\uff18\uff10', -1] // fullwidth digits
  ]
  for (const [input, expected] of table) t.equal(parsePort(input), expected, JSON.stringify(input))
  t.equal(parsePort('x:8080', 2), 8080)
  t.equal(parsePort('x:8080y', 2, 6), 8080)
  t.equal(parsePort('x:8080y', 2, 2), -1)
  t.equal(parsePort('x:8080y', 2), -1)
})

test('parseProto', async (t) => {
  const table: Array<[string, 'http' | 'https' | null]> = [
    ['http', 'http'],
    ['HTTP', 'http'],
    ['Http', 'http'],
    ['ws', 'http'],
    ['WS', 'http'],
    ['https', 'https'],
    ['HTTPS', 'https'],
    ['wss', 'https'],
    ['WsS', 'https'],
    ['https ', null],
    [' http', null],
    ['ftp', null],
    ['', null],
    ['https:', null],
    ['http, https', null],
    ['httpss', null],
    ['on', null],
    ['https\r\n', null],
    ['https'.repeat(3000), null]
  ]
  for (const [input, expected] of table) t.equal(parseProto(input), expected, JSON.stringify(input).slice(0, 40))
})

test('parsePrefix: accepted', async (t) => {
  const table: Array<[string, string]> = [
    ['/app', '/app'],
    ['/app/', '/app'],
    ['/', ''],
    ['/a/b/c', '/a/b/c'],
    ['/a/b/', '/a/b'],
    ['/a..b', '/a..b'],
    ['/...', '/...'],
    ['/.well-known', '/.well-known'],
    ['/a;b=c', '/a;b=c'],
    ["/a:b@c!$&'()*+,;=~-._", "/a:b@c!$&'()*+,;=~-._"],
    ['/a%20b', '/a%20b'],
    ['/%41%7e', '/%41%7e'],
    ['/%2e%2e%2e', '/%2e%2e%2e'],
    ['/' + 'a'.repeat(1023), '/' + 'a'.repeat(1023)]
  ]
  for (const [input, expected] of table) t.equal(parsePrefix(input), expected, input.length > 40 ? `${input.length} chars` : input)
})

test('parsePrefix: refused', async (t) => {
  const table: string[] = [
    '',
    'app',
    'http://x',
    '//evil',
    '//',
    '/app//',
    '/a//b',
    '/a/../b',
    '/a/..',
    '/..',
    '/.',
    '/./',
    '/a/./b',
    '/a/%2e%2e/b',
    '/a/%2E%2E/b',
    '/a/.%2e/b',
    '/a/%2e/b',
    '/a%2fb', // an encoded slash would make a new segment once decoded
    '/a%2F..',
    '/a%5cb',
    '/a%5C..',
    '/a%zz',
    '/a%2',
    '/a%',
    '/a%g0',
    '/a?b',
    '/a#b',
    '/a b',
    '/a\\b',
    '/a\tb',
    '/a\r',
    '/a\u0000',
    '/a"b',
    '/a<b>',
    '/\u00e4',
    '/a[b]',
    '/' + 'a'.repeat(1024)
  ]
  for (const input of table) t.equal(parsePrefix(input), null, input.length > 40 ? `${input.length} chars` : JSON.stringify(input))
})
