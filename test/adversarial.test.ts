// The adversarial battery: table-driven attacks on proxyFix, hostRewrite and mountApp, through
// real plugin registrations. Every row states its expected result. Rows named after an advisory
// use that advisory's own inputs (see the table in docs/hardening.md).
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import express from 'express'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { mountApp } from '../lib/mount/mount-app'

type Json = Record<string, unknown>
type Headers = Record<string, string | string[]>

const TRUSTED = '10.0.0.1'
const UNTRUSTED = '203.0.113.9'
const HOST = 'app.example'

// Plugin setups, by name, so rows stay readable and each app is built once.
const SETUPS: Record<string, Array<[unknown, Json]>> = {
  list: [[proxyFix, { trust: ['10.0.0.0/8'] }]],
  one: [[proxyFix, { trust: '10.0.0.1' }]],
  loopback: [[proxyFix, {}]],
  count1: [[proxyFix, { trust: 1 }]],
  count1Unchecked: [[proxyFix, { trust: 1, peers: true }]],
  fn: [[proxyFix, { trust: (a: string) => a === '10.0.0.1' }]],
  all: [[proxyFix, { trust: true }]],
  strict: [[proxyFix, { trust: ['10.0.0.0/8'], strict: true }]],
  fwd: [[proxyFix, { trust: ['10.0.0.0/8'], forwarded: true }]],
  fwdStrict: [[proxyFix, { trust: ['10.0.0.0/8'], forwarded: true, strict: true }]],
  realIp: [[proxyFix, { trust: ['10.0.0.0/8'], clientIpHeader: 'x-real-ip' }]],
  realIpStrict: [[proxyFix, { trust: ['10.0.0.0/8'], clientIpHeader: 'x-real-ip', strict: true }]],
  allowed: [[proxyFix, { trust: ['10.0.0.0/8'], allowedHosts: ['.example.com', 'app.example'] }]],
  rewrite: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'] }]],
  rewriteStrict: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'], strict: true }]],
  rewriteAllowed: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'], allowedHosts: ['.example.com', 'app.example'] }]],
  both: [[proxyFix, { trust: ['10.0.0.0/8'] }], [hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'] }]]
}

interface Row {
  name: string
  setup: keyof typeof SETUPS
  peer?: string
  headers: Headers
  /** `status` and `code` for a refused request; otherwise any of the request's corrected fields. */
  want: Json
}

const apps = new Map<string, FastifyInstance>()

async function appFor (setup: string): Promise<FastifyInstance> {
  let app = apps.get(setup)
  if (app === undefined) {
    app = Fastify()
    for (const [plugin, opts] of SETUPS[setup]) await app.register(plugin as any, opts)
    app.get('/', async (req) => ({
      ip: req.ip,
      ips: req.ips,
      protocol: req.protocol,
      host: req.host,
      hostname: req.hostname,
      port: req.port,
      prefix: req.proxy.prefix,
      trusted: req.proxy.trusted,
      url: req.proxy.url('/r')
    }))
    await app.ready()
    apps.set(setup, app)
  }
  return app
}

async function check (t: Tap.Test, rows: Row[]): Promise<void> {
  for (const row of rows) {
    const app = await appFor(row.setup)
    const res = await app.inject({ url: '/', remoteAddress: row.peer ?? TRUSTED, headers: { host: HOST, ...row.headers } })
    const body = res.json()
    const got: Json = {}
    for (const k of Object.keys(row.want)) got[k] = k === 'status' ? res.statusCode : body[k]
    t.strictSame(got, row.want, `${row.setup}: ${row.name}`)
  }
}

let rowCount = 0
function rows (list: Row[]): Row[] {
  rowCount += list.length
  return list
}

const SPOOF = { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '8443', 'x-forwarded-prefix': '/evil' }
const SOCKET_VIEW = { ip: UNTRUSTED, ips: [UNTRUSTED], protocol: 'http', host: HOST, hostname: HOST, port: null, prefix: '', trusted: false }

test('GHSA-444r-cwp2-x5xf: protocol and host are never taken from an untrusted peer', async (t) => {
  await check(t, rows([
    { name: 'GHSA-444r-cwp2-x5xf trustProxy "10.0.0.1", peer elsewhere: X-Forwarded-Proto https and X-Forwarded-Host ignored', setup: 'one', peer: UNTRUSTED, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }, want: { protocol: 'http', host: HOST, hostname: HOST } },
    { name: 'GHSA-444r-cwp2-x5xf subnet trust: every forwarded field ignored', setup: 'list', peer: UNTRUSTED, headers: SPOOF, want: SOCKET_VIEW },
    { name: 'GHSA-444r-cwp2-x5xf function trust: every forwarded field ignored', setup: 'fn', peer: UNTRUSTED, headers: SPOOF, want: SOCKET_VIEW },
    { name: 'GHSA-444r-cwp2-x5xf loopback trust, remote peer', setup: 'loopback', peer: UNTRUSTED, headers: SPOOF, want: SOCKET_VIEW },
    { name: 'GHSA-444r-cwp2-x5xf strict mode does not answer 400 to an untrusted peer either', setup: 'strict', peer: UNTRUSTED, headers: { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'a@b' }, want: { status: 200, protocol: 'http', host: HOST } },
    { name: 'GHSA-444r-cwp2-x5xf Forwarded from an untrusted peer', setup: 'fwd', peer: UNTRUSTED, headers: { forwarded: 'for=1.2.3.4;proto=https;host=evil.example' }, want: SOCKET_VIEW },
    { name: 'GHSA-444r-cwp2-x5xf client-IP header from an untrusted peer', setup: 'realIp', peer: UNTRUSTED, headers: { 'x-real-ip': '1.2.3.4' }, want: { ip: UNTRUSTED } },
    { name: 'GHSA-444r-cwp2-x5xf hostRewrite header from an untrusted peer', setup: 'rewrite', peer: UNTRUSTED, headers: { 'x-fhost': 'evil.example' }, want: { host: HOST, trusted: false } },
    { name: 'GHSA-444r-cwp2-x5xf IPv4-mapped untrusted peer', setup: 'list', peer: '::ffff:203.0.113.9', headers: SPOOF, want: { ip: '::ffff:203.0.113.9', protocol: 'http', host: HOST } },
    { name: 'GHSA-444r-cwp2-x5xf IPv6 untrusted peer', setup: 'list', peer: '2001:db8::9', headers: SPOOF, want: { ip: '2001:db8::9', protocol: 'http', host: HOST } },
    { name: 'GHSA-444r-cwp2-x5xf trusted peer: the same headers are honoured', setup: 'one', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example' }, want: { protocol: 'https', host: 'pub.example' } },
    { name: 'GHSA-444r-cwp2-x5xf IPv4-mapped trusted peer is the IPv4 peer', setup: 'one', peer: '::ffff:10.0.0.1', headers: { 'x-forwarded-proto': 'https' }, want: { protocol: 'https' } },
    { name: 'GHSA-444r-cwp2-x5xf trust false: nothing honoured', setup: 'both', peer: '198.51.100.1', headers: { ...SPOOF, 'x-fhost': 'evil.example' }, want: { ip: '198.51.100.1', host: HOST, protocol: 'http' } },
    { name: 'GHSA-3m5p-2c4r-xxw2 a hop count from a public peer is not believed', setup: 'count1', peer: UNTRUSTED, headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https' }, want: SOCKET_VIEW },
    { name: 'GHSA-3m5p-2c4r-xxw2 a hop count from a private peer is', setup: 'count1', peer: '10.0.0.1', headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https' }, want: { ip: '1.2.3.4', protocol: 'https' } },
    { name: 'peers true: a count from any peer (documented risk, warned at startup)', setup: 'count1Unchecked', peer: UNTRUSTED, headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https' }, want: { ip: '1.2.3.4', protocol: 'https' } },
    { name: 'trust true trusts anyone (documented risk, warned at startup)', setup: 'all', peer: UNTRUSTED, headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: '1.2.3.4' } }
  ]))
})

test('X-Forwarded-For: strict addresses only (CVE-2024-29415, CVE-2023-42282), walked from the right', async (t) => {
  const ip = (xff: string | string[], want: string, extra: Json = {}, setup: Row['setup'] = 'list'): Row =>
    ({ name: `X-Forwarded-For ${JSON.stringify(xff)} -> ${want}`, setup, peer: setup === 'loopback' ? '127.0.0.1' : TRUSTED, headers: { 'x-forwarded-for': xff }, want: { ip: want, ...extra } })
  await check(t, rows([
    ip('127.1', TRUSTED),
    ip('012.1.2.3', TRUSTED),
    ip('0177.0.0.1', TRUSTED),
    ip('0x7f.0.0.1', TRUSTED),
    ip('2130706433', TRUSTED),
    ip('1.2.3', TRUSTED),
    ip('1.2.3.4.5', TRUSTED),
    ip('256.1.1.1', TRUSTED),
    ip('1.2.3.-4', TRUSTED),
    ip('1.2.3.4 5', TRUSTED),
    ip('::fFFf:127.0.0.1', '::ffff:127.0.0.1'),
    ip('::ffff:7f00:1', '::ffff:127.0.0.1'),
    ip('1.2.3.4, ::fFFf:127.0.0.1', '1.2.3.4', {}, 'loopback'),
    ip('127.1', '127.0.0.1', {}, 'loopback'),
    ip('2001:DB8:0:0:0:0:0:1', '2001:db8::1'),
    ip('2001:db8::1:0:0:1', '2001:db8::1:0:0:1'),
    ip('[2001:db8::1]:443', '2001:db8::1'),
    ip('[2001:db8::1]', '2001:db8::1'),
    ip('2001:db8::1:443', '2001:db8::1:443'),
    ip('[2001:db8::1', TRUSTED),
    ip('2001:db8:::1', TRUSTED),
    ip('fe80::1%eth0', 'fe80::1'),
    ip('fe80::1%', TRUSTED),
    ip('1.2.3.4:80', '1.2.3.4'),
    ip('1.2.3.4:', TRUSTED),
    ip('1.2.3.4:99999x', TRUSTED),
    ip('unknown', TRUSTED),
    ip('UNKNOWN', TRUSTED),
    ip('_hidden', TRUSTED),
    ip('proxy', TRUSTED),
    ip('<script>', TRUSTED),
    ip('localhost', TRUSTED),
    ip('', TRUSTED),
    ip(' , ,', TRUSTED),
    ip('1.2.3.4, 5.6.7.8', '5.6.7.8'),
    ip('6.6.6.6, 1.2.3.4, 10.0.0.2', '1.2.3.4', { ips: [TRUSTED, '10.0.0.2', '1.2.3.4'] }),
    ip('10.0.0.3, 10.0.0.2', '10.0.0.3'),
    ip('1.2.3.4, proxy', TRUSTED),
    ip('proxy, 1.2.3.4', '1.2.3.4'),
    ip('1.2.3.4,,10.0.0.2', '1.2.3.4'),
    ip(['6.6.6.6', '1.2.3.4'], '1.2.3.4'),
    ip('1.2.3.4\t', '1.2.3.4'),
    ip(Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 2}`).join(', '), '10.0.0.10'),
    ip('127.0.0.1', '127.0.0.1'),
    ip('1.2.3.4, 127.0.0.1', '1.2.3.4', {}, 'loopback'),
    ip('1.2.3.4, ::1', '1.2.3.4', {}, 'loopback')
  ]))
})

test('strict mode: a malformed value from a trusted proxy is a 400, never used', async (t) => {
  const bad = (name: string, headers: Headers, setup: Row['setup'] = 'strict'): Row =>
    ({ name, setup, headers, want: { status: 400, code: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } })
  await check(t, rows([
    bad('X-Forwarded-For 127.1', { 'x-forwarded-for': '127.1' }),
    bad('X-Forwarded-For proxy after a client', { 'x-forwarded-for': '1.2.3.4, proxy' }),
    bad('X-Forwarded-For with 33 trusted entries', { 'x-forwarded-for': Array.from({ length: 33 }, () => '10.0.0.5').join(',') }),
    bad('X-Forwarded-Proto javascript', { 'x-forwarded-proto': 'javascript' }),
    bad('X-Forwarded-Host with userinfo (GHSA-7gcc-r8m5-44qm: evil.com:fake@legitimate.com)', { 'x-forwarded-host': 'evil.com:fake@legitimate.com' }),
    bad('X-Forwarded-Host with a path (GHSA-g2pf-xv49-m2h5)', { 'x-forwarded-host': 'evil.com/x' }),
    bad('X-Forwarded-Port 0', { 'x-forwarded-port': '0' }),
    bad('X-Forwarded-Prefix //evil.com', { 'x-forwarded-prefix': '//evil.com' }),
    bad('Forwarded duplicated for', { forwarded: 'for=1.2.3.4;for=5.6.7.8' }, 'fwdStrict'),
    bad('Forwarded unterminated quote', { forwarded: 'for="1.2.3.4' }, 'fwdStrict'),
    bad('Forwarded host with userinfo', { forwarded: 'host="user@evil.example"' }, 'fwdStrict'),
    bad('client-IP header with a list', { 'x-real-ip': '1.2.3.4, 5.6.7.8' }, 'realIpStrict'),
    bad('client-IP header 0x7f.0.0.1', { 'x-real-ip': '0x7f.0.0.1' }, 'realIpStrict'),
    bad('hostRewrite header with userinfo (GHSA-7gcc-r8m5-44qm)', { 'x-fhost': 'evil.com:fake@legitimate.com:3000' }, 'rewriteStrict'),
    bad('hostRewrite header with two lines', { 'x-fhost': ['a.example', 'b.example'] }, 'rewriteStrict'),
    { name: 'a well-formed chain passes strict mode', setup: 'strict', headers: { 'x-forwarded-for': '1.2.3.4, 10.0.0.2', 'x-forwarded-proto': 'https, http' }, want: { status: 200, ip: '1.2.3.4', protocol: 'https' } },
    { name: 'unknown and obfuscated nodes are not malformed in strict mode', setup: 'strict', headers: { 'x-forwarded-for': '_obf, unknown' }, want: { status: 200, ip: TRUSTED } }
  ]))
})

test('X-Forwarded-Proto, -Port and -Prefix: only valid values from the client hop', async (t) => {
  const proto = (v: string, want: string, xff?: string): Row =>
    ({ name: `X-Forwarded-Proto ${JSON.stringify(v)}${xff === undefined ? '' : ` with X-Forwarded-For ${xff}`} -> ${want}`, setup: 'list', headers: xff === undefined ? { 'x-forwarded-proto': v } : { 'x-forwarded-proto': v, 'x-forwarded-for': xff }, want: { protocol: want } })
  const port = (v: string, want: Json): Row => ({ name: `X-Forwarded-Port ${JSON.stringify(v)}`, setup: 'list', headers: { 'x-forwarded-port': v }, want })
  const prefix = (v: string, want: string): Row => ({ name: `X-Forwarded-Prefix ${JSON.stringify(v)} -> ${JSON.stringify(want)}`, setup: 'list', headers: { 'x-forwarded-prefix': v }, want: { prefix: want } })
  await check(t, rows([
    proto('https', 'https'),
    proto('HTTPS', 'https'),
    proto('wss', 'https'),
    proto('ws', 'http'),
    proto('ftp', 'http'),
    proto('https:', 'http'),
    proto('javascript', 'http'),
    proto('https ', 'https'),
    proto('http, https', 'https'),
    proto('https, http', 'http'),
    proto('https, http', 'https', '1.2.3.4, 10.0.0.2'),
    proto('http, https', 'https', '1.2.3.4'),
    proto('https', 'https', '6.6.6.6, 1.2.3.4, 10.0.0.2'),
    port('443', { host: `${HOST}:443`, port: 443, url: `http://${HOST}:443/r` }),
    port('8080', { host: `${HOST}:8080`, port: 8080 }),
    port('65535', { port: 65535 }),
    port('65536', { host: HOST, port: null }),
    port('0', { host: HOST, port: null }),
    port('-1', { host: HOST, port: null }),
    port('80abc', { host: HOST, port: null }),
    port('0x50', { host: HOST, port: null }),
    port('８０', { host: HOST, port: null }),
    prefix('/app/', '/app'),
    prefix('/', ''),
    prefix('/a/b', '/a/b'),
    prefix('//evil.com', ''),
    prefix('/a/../b', ''),
    prefix('/a/%2e%2E/b', ''),
    prefix('/a/%2e', ''),
    prefix('/a%2fb', ''),
    prefix('/a%5Cb', ''),
    prefix('/a\\b', ''),
    prefix('\\\\evil.com', ''),
    prefix('http://evil.com', ''),
    prefix('/a?b', ''),
    prefix('/a#b', ''),
    prefix('/a b', ''),
    prefix('/a%zz', ''),
    prefix('app', '')
  ]))
})

test('X-Forwarded-Host and Host: no userinfo, path, query or fragment (GHSA-7gcc-r8m5-44qm, GHSA-g2pf-xv49-m2h5)', async (t) => {
  const xfh = (v: string, want: Json, name = ''): Row => ({ name: `${name}X-Forwarded-Host ${JSON.stringify(v)}`, setup: 'list', headers: { 'x-forwarded-host': v }, want })
  const kept = { host: HOST, hostname: HOST }
  await check(t, rows([
    xfh('evil.com:fake@legitimate.com', kept, 'GHSA-7gcc-r8m5-44qm '),
    xfh('evil.com:fake@legitimate.com:3000', kept, 'GHSA-7gcc-r8m5-44qm '),
    xfh('user@example.com', kept, 'GHSA-7gcc-r8m5-44qm '),
    xfh('legitimate.com@evil.com', kept, 'GHSA-g2pf-xv49-m2h5 '),
    xfh('evil.com/legitimate.com', kept, 'GHSA-g2pf-xv49-m2h5 '),
    xfh('evil.com?.legitimate.com', kept, 'GHSA-g2pf-xv49-m2h5 '),
    xfh('evil.com#.legitimate.com', kept, 'GHSA-g2pf-xv49-m2h5 '),
    xfh('evil.com\\legitimate.com', kept),
    xfh('evil com', kept),
    xfh('évil.com', kept),
    xfh('xn--vil-bma.com', { host: 'xn--vil-bma.com', hostname: 'xn--vil-bma.com' }),
    xfh('pub.example:8443', { host: 'pub.example:8443', hostname: 'pub.example', port: 8443 }),
    xfh('pub.example:0', kept),
    xfh('pub.example:65536', kept),
    xfh('pub.example:', kept),
    xfh('pub.example:443:443', kept),
    xfh('[2001:db8::1]:8443', { host: '[2001:db8::1]:8443', hostname: '[2001:db8::1]', port: 8443 }),
    xfh('[2001:db8::1]', { host: '[2001:db8::1]', hostname: '[2001:db8::1]', port: null }),
    xfh('2001:db8::1', kept),
    xfh('[evil.com]', kept),
    xfh('[::1]x', kept),
    xfh('a'.repeat(300), kept),
    xfh('a.example, b.example', { host: 'b.example' }),
    { name: 'X-Forwarded-Host from the client hop of a two-proxy chain', setup: 'list', headers: { 'x-forwarded-for': '1.2.3.4, 10.0.0.2', 'x-forwarded-host': 'pub.example, internal.example' }, want: { host: 'pub.example' } },
    { name: 'X-Forwarded-Port replaces the port of the forwarded host', setup: 'list', headers: { 'x-forwarded-host': 'pub.example:1', 'x-forwarded-port': '443' }, want: { host: 'pub.example:443', url: 'http://pub.example:443/r' } },
    { name: 'https with port 443: no port in proxy.url()', setup: 'list', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example:443' }, want: { url: 'https://pub.example/r' } },
    // The socket's own view is never validated on the way in (Fastify's semantics)...
    { name: 'GHSA-7gcc-r8m5-44qm Host itself with userinfo: the socket view, as Fastify reads it', setup: 'list', peer: UNTRUSTED, headers: { host: 'evil.com:fake@legitimate.com:3000' }, want: { host: 'evil.com:fake@legitimate.com:3000', hostname: 'evil.com' } }
  ]))
})

test('allowedHosts: a malformed Host never passes, whatever its hostname part says (regression)', async (t) => {
  const host = (h: string, status: number, setup: Row['setup'] = 'allowed', tag = ''): Row =>
    ({ name: `${tag}Host ${JSON.stringify(h)} -> ${status}`, setup, peer: UNTRUSTED, headers: { host: h }, want: status === 400 ? { status, code: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } : { status, host: h } })
  await check(t, rows([
    host('app.example', 200),
    host('api.example.com', 200),
    host('example.com:8443', 200),
    host('API.Example.COM', 200),
    host('evil.com:fake@app.example', 400, 'allowed', 'GHSA-7gcc-r8m5-44qm '),
    host('evil.com:fake@app.example:3000', 400, 'allowed', 'GHSA-7gcc-r8m5-44qm '),
    // Before the fix these passed: the hostname part matched, the whole Host pointed elsewhere.
    host('app.example:@evil.com', 400),
    host('app.example:x@evil.com', 400),
    host('evil.com/.example.com', 400, 'allowed', 'GHSA-g2pf-xv49-m2h5 '),
    host('evil.com?.example.com', 400, 'allowed', 'GHSA-g2pf-xv49-m2h5 '),
    host('evil.com#.example.com', 400, 'allowed', 'GHSA-g2pf-xv49-m2h5 '),
    host('evil.com@x.example.com', 400, 'allowed', 'GHSA-g2pf-xv49-m2h5 '),
    host('a b.example.com', 400),
    host('evil.com\\.example.com', 400),
    host('app.example:80abc', 400),
    host('evilexample.com', 400),
    host('example.com.evil.com', 400),
    host('app.example.evil', 400),
    host('', 400),
    host('app.example:@evil.com', 400, 'rewriteAllowed'),
    host('evil.com/.example.com', 400, 'rewriteAllowed'),
    host('x.example.com', 200, 'rewriteAllowed'),
    { name: 'X-Forwarded-Host outside allowedHosts', setup: 'allowed', headers: { 'x-forwarded-host': 'evil.com' }, want: { status: 400, code: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } },
    { name: 'X-Forwarded-Host inside allowedHosts', setup: 'allowed', headers: { 'x-forwarded-host': 'shop.example.com' }, want: { status: 200, host: 'shop.example.com' } },
    { name: 'hostRewrite header outside allowedHosts', setup: 'rewriteAllowed', headers: { 'x-fhost': 'evil.com' }, want: { status: 400, code: 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED' } },
    { name: 'GHSA-g2pf-xv49-m2h5 malformed X-Forwarded-Host is ignored, then the Host is checked', setup: 'allowed', headers: { 'x-forwarded-host': 'x.example.com/@evil.com' }, want: { status: 200, host: HOST } }
  ]))
})

test('RFC 7239 Forwarded', async (t) => {
  const fwd = (v: string, want: Json, peer = TRUSTED): Row => ({ name: `Forwarded ${JSON.stringify(v)}${peer === TRUSTED ? '' : ' from ' + peer}`, setup: 'fwd', peer, headers: { forwarded: v }, want })
  await check(t, rows([
    fwd('for=1.2.3.4;proto=https;host=pub.example', { ip: '1.2.3.4', protocol: 'https', host: 'pub.example' }),
    fwd('for="[2001:db8:cafe::17]:4711"', { ip: '2001:db8:cafe::17' }),
    fwd('for=2001:db8::1', { ip: TRUSTED }),
    fwd('for=unknown;proto=https', { ip: TRUSTED, protocol: 'https' }),
    fwd('for=_hidden', { ip: TRUSTED }),
    fwd('for=127.1', { ip: TRUSTED }),
    fwd('for=1.2.3.4;for=5.6.7.8', { ip: TRUSTED }),
    fwd('for="1.2.3.4', { ip: TRUSTED }),
    fwd('For=1.2.3.4;PROTO=HTTPS', { ip: '1.2.3.4', protocol: 'https' }),
    fwd('for=6.6.6.6;proto=https, for=1.2.3.4;proto=http, for=10.0.0.2', { ip: '1.2.3.4', protocol: 'http' }),
    fwd('for=1.2.3.4;host="evil.com:fake@legitimate.com"', { ip: '1.2.3.4', host: HOST }),
    fwd('for=1.2.3.4;host="evil.com/x"', { host: HOST }),
    fwd('for=1.2.3.4;proto=javascript', { protocol: 'http' }),
    fwd('for=1.2.3.4;secret=x', { ip: '1.2.3.4' }),
    fwd(';;for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('for=1.2.3.4,', { ip: '1.2.3.4' }),
    fwd('for=1.2.3.4;proto=https', { ip: UNTRUSTED, protocol: 'http' }, UNTRUSTED),
    // Regression: a client's broken Forwarded, with the proxy's element appended, used to be
    // dropped whole, so request.ip became the proxy's own address.
    fwd('x, for=1.2.3.4;proto=https', { ip: '1.2.3.4', ips: [TRUSTED, '1.2.3.4'], protocol: 'https' }),
    fwd('for=", for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('x, for=10.0.0.2, for=1.2.3.4;proto=https, , ', { ip: '1.2.3.4', protocol: 'https' }),
    fwd('for="a, b", for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('x="a, b, for=1.2.3.4"', { ip: TRUSTED }),
    fwd('for=a;for=b, for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('for="[::1", for="[2001:db8::7]:443";host=pub.example', { ip: '2001:db8::7', host: 'pub.example' }),
    fwd('for=6.6.6.6, x, for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('junk, for=10.0.0.3, for=10.0.0.2', { ip: '10.0.0.3', ips: [TRUSTED, '10.0.0.2', '10.0.0.3'] }),
    fwd('junk, ' + Array.from({ length: 40 }, () => 'for=10.0.0.5').join(', '), { ip: '10.0.0.5' }),
    fwd('for=1.2.3.4, x="', { ip: TRUSTED }),
    { name: 'Forwarded: a broken part is still a 400 in strict mode', setup: 'fwdStrict', headers: { forwarded: 'x, for=1.2.3.4' }, want: { status: 400, code: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'Forwarded mode ignores X-Forwarded-For', setup: 'fwd', headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: TRUSTED } },
    { name: 'X-Forwarded mode ignores a Forwarded header the proxy passed through', setup: 'list', headers: { forwarded: 'for=1.2.3.4;proto=https' }, want: { ip: TRUSTED, protocol: 'http' } }
  ]))
})

test('client-IP header and hostRewrite', async (t) => {
  const real = (v: string | string[], want: string): Row => ({ name: `X-Real-IP ${JSON.stringify(v)} -> ${want}`, setup: 'realIp', headers: { 'x-real-ip': v }, want: { ip: want } })
  const fh = (v: string | string[], want: Json, setup: Row['setup'] = 'rewrite', name = ''): Row => ({ name: `${name}X-FHost ${JSON.stringify(v)}`, setup, headers: { 'x-fhost': v }, want })
  const kept = { host: HOST, hostname: HOST }
  await check(t, rows([
    real('1.2.3.4', '1.2.3.4'),
    real(' 1.2.3.4 ', '1.2.3.4'),
    real('2001:DB8::1', '2001:db8::1'),
    real('1.2.3.4, 5.6.7.8', TRUSTED),
    real(['1.2.3.4', '5.6.7.8'], TRUSTED),
    real('127.1', TRUSTED),
    real('unknown', TRUSTED),
    real('', TRUSTED),
    { name: 'the client-IP header wins over X-Forwarded-For', setup: 'realIp', headers: { 'x-real-ip': '1.2.3.4', 'x-forwarded-for': '5.6.7.8' }, want: { ip: '1.2.3.4' } },
    fh('pub.example', { host: 'pub.example', hostname: 'pub.example', port: null }),
    fh('pub.example:8443', { host: 'pub.example:8443', port: 8443 }),
    fh('[2001:db8::1]:443', { hostname: '[2001:db8::1]', port: 443 }),
    fh('evil.com:fake@legitimate.com', kept, 'rewrite', 'GHSA-7gcc-r8m5-44qm '),
    fh('user@example.com', kept, 'rewrite', 'GHSA-7gcc-r8m5-44qm '),
    fh('evil.com@legitimate.com', kept, 'rewrite', 'GHSA-g2pf-xv49-m2h5 '),
    fh('evil.com/legitimate.com', kept, 'rewrite', 'GHSA-g2pf-xv49-m2h5 '),
    fh('evil.com?legitimate.com', kept, 'rewrite', 'GHSA-g2pf-xv49-m2h5 '),
    fh('evil.com#legitimate.com', kept, 'rewrite', 'GHSA-g2pf-xv49-m2h5 '),
    fh('a.example, b.example', kept),
    fh(['a.example', 'b.example'], kept),
    fh('', kept),
    fh('a\tb', kept),
    fh('pub.example', { host: 'pub.example' }, 'both', 'with proxyFix: '),
    { name: 'with proxyFix: the custom header wins over X-Forwarded-Host and -Port', setup: 'both', headers: { 'x-fhost': 'pub.example', 'x-forwarded-host': 'other.example', 'x-forwarded-port': '8443', 'x-forwarded-for': '1.2.3.4' }, want: { host: 'pub.example', port: null, ip: '1.2.3.4' } },
    { name: 'with proxyFix: a malformed custom header leaves X-Forwarded-Host', setup: 'both', headers: { 'x-fhost': 'a@b', 'x-forwarded-host': 'other.example' }, want: { host: 'other.example' } }
  ]))
})

test('registration refuses unsafe or ambiguous options', async (t) => {
  const cases: Array<[string, unknown, Json, string]> = [
    ['trust "127.1" (CVE-2024-29415)', proxyFix, { trust: '127.1' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "012.1.2.3" (CVE-2023-42282)', proxyFix, { trust: '012.1.2.3' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "0x7f.0.0.1"', proxyFix, { trust: '0x7f.0.0.1' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust with a zone', proxyFix, { trust: 'fe80::1%eth0' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "10.0.0.0/33"', proxyFix, { trust: '10.0.0.0/33' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "localhost"', proxyFix, { trust: 'localhost' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust 1.5', proxyFix, { trust: 1.5 }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['hostRewrite trust true', hostRewrite, { header: 'x-fhost', trust: true }, 'FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED'],
    ['hostRewrite header Host', hostRewrite, { header: 'host' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['allowedHosts with userinfo', proxyFix, { allowedHosts: ['user@example.com'] }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['GHSA-3wf5-7852-vcfq mountApp array prefix', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: ['/a', '/b'] }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['GHSA-3wf5-7852-vcfq mountApp RegExp prefix', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: /^\/admin/ }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['mountApp encoded prefix /%61dmin', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: '/%61dmin' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['mountApp pattern prefix /:id', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: '/:id' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION']
  ]
  rowCount += cases.length
  for (const [name, plugin, opts, code] of cases) {
    const app = Fastify()
    const err = await app.register(plugin as any, opts).ready().then(() => null, (e: Error & { code?: string }) => e)
    t.equal(err?.code, code, name)
    await app.close().catch(() => {})
  }
  const both = Fastify({ trustProxy: true })
  const err = await both.register(proxyFix).ready().then(() => null, (e: Error & { code?: string }) => e)
  t.equal(err?.code, 'FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT', 'proxyFix with Fastify trustProxy')
  rowCount++
})

// ---- mountApp: paths, over real sockets so that nothing normalises the request target ----

interface MountRow {
  name: string
  path: string
  /** 403: stopped by the scope's guard; 200: reached an unguarded route; 404 / 400: no route. */
  status: number
  router?: FastifyServerOptions['routerOptions']
  key?: boolean
  /** What the guarded app saw as req.url, when the key let the request through. */
  url?: string
}

async function mountServer (router: FastifyServerOptions['routerOptions'], leaks: string[]): Promise<FastifyInstance> {
  const f = Fastify({ routerOptions: router })
  const app = (label: string) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.headers['x-key'] !== 'ok') leaks.push(`${label} ${String(req.url)}`)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ app: label, url: req.url }))
  }
  const guard = async (req: { headers: http.IncomingHttpHeaders }, reply: { code: (n: number) => { send: (b: string) => void } }): Promise<void> => {
    if (req.headers['x-key'] !== 'ok') reply.code(403).send('guarded')
  }
  // GHSA-72c6-fx6q-fr5w: the guard is on a parent scope; the mounts sit in a child scope.
  await f.register(async (parent) => {
    parent.addHook('onRequest', guard)
    await parent.register(async (child) => {
      await child.register(mountApp, { app: app('admin'), prefix: '/admin' })
      await child.register(mountApp, { app: app('secret'), prefix: '/secret' })
    })
    const users = express.Router()
    users.get('/:id/comments', (req, res) => { res.end(JSON.stringify({ app: 'user', id: req.params.id })) })
    users.use((req, _res, next) => { if (req.headers['x-key'] !== 'ok') leaks.push('user ' + req.url); next() })
    await parent.register(mountApp, { app: users, prefix: '/user' })
    // GHSA-hrwm-hgmj-7p9c: a mount inside a prefixed scope gets the scope prefix once.
    await parent.register(async (v1) => {
      await v1.register(mountApp, { app: app('v1admin'), prefix: '/admin' })
    }, { prefix: '/v1' })
  })
  f.get('/admin-panel', async () => ({ app: 'panel' }))
  await f.register(mountApp, { app: (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('{"app":"public"}'), prefix: '/public' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}

function get (port: number, path: string, headers: http.OutgoingHttpHeaders, agent: http.Agent): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, body }))
    }).on('error', reject)
  })
}

test('mountApp: middie and @fastify/express advisories, the guard is never bypassed', async (t) => {
  const dup = { ignoreDuplicateSlashes: true }
  const semi = { useSemicolonDelimiter: true }
  const list: MountRow[] = [
    // GHSA-cxrg-g7r8-w69p (@fastify/middie) and GHSA-g6q3-96cp-5r5m (@fastify/express): /%61dmin
    { name: 'GHSA-cxrg-g7r8-w69p /%61dmin', path: '/%61dmin', status: 403 },
    { name: 'GHSA-cxrg-g7r8-w69p /%61dmin/x', path: '/%61dmin/x', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61dmin', path: '/%61dmin', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61%64%6d%69%6e/users', path: '/%61%64%6d%69%6e/users', status: 403 },
    { name: 'GHSA-g6q3-96cp-5r5m /%61dmin with the key reaches the app, encoding kept', path: '/%61dmin/a%2Fb', status: 200, key: true, url: '/a%2Fb' },
    { name: 'GHSA-cxrg-g7r8-w69p /%2561dmin is not /admin', path: '/%2561dmin', status: 404 },
    // GHSA-8p85-9qpw-fwgw (@fastify/middie): //secret, /secret;foo=bar, /secret/
    { name: 'GHSA-8p85-9qpw-fwgw //secret, default router', path: '//secret', status: 404 },
    { name: 'GHSA-8p85-9qpw-fwgw //secret, ignoreDuplicateSlashes', path: '//secret', status: 403, router: dup },
    { name: 'GHSA-8p85-9qpw-fwgw //secret/x, ignoreDuplicateSlashes', path: '//secret//x', status: 403, router: dup },
    { name: 'GHSA-8p85-9qpw-fwgw //secret with the key: the app sees the collapsed path', path: '//secret//x', status: 200, router: dup, key: true, url: '/x' },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar, default router', path: '/secret;foo=bar', status: 404 },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar, useSemicolonDelimiter', path: '/secret;foo=bar', status: 403, router: semi },
    { name: 'GHSA-8p85-9qpw-fwgw /secret;foo=bar with the key: the rest is the query', path: '/secret;foo=bar', status: 200, router: semi, key: true, url: '/?foo=bar' },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/', path: '/secret/', status: 403 },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/, ignoreTrailingSlash', path: '/secret/', status: 403, router: { ignoreTrailingSlash: true } },
    { name: 'GHSA-8p85-9qpw-fwgw /secret/x;foo=bar', path: '/secret/x;foo=bar', status: 403 },
    // GHSA-72c6-fx6q-fr5w (@fastify/middie): child scopes keep the parent guard; /admin is not /admin-panel
    { name: 'GHSA-72c6-fx6q-fr5w child scope mount keeps the parent guard', path: '/admin/x', status: 403 },
    { name: 'GHSA-72c6-fx6q-fr5w /admin-panel is not under /admin', path: '/admin-panel', status: 200 },
    { name: 'GHSA-72c6-fx6q-fr5w /adminx is not under /admin', path: '/adminx', status: 404 },
    { name: 'GHSA-72c6-fx6q-fr5w /admin-panel/x is not under /admin', path: '/admin-panel/x', status: 404 },
    // GHSA-2v46-jxjm-7q3v (@fastify/middie): %2F inside a parameter
    { name: 'GHSA-2v46-jxjm-7q3v /user/a%2Fb/comments is guarded', path: '/user/a%2Fb/comments', status: 403 },
    { name: 'GHSA-2v46-jxjm-7q3v /user/a%2fb/comments is guarded', path: '/user/a%2fb/comments', status: 403 },
    { name: 'GHSA-2v46-jxjm-7q3v /user%2Fa/comments is not the mount', path: '/user%2Fa/comments', status: 404 },
    { name: 'GHSA-2v46-jxjm-7q3v with the key, %2F stays inside the parameter', path: '/user/a%2Fb/comments', status: 200, key: true },
    // GHSA-qcc9-jh8q-47vh (@fastify/middie): malformed percent-encoding is a 400 before any app
    { name: 'GHSA-qcc9-jh8q-47vh /%zz', path: '/%zz', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%', path: '/%', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /admin/%zz', path: '/admin/%zz', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /admin/%', path: '/admin/%', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%61dmin/%2', path: '/%61dmin/%2', status: 400 },
    { name: 'GHSA-qcc9-jh8q-47vh /%zz with the key still 400', path: '/admin/%zz', status: 400, key: true },
    // GHSA-6hw5-45gm-fj88 (@fastify/express): //admin, /admin;bypass
    { name: 'GHSA-6hw5-45gm-fj88 //admin, default router', path: '//admin', status: 404 },
    { name: 'GHSA-6hw5-45gm-fj88 //admin, ignoreDuplicateSlashes', path: '//admin', status: 403, router: dup },
    { name: 'GHSA-6hw5-45gm-fj88 ///admin//x, ignoreDuplicateSlashes', path: '///admin//x', status: 403, router: dup },
    { name: 'GHSA-6hw5-45gm-fj88 /admin;bypass, default router', path: '/admin;bypass', status: 404 },
    { name: 'GHSA-6hw5-45gm-fj88 /admin;bypass, useSemicolonDelimiter', path: '/admin;bypass', status: 403, router: semi },
    { name: 'GHSA-6hw5-45gm-fj88 /admin/;bypass', path: '/admin/;bypass', status: 403 },
    // GHSA-hrwm-hgmj-7p9c (@fastify/express): the scope prefix is added once, never twice
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/admin is guarded', path: '/v1/admin/x', status: 403 },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/admin with the key: the app sees /x', path: '/v1/admin/x', status: 200, key: true, url: '/x' },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/v1/admin is no route', path: '/v1/v1/admin/x', status: 404 },
    { name: 'GHSA-hrwm-hgmj-7p9c /v1/%61dmin is guarded', path: '/v1/%61dmin', status: 403 },
    // GHSA-3wf5-7852-vcfq (@fastify/express): a mount inside a prefixed scope is only under it
    { name: 'GHSA-3wf5-7852-vcfq the scoped mount is not reachable without the scope prefix', path: '/admin/y', status: 403 },
    // Spellings that must not reach the app unguarded, on the default router
    { name: 'case: /ADMIN (caseSensitive default true)', path: '/ADMIN', status: 404 },
    { name: 'case: /ADMIN with caseSensitive false', path: '/ADMIN', status: 403, router: { caseSensitive: false } },
    { name: 'dot segment /./admin', path: '/./admin', status: 404 },
    { name: 'dot segment /x/../admin', path: '/x/../admin', status: 404 },
    { name: 'encoded dot segment /%2e/admin', path: '/%2e/admin', status: 404 },
    { name: 'encoded slash /admin%2Fx', path: '/admin%2Fx', status: 404 },
    { name: 'encoded slash /%2Fadmin', path: '/%2Fadmin', status: 404 },
    { name: 'backslash /admin\\x', path: '/admin\\x', status: 404 },
    { name: 'backslash \\admin', path: '/\\admin', status: 404 },
    { name: 'fragment /admin#x', path: '/admin#x', status: 403 },
    { name: 'query /admin?x=/public', path: '/admin?x=/public', status: 403 },
    { name: 'absolute form http://h/admin', path: 'http://h/admin', status: 403 },
    { name: 'absolute form http://h/public/../admin', path: 'http://h/public/../admin', status: 200 },
    { name: 'the unguarded mount /public stays open', path: '/public/x', status: 200 },
    { name: 'a null byte %00 in the path', path: '/admin/%00', status: 403 },
    { name: 'overlong UTF-8 %c0%af', path: '/admin/%c0%af', status: 400 },
    { name: 'encoded semicolon /admin%3Bx', path: '/admin%3Bx', status: 404 },
    { name: 'tab-like %09 after the prefix', path: '/admin%09', status: 404 }
  ]
  rowCount += list.length
  const groups = new Map<string, MountRow[]>()
  for (const row of list) {
    const key = JSON.stringify(row.router ?? {})
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  const leaks: string[] = []
  for (const [key, group] of groups) {
    const f = await mountServer(JSON.parse(key), leaks)
    const port = (f.server.address() as AddressInfo).port
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (const row of group) {
      const res = await get(port, row.path, row.key === true ? { 'x-key': 'ok' } : {}, agent)
      t.equal(res.status, row.status, `${row.name} (${key}) -> ${row.status}`)
      if (row.url !== undefined) t.equal(JSON.parse(res.body).url, row.url, `${row.name}: the app's req.url`)
      if (row.status === 403) t.equal(res.body, 'guarded', `${row.name}: stopped by the guard`)
    }
    agent.destroy()
    await f.close()
  }
  t.same(leaks, [], 'no mounted app ever ran without the guard\'s key')
})

test('mountApp: request targets the router does not read as a path never reach a root mount (regression)', async (t) => {
  // Before the fix, `GET a://b/admin` matched the root mount's wildcard as is, and the app read it
  // as `/admin`: the legacy /admin, shadowed by a guarded Fastify route, answered instead.
  const seen: string[] = []
  const f = Fastify()
  f.get('/admin', { onRequest: async (_req, reply) => { await reply.code(403).send('guarded') } }, async () => 'fastify admin')
  await f.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => { if (req.headers['x-key'] !== 'ok') await reply.code(403).send('guarded') })
    await scope.register(mountApp, { prefix: '/a', app: (req: http.IncomingMessage, res: http.ServerResponse) => res.end('a:' + String(req.url)) })
  })
  await f.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => { seen.push(String(req.url)); res.end('root:' + String(req.url)) } })
  await f.listen({ port: 0, host: '127.0.0.1' })
  const port = (f.server.address() as AddressInfo).port
  const wire = (target: string): Promise<string> => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    socket.on('data', (c) => { data += c })
    socket.on('close', () => resolve(data))
    socket.write(`GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`)
  })
  const list: Array<[string, number, string]> = [
    ['/admin', 403, 'guarded'],
    ['http://h/admin', 403, 'guarded'],
    ['HTTPS://h:8443/admin', 403, 'guarded'],
    ['a://b/admin', 404, ''],
    ['ws://h/admin', 404, ''],
    ['file:///admin', 404, ''],
    ['javascript://x/admin?q', 404, ''],
    ['a://b/a/x', 404, ''],
    ['*', 404, ''],
    ['http://h/a/x', 403, 'guarded'],
    ['/legacy/x', 200, 'root:/legacy/x'],
    ['http://h/legacy?q=1', 200, 'root:/legacy?q=1']
  ]
  rowCount += list.length
  for (const [target, status, body] of list) {
    const res = await wire(target)
    t.match(res, new RegExp(`^HTTP/1\\.1 ${status} `), `${target} -> ${status}`)
    if (body !== '') t.equal(res.slice(res.indexOf('\r\n\r\n') + 4), body, `${target}: ${body}`)
  }
  t.same(seen, ['/legacy/x', '/legacy?q=1'], 'the root app saw only origin-form and http(s) targets')
  await f.close()
})

test('mountApp: forwarded headers from an untrusted peer never reach the app', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: ['10.0.0.0/8'] })
  await f.register(hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'] })
  await f.register(mountApp, { app: (req: http.IncomingMessage, res: http.ServerResponse) => res.end(JSON.stringify({ ip: (req as any).ip, protocol: (req as any).protocol, hostname: (req as any).hostname, headers: req.headers })), prefix: '/legacy' })
  const spoof = { host: HOST, ...SPOOF, forwarded: 'for=1.1.1.1', 'x-fhost': 'evil.example' }
  const list: Array<[string, string, Json, Json]> = [
    ['untrusted: socket values', UNTRUSTED, spoof, { ip: UNTRUSTED, protocol: 'http', hostname: HOST }],
    ['trusted: corrected values, hostRewrite wins', TRUSTED, spoof, { ip: '1.2.3.4', protocol: 'https', hostname: 'evil.example' }],
    ['GHSA-7gcc-r8m5-44qm trusted, userinfo host ignored', TRUSTED, { host: HOST, 'x-forwarded-host': 'evil.com:fake@legitimate.com' }, { hostname: HOST }],
    ['trusted, malformed X-Forwarded-For: the peer', TRUSTED, { host: HOST, 'x-forwarded-for': '127.1' }, { ip: TRUSTED }]
  ]
  rowCount += list.length
  for (const [name, peer, headers, want] of list) {
    const body = (await f.inject({ url: '/legacy/x', remoteAddress: peer, headers: headers as Headers })).json()
    t.has(body, want, name)
    for (const h of ['forwarded', 'x-forwarded-port', 'x-fhost']) t.notOk(h in body.headers, `${name}: ${h} removed`)
    if (peer === UNTRUSTED) for (const h of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix']) t.notOk(h in body.headers, `${name}: ${h} removed`)
    // A trusted prefix is passed on as corrected (as X-Forwarded-Host is); any other never.
    else t.equal(body.headers['x-forwarded-prefix'], (headers as Json)['x-forwarded-prefix'], `${name}: x-forwarded-prefix only as trusted`)
  }
  await f.close()
})

test('row count', async (t) => {
  for (const app of apps.values()) await app.close()
  t.comment(`adversarial rows: ${rowCount}`)
  t.ok(rowCount >= 200, `at least 200 rows (${rowCount})`)
})
