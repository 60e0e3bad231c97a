import { test } from 'tap'
import { compileOptions, compileRouteOptions } from '../lib/core/options'
import { resolve, type Headers } from '../lib/core/resolve'
import { makePeer } from '../lib/core/peer'

interface Row {
  name: string
  peer?: string
  /** A Unix-domain socket peer (no address). */
  unix?: boolean
  encrypted?: boolean
  headers: Headers
  opts?: Record<string, unknown>
  rewrite?: Record<string, unknown>
  want: Record<string, unknown>
}

function run (row: Row): Record<string, unknown> {
  const fix = row.opts === undefined ? undefined : compileOptions(row.opts, 'proxyFix')
  const rewrite = row.rewrite === undefined ? undefined : compileOptions(row.rewrite, 'hostRewrite')
  const peer = row.unix === true ? makePeer(undefined, true) : 'peer' in row ? row.peer : '10.1.1.1'
  const v = resolve(peer, row.encrypted === true, row.headers, fix, rewrite)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(row.want)) {
    out[k] = k === 'error' ? (v.error === null ? null : (v.error as Error & { code: string }).code) : k === 'url' ? v.url('/p') : (v as unknown as Record<string, unknown>)[k]
  }
  return out
}

function table (t: Tap.Test, rows: Row[]): void {
  for (const row of rows) t.strictSame(run(row), row.want, row.name)
}

// Werkzeug's tests/middleware/test_proxy_fix.py, as hop counts (trust: N with hops).
test('Werkzeug table: hop-count trust', async (t) => {
  const host = 'spam'
  table(t, [
    { name: 'for', opts: { trust: 1, hops: { proto: 0, host: 0, port: 0, prefix: 0 } }, headers: { host, 'x-forwarded-for': '192.168.0.1' }, want: { ip: '192.168.0.1', url: 'http://spam/p' } },
    { name: 'proto', opts: { trust: 1, hops: { for: 0 } }, headers: { host, 'x-forwarded-proto': 'https' }, want: { ip: '10.1.1.1', url: 'https://spam/p' } },
    { name: 'host', opts: { trust: 1 }, headers: { host, 'x-forwarded-host': 'eggs' }, want: { host: 'eggs', url: 'http://eggs/p' } },
    { name: 'port', opts: { trust: 1 }, headers: { host, 'x-forwarded-port': '8080' }, want: { host: 'spam:8080', port: 8080, url: 'http://spam:8080/p' } },
    { name: 'port replaces the port in Host', opts: { trust: 1 }, headers: { host: 'spam:9000', 'x-forwarded-port': '8080' }, want: { host: 'spam:8080', port: 8080 } },
    { name: 'prefix', opts: { trust: 1 }, headers: { host, 'x-forwarded-prefix': '/ham/' }, want: { prefix: '/ham', url: 'http://spam/ham/p' } },
    {
      name: 'all',
      opts: { trust: 1 },
      headers: { host, 'x-forwarded-for': '192.168.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'eggs', 'x-forwarded-port': '443', 'x-forwarded-prefix': '/ham/' },
      want: { ip: '192.168.0.1', protocol: 'https', host: 'eggs:443', port: 443, prefix: '/ham', url: 'https://eggs/ham/p' }
    },
    { name: 'multiple for', opts: { trust: 2 }, headers: { host, 'x-forwarded-for': '192.168.0.1, 192.168.0.2' }, want: { ip: '192.168.0.1', ips: ['10.1.1.1', '192.168.0.2', '192.168.0.1'] } },
    { name: 'ignore 0', opts: { trust: 1, hops: { for: 0 } }, headers: { host, 'x-forwarded-for': '192.168.0.1' }, want: { ip: '10.1.1.1' } },
    { name: 'ignore len < trusted', opts: { trust: 2 }, headers: { host, 'x-forwarded-for': '192.168.0.1', 'x-forwarded-proto': 'https' }, want: { ip: '10.1.1.1', protocol: 'http' } },
    { name: 'ignore untrusted', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '192.168.0.1, 192.168.0.2' }, want: { ip: '192.168.0.2' } },
    { name: 'ignore a proto list shorter than its count', opts: { trust: 3 }, headers: { host, 'x-forwarded-proto': 'https, https' }, want: { protocol: 'http' } },
    { name: 'ignore empty', opts: { trust: 2 }, headers: { host, 'x-forwarded-for': ', 192.168.0.3' }, want: { ip: '10.1.1.1' } },
    {
      name: 'prefix < for',
      opts: { trust: 2, hops: { prefix: 1 } },
      headers: { host, 'x-forwarded-for': '192.168.0.1, 192.168.0.2', 'x-forwarded-prefix': '/ham/, /eggs/' },
      want: { ip: '192.168.0.1', prefix: '/eggs' }
    },
    { name: 'ipv6 host', opts: { trust: 1 }, headers: { host, 'x-forwarded-host': '[2001:db8::1]' }, want: { host: '[2001:db8::1]', hostname: '[2001:db8::1]', port: null } },
    { name: 'ipv6 port', opts: { trust: 1 }, headers: { host: '[2001:db8::1]', 'x-forwarded-port': '8080' }, want: { host: '[2001:db8::1]:8080', hostname: '[2001:db8::1]', port: 8080 } },
    // GHSA-3m5p-2c4r-xxw2: a count is believed only from `peers` (default: loopback and private ranges, unix)
    { name: 'a count from a public peer changes nothing', peer: '203.0.113.9', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }, want: { ip: '203.0.113.9', protocol: 'http', host, trusted: false } },
    { name: 'a count from a private peer (default peers)', peer: '192.168.1.5', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'a count from a loopback peer (default peers)', peer: '::1', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'a count from a link-local peer (default peers)', peer: '169.254.3.4', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'a count from a unix peer (default peers)', unix: true, opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'a count from an unknown TCP peer changes nothing', peer: undefined, opts: { trust: 1 }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: undefined, trusted: false } },
    { name: 'a count with explicit peers', peer: '203.0.113.9', opts: { trust: 1, peers: ['203.0.113.0/24'] }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'explicit peers replace the default', peer: '10.0.0.1', opts: { trust: 1, peers: '203.0.113.0/24' }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '10.0.0.1', trusted: false } },
    { name: 'a count with a peers function', peer: '203.0.113.9', opts: { trust: 1, peers: (a: string) => a.startsWith('203.') }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'peers: true counts from any peer (unchecked, Werkzeug)', peer: '203.0.113.9', opts: { trust: 1, peers: true }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'a Forwarded count from a public peer changes nothing', peer: '203.0.113.9', opts: { trust: 1, forwarded: true }, headers: { host, forwarded: 'for=1.2.3.4;proto=https;host=evil.example' }, want: { ip: '203.0.113.9', protocol: 'http', host, trusted: false } },
    { name: 'a Forwarded count from a private peer', peer: '10.9.9.9', opts: { trust: 1, forwarded: true }, headers: { host, forwarded: 'for=1.2.3.4;proto=https;host=good.example' }, want: { ip: '1.2.3.4', protocol: 'https', host: 'good.example', trusted: true } },
    { name: 'peers is ignored by address trust', peer: '10.1.1.1', opts: { trust: '10.0.0.0/8', peers: '192.0.2.1' }, headers: { host, 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', trusted: true } },
    { name: 'no Host: a forwarded port alone is not a host', opts: { trust: 1 }, headers: { 'x-forwarded-port': '8080' }, want: { host: '', port: null, url: 'http:///p' } },
    { name: 'unknown at the counted position keeps the peer', opts: { trust: 1 }, headers: { host, 'x-forwarded-for': 'unknown' }, want: { ip: '10.1.1.1', ips: ['10.1.1.1'] } },
    { name: 'malformed within the counted hops: header ignored', opts: { trust: 2 }, headers: { host, 'x-forwarded-for': '1.2.3.4, proxy' }, want: { ip: '10.1.1.1', error: null } },
    { name: 'malformed within the counted hops, strict', opts: { trust: 2, strict: true }, headers: { host, 'x-forwarded-for': 'proxy, 1.2.3.4' }, want: { ip: '10.1.1.1', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } }
  ])
})

const T = { trust: ['127.0.0.1', '10.0.0.0/8'] }

test('address trust: only values added by trusted hops count', async (t) => {
  table(t, [
    { name: 'untrusted peer changes nothing', peer: '203.0.113.9', opts: T, headers: { host: 'a:1', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.com', 'x-forwarded-port': '9', 'x-forwarded-prefix': '/x' }, want: { ip: '203.0.113.9', ips: ['203.0.113.9'], host: 'a:1', hostname: 'a', port: 1, protocol: 'http', prefix: '', trusted: false } },
    { name: 'untrusted peer, encrypted socket', peer: '203.0.113.9', encrypted: true, opts: T, headers: { host: 'a', 'x-forwarded-proto': 'http' }, want: { protocol: 'https' } },
    { name: 'walks to the first untrusted entry', opts: T, headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.7, 10.0.0.2' }, want: { ip: '203.0.113.7', ips: ['10.1.1.1', '10.0.0.2', '203.0.113.7'] } },
    { name: 'all trusted: the leftmost is the client', opts: T, headers: { 'x-forwarded-for': '10.0.0.3, 10.0.0.2' }, want: { ip: '10.0.0.3' } },
    { name: 'proto from the client hop, not the last entry', opts: T, headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'x-forwarded-proto': 'https, http' }, want: { protocol: 'https' } },
    { name: 'client-prepended proto is skipped', opts: T, headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http, https' }, want: { protocol: 'https' } },
    { name: 'an overwriting edge proxy: fewer values than hops, leftmost used', opts: T, headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' }, want: { protocol: 'https', host: 'example.com' } },
    { name: 'a shorter list: its leftmost value', opts: T, headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.5, 10.0.0.2', 'x-forwarded-proto': 'https, http' }, want: { protocol: 'https' } },
    { name: 'proto without X-Forwarded-For comes from the peer', opts: T, headers: { 'x-forwarded-proto': 'HTTPS' }, want: { protocol: 'https', ip: '10.1.1.1' } },
    { name: 'a list of empty values is absent', opts: T, headers: { 'x-forwarded-proto': ' , ,' }, want: { protocol: 'http', error: null } },
    { name: 'ws and wss map to http and https', opts: T, headers: { 'x-forwarded-proto': 'wss' }, want: { protocol: 'https' } },
    { name: 'fields limits what is honoured', opts: { ...T, fields: ['proto'] }, headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'b' }, want: { ip: '10.1.1.1', protocol: 'https', host: '' } },
    { name: 'trust false changes nothing', opts: { trust: false }, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '10.1.1.1', trusted: false } },
    { name: 'trust 0 is off', opts: { trust: 0 }, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '10.1.1.1', trusted: false } },
    { name: 'trust true trusts every hop', peer: '203.0.113.9', opts: { trust: true }, headers: { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' }, want: { ip: '1.2.3.4' } },
    { name: 'function trust gets hop indexes', opts: { trust: (a: string, i: number) => i < 2 }, headers: { 'x-forwarded-for': '3.3.3.3, 2.2.2.2, 1.1.1.1' }, want: { ip: '2.2.2.2' } },
    { name: 'default trust is loopback', peer: '127.0.0.1', opts: {}, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4' } },
    { name: 'default trust refuses a remote peer', peer: '192.0.2.1', opts: {}, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '192.0.2.1' } },
    { name: 'IPv4-mapped peer matches IPv4 ranges', peer: '::ffff:127.0.0.1', opts: {}, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', ips: ['::ffff:127.0.0.1', '1.2.3.4'] } },
    { name: 'IPv6 loopback peer', peer: '::1', opts: {}, headers: { 'x-forwarded-for': '2001:DB8::1' }, want: { ip: '2001:db8::1' } },
    { name: 'unix peer trusted when listed', unix: true, opts: { trust: 'unix' }, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4', ips: ['1.2.3.4'] } },
    { name: 'unix peer untrusted by default', unix: true, opts: {}, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: undefined, ips: [] } },
    { name: 'a TCP peer whose address is unknown is never a unix peer', peer: undefined, opts: { trust: 'unix' }, headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-host': 'evil.example' }, want: { ip: undefined, ips: [], host: '', trusted: false } },
    { name: 'an unparseable peer is never trusted', peer: 'garbage', opts: { trust: true }, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: 'garbage' } }
  ])
})

test('odd entries: never output as the client IP', async (t) => {
  const rows: Array<[string, string, string]> = [
    // [X-Forwarded-For, expected ip, why]
    ['unknown', '10.1.1.1', 'RFC 7239 unknown: the trusted peer is the best we know'],
    ['_hidden', '10.1.1.1', 'obfuscated identifier'],
    ['proxy', '10.1.1.1', 'a non-IP token'],
    ['<script>', '10.1.1.1', 'garbage'],
    ['1.2.3.4:5678', '1.2.3.4', 'IPv4 with port'],
    ['[2001:db8::1]:443', '2001:db8::1', 'bracketed IPv6 with port'],
    ['fe80::1%eth0', 'fe80::1', 'zone dropped'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4', 'IPv4-mapped entry, canonical'],
    ['0177.0.0.1', '10.1.1.1', 'octal IPv4'],
    ['127.1', '10.1.1.1', 'short IPv4'],
    ['0x7f.0.0.1', '10.1.1.1', 'hex IPv4'],
    ['1.2.3.4,,\t, ', '1.2.3.4', 'empty entries and tabs'],
    ['\t1.2.3.4\t', '1.2.3.4', 'tabs trimmed'],
    ['1.2.3.4, 10.0.0.9', '1.2.3.4', 'trusted hop then client'],
    ['garbage, 10.0.0.9', '10.0.0.9', 'garbage behind a trusted hop stops the walk'],
    ['1.2.3.4, unknown, 10.0.0.9', '10.0.0.9', 'unknown stops the walk']
  ]
  for (const [xff, ip, why] of rows) {
    t.equal(run({ name: why, opts: T, headers: { 'x-forwarded-for': xff }, want: { ip: 0 } }).ip, ip, `${why}: ${JSON.stringify(xff)}`)
  }
  t.strictSame(run({ name: 'array header', opts: T, headers: { 'x-forwarded-for': ['1.2.3.4', '10.0.0.9'] }, want: { ip: 0 } }), { ip: '1.2.3.4' }, 'duplicate lines as an array')
})

test('strict: malformed values from trusted peers', async (t) => {
  const S = { ...T, strict: true }
  const E = 'FST_ERR_PROXY_FIX_MALFORMED_HEADER'
  table(t, [
    { name: 'bad for', opts: S, headers: { 'x-forwarded-for': 'proxy' }, want: { error: E, ip: '10.1.1.1' } },
    { name: 'unknown is not malformed', opts: S, headers: { 'x-forwarded-for': 'unknown' }, want: { error: null } },
    { name: 'bad proto', opts: S, headers: { 'x-forwarded-proto': 'ftp' }, want: { error: E, protocol: 'http' } },
    { name: 'bad host', opts: S, headers: { host: 'a', 'x-forwarded-host': 'good.com@evil.com' }, want: { error: E, host: 'a' } },
    { name: 'bad port', opts: S, headers: { host: 'a', 'x-forwarded-port': '99999' }, want: { error: E, host: 'a' } },
    { name: 'bad prefix', opts: S, headers: { 'x-forwarded-prefix': '/a/../b' }, want: { error: E, prefix: '' } },
    { name: 'too many entries, all trusted', opts: S, headers: { 'x-forwarded-for': Array(40).fill('10.0.0.1').join(',') }, want: { error: E } },
    { name: 'non-strict ignores, never uses', opts: T, headers: { host: 'a', 'x-forwarded-host': 'evil.com/x', 'x-forwarded-proto': 'javascript' }, want: { error: null, host: 'a', protocol: 'http' } },
    { name: 'untrusted peer is never rejected', peer: '203.0.113.1', opts: S, headers: { 'x-forwarded-for': 'proxy' }, want: { error: null } },
    { name: 'too many entries, non-strict: the cap is the leftmost', opts: T, headers: { 'x-forwarded-for': Array(40).fill('10.0.0.1').join(',') }, want: { error: null, ip: '10.0.0.1' } }
  ])
})

test('clientIpHeader', async (t) => {
  const C = { ...T, clientIpHeader: 'X-Real-IP' }
  table(t, [
    { name: 'taken from a trusted peer', opts: C, headers: { 'x-real-ip': '198.51.100.2', 'x-forwarded-for': '6.6.6.6' }, want: { ip: '198.51.100.2', ips: ['10.1.1.1', '198.51.100.2'] } },
    { name: 'ignored from an untrusted peer', peer: '203.0.113.1', opts: C, headers: { 'x-real-ip': '198.51.100.2' }, want: { ip: '203.0.113.1' } },
    { name: 'a list is malformed', opts: { ...C, strict: true }, headers: { 'x-real-ip': '1.1.1.1, 2.2.2.2' }, want: { ip: '10.1.1.1', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'unknown keeps the peer', opts: C, headers: { 'x-real-ip': 'unknown' }, want: { ip: '10.1.1.1' } },
    { name: 'absent keeps the peer', opts: C, headers: {}, want: { ip: '10.1.1.1' } },
    { name: 'with Forwarded, proto from the nearest element', opts: { ...C, forwarded: true }, headers: { 'x-real-ip': '198.51.100.2', forwarded: 'proto=https' }, want: { ip: '198.51.100.2', protocol: 'https' } }
  ])
})

test('RFC 7239 Forwarded', async (t) => {
  const F = { ...T, forwarded: true }
  table(t, [
    { name: 'element of the client carries proto and host', opts: F, headers: { forwarded: 'for=203.0.113.7;proto=https;host=example.com, for=10.0.0.2;proto=http;host=internal' }, want: { ip: '203.0.113.7', protocol: 'https', host: 'example.com' } },
    { name: 'X-Forwarded-* ignored in Forwarded mode', opts: F, headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' }, want: { ip: '10.1.1.1', protocol: 'http' } },
    { name: 'Forwarded ignored in X-Forwarded mode', opts: T, headers: { forwarded: 'for=6.6.6.6' }, want: { ip: '10.1.1.1' } },
    { name: 'quoted IPv6 with port', opts: F, headers: { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, want: { ip: '2001:db8:cafe::17' } },
    { name: 'unknown for: the element still describes the client', opts: F, headers: { forwarded: 'for=unknown;proto=https' }, want: { ip: '10.1.1.1', protocol: 'https' } },
    { name: 'missing for', opts: F, headers: { forwarded: 'proto=https;host=a.example' }, want: { ip: '10.1.1.1', protocol: 'https', host: 'a.example' } },
    { name: 'malformed header ignored', opts: F, headers: { forwarded: 'for=1.2.3.4;for=5.6.7.8' }, want: { ip: '10.1.1.1', error: null } },
    { name: 'malformed header, strict', opts: { ...F, strict: true }, headers: { forwarded: 'for="1.2.3.4' }, want: { ip: '10.1.1.1', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'bad for value, strict', opts: { ...F, strict: true }, headers: { forwarded: 'for=proxy' }, want: { error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'bad proto and host ignored', opts: F, headers: { host: 'a', forwarded: 'for=1.2.3.4;proto=ftp;host="a@b"' }, want: { ip: '1.2.3.4', protocol: 'http', host: 'a' } },
    { name: 'all trusted: leftmost element', opts: F, headers: { forwarded: 'for=10.0.0.5;proto=https, for=10.0.0.2' }, want: { ip: '10.0.0.5', protocol: 'https' } },
    { name: 'too many elements, strict', opts: { ...F, strict: true }, headers: { forwarded: Array(40).fill('for=10.0.0.1').join(',') }, want: { error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'hop count', opts: { trust: 2, forwarded: true }, headers: { forwarded: 'for=6.6.6.6, for=1.2.3.4;proto=https, for=10.0.0.2' }, want: { ip: '1.2.3.4', protocol: 'https', ips: ['10.1.1.1', '10.0.0.2', '1.2.3.4'] } },
    { name: 'hop count, too few elements', opts: { trust: 2, forwarded: true }, headers: { forwarded: 'for=1.2.3.4;proto=https' }, want: { ip: '10.1.1.1', protocol: 'http' } },
    { name: 'hop count, element without for', opts: { trust: 2, forwarded: true }, headers: { forwarded: 'proto=https, for=10.0.0.2' }, want: { ip: '10.1.1.1', ips: ['10.1.1.1', '10.0.0.2'], protocol: 'https' } },
    { name: 'hop count, unknown element', opts: { trust: 2, forwarded: true }, headers: { forwarded: 'for=unknown, for=10.0.0.2' }, want: { ip: '10.1.1.1' } },
    { name: 'hop count, malformed for, strict', opts: { trust: 1, forwarded: true, strict: true }, headers: { forwarded: 'for=nope' }, want: { error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'fields off', opts: { ...F, fields: ['for'] }, headers: { forwarded: 'for=1.2.3.4;proto=https;host=x' }, want: { ip: '1.2.3.4', protocol: 'http', host: '' } },
    { name: 'no header', opts: F, headers: {}, want: { ip: '10.1.1.1' } }
  ])
})

test('hostRewrite with proxyFix: the custom header wins, order-free', async (t) => {
  const R = { header: 'X-FHost', trust: ['10.0.0.0/8'] }
  table(t, [
    { name: 'custom header wins over X-Forwarded-Host', opts: T, rewrite: R, headers: { host: 'a', 'x-forwarded-host': 'xfh.example', 'x-fhost': 'pub.example:8443' }, want: { host: 'pub.example:8443', hostname: 'pub.example', port: 8443 } },
    { name: 'alone', rewrite: R, headers: { host: 'a', 'x-fhost': 'pub.example' }, want: { host: 'pub.example', ip: '10.1.1.1', trusted: true } },
    { name: 'trusted, no header', rewrite: R, headers: { host: 'a' }, want: { host: 'a', trusted: true } },
    { name: 'unix peer', unix: true, rewrite: { header: 'x-fhost', trust: 'unix' }, headers: { host: 'a', 'x-fhost': 'b.example' }, want: { host: 'b.example' } },
    { name: 'untrusted peer', peer: '203.0.113.1', rewrite: R, headers: { host: 'a', 'x-fhost': 'evil.example' }, want: { host: 'a', trusted: false } },
    { name: 'two lines (joined) are malformed', rewrite: { ...R, strict: true }, headers: { host: 'a', 'x-fhost': 'a.example, b.example' }, want: { host: 'a', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'an array is malformed', rewrite: R, headers: { host: 'a', 'x-fhost': ['a.example', 'b.example'] }, want: { host: 'a' } },
    { name: 'userinfo ignored', rewrite: R, headers: { host: 'a', 'x-fhost': 'good.com@evil.com' }, want: { host: 'a', error: null } },
    { name: 'hop-count trust', rewrite: { header: 'x-fhost', trust: 1 }, headers: { host: 'a', 'x-fhost': 'b.example' }, want: { host: 'b.example' } },
    { name: 'trust false', rewrite: { header: 'x-fhost', trust: false }, headers: { host: 'a', 'x-fhost': 'b.example' }, want: { host: 'a' } },
    { name: 'allowedHosts on the Host itself', rewrite: { ...R, allowedHosts: ['.example.com'] }, peer: '203.0.113.1', headers: { host: 'evil.org' }, want: { error: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } },
    { name: 'allowedHosts passes a subdomain', rewrite: { ...R, allowedHosts: '.example.com' }, headers: { host: 'a', 'x-fhost': 'api.EXAMPLE.com' }, want: { error: null, hostname: 'api.EXAMPLE.com' } },
    { name: 'allowedHosts passes the bare domain of a suffix', opts: { ...T, allowedHosts: ['.example.com'] }, headers: { host: 'example.com:8080' }, want: { error: null } },
    { name: 'allowedHosts refuses a lookalike', opts: { ...T, allowedHosts: ['.example.com'] }, headers: { host: 'evilexample.com' }, want: { error: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } },
    { name: 'allowedHosts refuses a missing host', opts: { ...T, allowedHosts: ['example.com'] }, headers: {}, want: { error: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } }
  ])
})

test('view: original, url, HTTP/2 authority', async (t) => {
  const fix = compileOptions(T, 'proxyFix')
  const v = resolve('10.0.0.1', true, { ':authority': 'h2.internal:8443', 'x-forwarded-host': 'example.com', 'x-forwarded-proto': 'http', 'x-forwarded-prefix': '/app' }, fix, undefined)
  t.strictSame(v.original, { ip: '10.0.0.1', host: 'h2.internal:8443', hostname: 'h2.internal', port: 8443, protocol: 'https' })
  t.equal(v.url('x?y=1'), 'http://example.com/app/x?y=1')
  t.equal(v.url(), 'http://example.com/app/')
  const w = resolve('10.0.0.1', false, { host: '[::1]:80' }, undefined, undefined)
  t.strictSame([w.hostname, w.port, w.url('/')], ['[::1]', 80, 'http://[::1]/'])
  const x = resolve('10.0.0.1', false, { host: 'a:8080' }, undefined, undefined)
  t.equal(x.url('/'), 'http://a:8080/')
})

test('cost is bounded: a 16 KiB header', async (t) => {
  const xff = Array(1900).fill('10.0.0.1').join(',')
  t.ok(xff.length > 16384)
  const v = resolve('10.0.0.1', false, { 'x-forwarded-for': xff, forwarded: xff }, compileOptions(T, 'proxyFix'), undefined)
  t.equal(v.ips.length, 33, 'only 32 entries are walked')
})

test('ips is built once, on first read, socket peer first', async (t) => {
  const v = resolve('10.0.0.1', false, { 'x-forwarded-for': '198.51.100.9, 10.0.0.2' }, compileOptions(T, 'proxyFix'), undefined)
  const ips = v.ips
  t.strictSame(ips, ['10.0.0.1', '10.0.0.2', '198.51.100.9'])
  t.equal(v.ips, ips, 'the same array on every read')
  const none = resolve(undefined, false, {}, undefined, undefined)
  t.strictSame(none.ips, [])
})

test('a picked list skips empty entries', async (t) => {
  const v = resolve('10.1.1.1', false, { host: 'a', 'x-forwarded-for': '192.0.2.1, 192.0.2.2', 'x-forwarded-proto': 'https\t , , http' }, compileOptions({ trust: 2 }, 'proxyFix'), undefined)
  t.equal(v.protocol, 'https', 'the second non-empty entry from the right')
  const w = resolve('10.1.1.1', false, { host: 'a', 'x-forwarded-proto': ' , https,, ' }, compileOptions({ trust: ['10.0.0.0/8'] }, 'proxyFix'), undefined)
  t.equal(w.protocol, 'https', 'address trust: the only non-empty entry')
})

test('the peer verdict is kept per connection peer and plan, header values never', async (t) => {
  const fix = compileOptions({ trust: ['10.0.0.0/8'] }, 'proxyFix')
  const other = compileOptions({ trust: ['192.0.2.0/24'] }, 'proxyFix')
  const rewrite = compileOptions({ header: 'x-fhost', trust: ['10.0.0.0/8'] }, 'hostRewrite')
  const peer = makePeer('10.0.0.1')
  const a = resolve(peer, false, { host: 'h', 'x-forwarded-for': '198.51.100.1', 'x-fhost': 'one.example' }, fix, rewrite)
  t.strictSame([a.ip, a.host, a.trusted], ['198.51.100.1', 'one.example', true])
  t.strictSame([peer.fix.plan === fix, peer.fix.trusted, peer.rewrite.plan === rewrite, peer.rewrite.trusted], [true, true, true, true], 'one verdict per plugin')
  const b = resolve(peer, false, { host: 'h', 'x-forwarded-for': '198.51.100.2', 'x-fhost': 'two.example' }, fix, rewrite)
  t.strictSame([b.ip, b.host, b.ips], ['198.51.100.2', 'two.example', ['10.0.0.1', '198.51.100.2']], 'the same connection, the next client')
  const c = resolve(peer, false, { host: 'h', 'x-forwarded-for': '198.51.100.3' }, other, undefined)
  t.strictSame([c.ip, c.trusted], ['10.0.0.1', false], 'another plan (a route override) is asked afresh')
  const again = resolve(peer, false, { host: 'h', 'x-forwarded-for': '198.51.100.3' }, fix, undefined)
  t.strictSame([again.ip, again.trusted], ['198.51.100.3', true], 'and the first plan again')
  const calls: string[] = []
  const fn = compileOptions({ trust: (addr: string) => { calls.push(addr); return true } }, 'proxyFix')
  const fnPeer = makePeer('10.0.0.1')
  resolve(fnPeer, false, { 'x-forwarded-for': '198.51.100.6' }, fn, undefined)
  resolve(fnPeer, false, { 'x-forwarded-for': '198.51.100.6' }, fn, undefined)
  t.strictSame(calls, ['10.0.0.1', '198.51.100.6', '10.0.0.1', '198.51.100.6'], 'a trust function is asked on every request')
  t.equal(fnPeer.fix.plan, null, 'and its verdict is not kept')
  const counted = compileOptions({ trust: 1 }, 'proxyFix')
  const pub = makePeer('203.0.113.5')
  t.equal(resolve(pub, false, { 'x-forwarded-for': '1.2.3.4' }, counted, undefined).ip, '203.0.113.5')
  t.strictSame([pub.fix.plan === counted, pub.fix.trusted], [true, false], 'a count keeps the peers verdict')
  const bad = resolve('not-an-ip', false, { 'x-forwarded-for': '198.51.100.7' }, fix, undefined)
  t.strictSame([bad.ip, bad.trusted], ['not-an-ip', false], 'an unparseable peer is never trusted')
})

test('the PROXY protocol source is the peer; the TCP peer stays the original', async (t) => {
  const info = { source: { address: '203.0.113.5', port: 4000 }, version: 2 }
  const v = resolve(makePeer('203.0.113.5', false, '127.0.0.1', info), false, { host: 'h', 'x-forwarded-for': '198.51.100.1' }, compileOptions({ trust: '203.0.113.5' }, 'proxyFix'), undefined)
  t.equal(v.ip, '198.51.100.1')
  t.strictSame(v.ips, ['203.0.113.5', '198.51.100.1'])
  t.equal(v.original.ip, '127.0.0.1')
  t.equal(v.proxyProtocol, info)
  t.equal(resolve('10.0.0.1', false, {}, undefined, undefined).proxyProtocol, null)
})

const CF = ['198.51.100.0/24']
test('client-IP headers tied to their edge: believed only from a hop in the edge ranges', async (t) => {
  table(t, [
    { name: 'the edge connects directly (trust nothing else)', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'CF-Connecting-IP': CF } }, headers: { 'cf-connecting-ip': '203.0.113.9' }, want: { ip: '203.0.113.9', ips: ['198.51.100.5', '203.0.113.9'], trusted: true } },
    { name: 'another trusted peer cannot set it', peer: '10.0.0.1', opts: { trust: '10.0.0.0/8', clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '6.6.6.6' }, want: { ip: '10.0.0.1', trusted: true } },
    { name: 'a public peer cannot set it', peer: '203.0.113.1', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '6.6.6.6' }, want: { ip: '203.0.113.1', trusted: false } },
    { name: 'behind a local proxy: the edge is found in X-Forwarded-For', peer: '127.0.0.1', opts: { clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '192.0.2.44, 198.51.100.5', 'cf-connecting-ip': '192.0.2.44' }, want: { ip: '192.0.2.44', ips: ['127.0.0.1', '198.51.100.5', '192.0.2.44'] } },
    { name: 'a client that reaches the local proxy directly cannot set it', peer: '127.0.0.1', opts: { clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '198.51.100.5, 6.6.6.6', 'cf-connecting-ip': '1.1.1.1' }, want: { ip: '6.6.6.6', ips: ['127.0.0.1', '6.6.6.6'] } },
    { name: 'the edge without its header: the edge is the client', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '6.6.6.6' }, want: { ip: '198.51.100.5', trusted: true } },
    { name: 'each header only from its own edge', peer: '127.0.0.1', opts: { clientIpHeader: { 'cf-connecting-ip': CF, 'fly-client-ip': '172.16.0.0/12' } }, headers: { 'x-forwarded-for': '172.16.1.1', 'cf-connecting-ip': '6.6.6.6', 'fly-client-ip': '203.0.113.7' }, want: { ip: '203.0.113.7' } },
    { name: 'a malformed value from the edge: the edge stands', peer: '198.51.100.5', opts: { trust: false, strict: true, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '1.2.3.4, 5.6.7.8' }, want: { ip: '198.51.100.5', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'Cloudflare pseudo IPv4: CF-Connecting-IPv6 holds the real address', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '240.16.0.1', 'cf-connecting-ipv6': '2001:DB8::5' }, want: { ip: '2001:db8::5' } },
    { name: 'CF-Connecting-IPv6 is ignored unless CF-Connecting-IP is a pseudo IPv4 (a client can send it)', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '192.0.2.23', 'cf-connecting-ipv6': '2001:db8::bad' }, want: { ip: '192.0.2.23' } },
    { name: 'a malformed CF-Connecting-IPv6 beside a real address changes nothing', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '192.0.2.23', 'cf-connecting-ipv6': 'junk' }, want: { ip: '192.0.2.23' } },
    { name: 'an IPv6 CF-Connecting-IP keeps itself', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'cf-connecting-ip': '2001:db8::7', 'cf-connecting-ipv6': '2001:db8::bad' }, want: { ip: '2001:db8::7' } },
    { name: 'CloudFront-Viewer-Address: IPv4 with its port', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cloudfront-viewer-address': CF } }, headers: { 'cloudfront-viewer-address': '203.0.113.9:46532' }, want: { ip: '203.0.113.9' } },
    { name: 'CloudFront-Viewer-Address: unbracketed IPv6 with its port', peer: '198.51.100.5', opts: { trust: false, clientIpHeader: { 'cloudfront-viewer-address': CF } }, headers: { 'cloudfront-viewer-address': '2001:db8:85a3::8a2e:370:7334:46532' }, want: { ip: '2001:db8:85a3::8a2e:370:7334' } },
    { name: 'CloudFront-Viewer-Address without a port is malformed', peer: '198.51.100.5', opts: { trust: false, strict: true, clientIpHeader: { 'cloudfront-viewer-address': CF } }, headers: { 'cloudfront-viewer-address': '203.0.113.9' }, want: { ip: '198.51.100.5', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'an untied header gets the same formats, [v6]:port too', peer: '127.0.0.1', opts: { clientIpHeader: 'CloudFront-Viewer-Address' }, headers: { 'cloudfront-viewer-address': '[2001:db8::1]:443' }, want: { ip: '2001:db8::1' } },
    { name: 'tied headers along a Forwarded chain', peer: '127.0.0.1', opts: { forwarded: true, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { forwarded: 'for=192.0.2.44, for=198.51.100.5', 'cf-connecting-ip': '192.0.2.45' }, want: { ip: '192.0.2.45' } },
    { name: 'a malformed hop stops the walk before any edge', peer: '127.0.0.1', opts: { strict: true, clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '198.51.100.5, proxy', 'cf-connecting-ip': '1.1.1.1' }, want: { ip: '127.0.0.1', error: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'unknown stops the walk', peer: '127.0.0.1', opts: { clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '198.51.100.5, unknown', 'cf-connecting-ip': '1.1.1.1' }, want: { ip: '127.0.0.1' } },
    { name: 'a trust function beside the edges', peer: '10.0.0.1', opts: { trust: (a: string) => a === '10.0.0.1', clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '198.51.100.5', 'cf-connecting-ip': '192.0.2.9' }, want: { ip: '192.0.2.9' } },
    { name: 'all trusted, no edge: the leftmost', peer: '127.0.0.1', opts: { trust: ['loopback', '10.0.0.0/8'], clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '10.0.0.2' }, want: { ip: '10.0.0.2' } },
    { name: 'a unix peer in trust walks on', unix: true, opts: { trust: 'unix', clientIpHeader: { 'cf-connecting-ip': CF } }, headers: { 'x-forwarded-for': '198.51.100.5', 'cf-connecting-ip': '192.0.2.1' }, want: { ip: '192.0.2.1' } }
  ])
  const many = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`).join(', ')
  const v = resolve('127.0.0.1', false, { 'x-forwarded-for': many }, compileOptions({ trust: ['loopback', '10.0.0.0/8'], strict: true, clientIpHeader: { 'cf-connecting-ip': CF } }, 'proxyFix'), undefined)
  t.equal((v.error as Error & { code: string }).code, 'FST_ERR_PROXY_FIX_MALFORMED_HEADER', 'more than 32 entries, all trusted')
  const off = compileRouteOptions(compileOptions({ trust: false, clientIpHeader: { 'cf-connecting-ip': CF } }, 'proxyFix'), false)
  t.equal(resolve('198.51.100.5', false, { 'cf-connecting-ip': '1.1.1.1' }, off, undefined).ip, '198.51.100.5', 'config false turns the edges off')
})
