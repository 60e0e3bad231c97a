// Bypass class: forwarded headers believed from an untrusted peer, and lax IP spellings in
// X-Forwarded-For (GHSA-444r-cwp2-x5xf, CVE-2024-29415, CVE-2023-42282).
import { test } from 'tap'
import Fastify from 'fastify'
import type http from 'node:http'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { hostRewrite } from '../../lib/fastify/host-rewrite'
import { mountApp } from '../../lib/mount/mount-app'
import { HOST, SOCKET_VIEW, SPOOF, TRUSTED, UNTRUSTED, check, count, done, rows, type Headers, type Json, type Row } from '../helpers/battery'

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
  count(list.length)
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

done(67, 'xff-spoofing')
