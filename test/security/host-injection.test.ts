// Bypass class: a forged host through X-Forwarded-Host, Host or a custom host header: userinfo,
// path, query or fragment tricks (GHSA-7gcc-r8m5-44qm, GHSA-g2pf-xv49-m2h5) and allowedHosts evasion.
import { test } from 'tap'
import Fastify from 'fastify'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { hostRewrite } from '../../lib/fastify/host-rewrite'
import { listen, send, snapshot } from '../helpers/seen'
import { HOST, TRUSTED, UNTRUSTED, check, done, rows, type Json, type Row } from '../helpers/battery'

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

// Over real sockets: duplicate and odd header lines reach the server as written.

test('two Host lines are a 400 wherever allowedHosts or strict is set (RFC 9112 §3.2)', async (t) => {
  const twoHosts = 'GET / HTTP/1.1\r\nHost: allowed.example\r\nhost: evil.example\r\nConnection: close\r\n\r\n'
  for (const [name, plugin, opts] of [
    ['allowedHosts', proxyFix, { allowedHosts: ['allowed.example'] }],
    ['strict', proxyFix, { strict: true }],
    ['hostRewrite allowedHosts', hostRewrite, { header: 'x-fhost', allowedHosts: 'allowed.example' }]
  ] as const) {
    const app = Fastify()
    await app.register(plugin as typeof proxyFix, opts as Record<string, unknown>)
    app.get('/', async (req) => ({ host: req.host }))
    const port = await listen(app)
    const res = await send(port, twoHosts)
    t.match(res, /^HTTP\/1.1 400/, `${name}: 400`)
    t.match(res, /FST_ERR_PROXY_FIX_DUPLICATE_HOST.*More than one Host header line/, `${name}: the reason`)
    t.match(await send(port, 'GET / HTTP/1.1\r\nHost: allowed.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/, `${name}: one Host line passes`)
    await app.close()
  }
  const plain = Fastify()
  await plain.register(proxyFix)
  plain.get('/', async (req) => ({ host: req.host }))
  const port = await listen(plain)
  t.match(await send(port, twoHosts), /^HTTP\/1.1 200.*"host":"allowed.example"/s, 'without allowedHosts or strict, not counted (Node keeps the first)')
  await plain.close()
})

test('only SP and HTAB are trimmed: a trailing NBSP (0xA0) is not a valid host, even over a socket', async (t) => {
  for (const strict of [false, true]) {
    const app = Fastify()
    await app.register(proxyFix, { strict })
    app.get('/', async (req) => snapshot(req))
    const port = await listen(app)
    const bytes = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: real.example\r\nConnection: close\r\nX-Forwarded-Host: evil.example'), Buffer.from([0xa0]), Buffer.from('\r\nX-Forwarded-Proto: https\u0009\r\n\r\n')])
    const res = await send(port, bytes)
    if (strict) t.match(res, /^HTTP\/1.1 400.*X-Forwarded-Host/s, 'strict: 400 naming the header')
    else t.match(res, /"host":"real.example","protocol":"https"/, 'not strict: ignored; a trailing HTAB is OWS and trimmed')
    await app.close()
  }
})

test('duplicate X-Forwarded-Host and -Proto lines are joined like X-Forwarded-For, and read from the right', async (t) => {
  const app = Fastify()
  await app.register(proxyFix)
  app.get('/', async (req) => snapshot(req))
  const port = await listen(app)
  const res = await send(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Host: Pub.Example\r\n\r\n')
  t.match(res, /"ip":"203.0.113.9".*"host":"Pub.Example","protocol":"https"/, 'the entries of the client hop, the last line; an uppercase host is kept as sent')
  await app.close()
})

test('allowedHosts refuses a trailing-dot name; uppercase matches', async (t) => {
  const app = Fastify()
  await app.register(proxyFix, { allowedHosts: ['allowed.example'] })
  app.get('/', async (req) => ({ host: req.host }))
  const port = await listen(app)
  t.match(await send(port, 'GET / HTTP/1.1\r\nHost: allowed.example.\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 400.*FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED/s)
  t.match(await send(port, 'GET / HTTP/1.1\r\nHost: ALLOWED.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200.*"host":"ALLOWED.example"/s)
  await app.close()
})

test('HTTP/1.0 without Host and a forwarded port: the host stays empty, never ":8080"', async (t) => {
  const app = Fastify()
  await app.register(proxyFix)
  app.get('/', async (req) => snapshot(req))
  const port = await listen(app)
  const res = await send(port, 'GET / HTTP/1.0\r\nX-Forwarded-Port: 8080\r\nX-Forwarded-Proto: https\r\n\r\n')
  t.match(res, /"host":"","protocol":"https"/)
  t.notMatch(res, /:8080/)
  await app.close()
})

done(78, 'host-injection')
