// Bypass class: scheme downgrade, port and open-redirect prefixes (//evil.com, encoded dot
// segments) through X-Forwarded-Proto, -Port and -Prefix, and strict mode's 400s (GHSA-7gcc-r8m5-44qm, GHSA-g2pf-xv49-m2h5).
import { test } from 'tap'
import { HOST, TRUSTED, check, done, rows, type Headers, type Json, type Row } from '../helpers/battery'

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

done(56, 'scheme-port-prefix')
