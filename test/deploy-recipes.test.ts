// The recipes of docs/deploy.md, tested. Proxies that run here (nginx, Caddy, HAProxy, Apache
// httpd) are started on loopback with the recipe's configuration in front of a Fastify app with
// the recipe's options; the client connects from its own 127.0.0.x address, so the address the
// app reports proves who was believed. Cloud platforms are replayed: the request shape each one
// documents, from a peer in its documented ranges, and the same headers from a peer outside them.
import { test } from 'tap'
import { parseCommandLine } from '../lib/server/args'
import { resolveSettings, type Key } from '../lib/server/settings'
import { fixOptions } from '../lib/server/proxy-settings'
import fs from 'node:fs'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { proxyProtocolServer } from '../lib/proxy-protocol/server'
import { call } from './helpers/http'
import { freePort, portOf } from './helpers/ports'
import { missing, runNginx, runProxy, selfSigned, which, workDir } from './helpers/proxies'
import { caddyfile, haproxyCfg, httpdConf, nginxConf } from './helpers/proxy-configs'
import { exchange, inet, tlv, v2 } from './helpers/proxy-protocol'

type Json = Record<string, any>

/** The app every recipe fronts: it reports what the handler sees. */
async function appWith (options: Record<string, unknown>, serverFactory?: any): Promise<FastifyInstance> {
  const app = Fastify(serverFactory === undefined ? {} : { serverFactory })
  await app.register(proxyFix, options)
  app.get('/*', async (request) => ({
    ip: request.ip,
    protocol: request.protocol,
    host: request.host,
    hostname: request.hostname,
    prefix: request.proxy.prefix,
    url: request.proxy.url('/x'),
    original: request.proxy.original.ip
  }))
  return app
}

/** What a client sends to fool the app: every forwarded header, forged. */
function forged (proto: 'http' | 'https'): Record<string, string> {
  return {
    'x-forwarded-for': '6.6.6.6',
    forwarded: 'for=6.6.6.6;proto=https;host=evil.example',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': proto,
    'x-forwarded-port': '6666',
    'x-forwarded-prefix': '/evil'
  }
}

const bins = { nginx: which('nginx'), caddy: which('caddy'), haproxy: which('haproxy'), apache2: which('apache2'), openssl: which('openssl'), traefik: which('traefik') }

async function listen (t: Tap.Test, app: FastifyInstance): Promise<number> {
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return portOf(app.server)
}

interface Want { client: string, protocol: 'http' | 'https', host: string, prefix: string }

/** Through the proxy with forged headers: the app sees the real client; directly: nothing is believed. */
async function check (t: Tap.Test, base: string, appPort: number, want: Want): Promise<void> {
  const through = await call(`${base}/page`, want.client, { ...forged(want.protocol === 'https' ? 'http' : 'https'), host: want.host })
  t.equal(through.status, 200)
  t.strictSame(through.body, {
    ip: want.client,
    protocol: want.protocol,
    host: want.host,
    hostname: want.host.replace(/:\d+$/, ''),
    prefix: want.prefix,
    url: `${want.protocol}://${want.host}${want.prefix}/x`,
    original: through.body.original
  }, 'through the proxy: the real client, scheme, host and prefix; no forged value wins')
  t.not(through.body.original, want.client, 'the socket peer is the proxy')
  const direct = await call(`http://127.0.0.1:${appPort}/page`, want.client, { ...forged('https'), host: 'direct.example' })
  t.strictSame(direct.body, {
    ip: want.client, protocol: 'http', host: 'direct.example', hostname: 'direct.example', prefix: '', url: 'http://direct.example/x', original: want.client
  }, 'straight to the app: the forged headers are ignored')
}

/** The proxyFix options `serve` derives from these flags. */
function serveOptions (flags: string[]): Record<string, unknown> {
  const cl = parseCommandLine(['serve', ...flags])
  return fixOptions(resolveSettings({ flags: cl.flags, flagNamer: (k: Key) => cl.spelled[k] as string, file: {}, fileNamer: (k) => k, env: {}, pid: 1 }).settings)
}

test('real proxies, configured as docs/deploy.md says', { timeout: 60000 }, async (t) => {
  const dir = workDir(t, 'fpf-deploy-')

  t.test('nginx: TLS, X-Forwarded-*, a prefix, proxy_bind', { skip: missing('nginx', [bins.nginx, 'nginx'], [bins.openssl, 'openssl']) }, async (t) => {
    const appPort = await listen(t, await appWith({ trust: '127.0.0.2' }))
    const port = await freePort()
    const { key, cert } = selfSigned(bins.openssl as string, dir)
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d))
    await runNginx(t, bins.nginx as string, dir, nginxConf(dir, port, appPort, cert, key), port, 'nginx-error.log')
    await check(t, `https://127.0.0.1:${port}/app`, appPort, { client: '127.0.0.7', protocol: 'https', host: `public.example:${port}`, prefix: '/app' })
  })

  t.test('Caddy: reverse_proxy', { skip: missing('caddy', [bins.caddy, 'caddy']) }, async (t) => {
    const appPort = await listen(t, await appWith({ trust: '127.0.0.1', fields: ['for', 'proto', 'host'] }))
    const port = await freePort()
    const conf = path.join(dir, 'Caddyfile')
    fs.writeFileSync(conf, caddyfile(port, appPort))
    const home = path.join(dir, 'caddy-home')
    fs.mkdirSync(home)
    const env = { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config') }
    await runProxy(t, 'caddy', bins.caddy as string, ['run', '--config', conf, '--adapter', 'caddyfile'], port, env)
    await check(t, `http://127.0.0.1:${port}`, appPort, { client: '127.0.0.8', protocol: 'http', host: `public.example:${port}`, prefix: '' })
  })

  t.test('HAProxy: option forwardfor, set-header', { skip: missing('HAProxy', [bins.haproxy, 'haproxy']) }, async (t) => {
    const appPort = await listen(t, await appWith({ trust: '127.0.0.3', fields: ['for', 'proto', 'host'] }))
    const port = await freePort()
    const conf = path.join(dir, 'haproxy.cfg')
    fs.writeFileSync(conf, haproxyCfg(port, appPort))
    await runProxy(t, 'haproxy', bins.haproxy as string, ['-db', '-f', conf], port)
    await check(t, `http://127.0.0.1:${port}`, appPort, { client: '127.0.0.9', protocol: 'http', host: `public.example:${port}`, prefix: '' })
  })

  t.test('Apache httpd: mod_proxy_http, mod_headers', { skip: missing('Apache httpd', [bins.apache2, 'apache2']) }, async (t) => {
    const appPort = await listen(t, await appWith({ trust: '127.0.0.1', fields: ['for', 'proto', 'host'] }))
    const port = await freePort()
    const conf = path.join(dir, 'httpd.conf')
    fs.writeFileSync(conf, httpdConf(dir, port, appPort))
    await runProxy(t, 'apache2', bins.apache2 as string, ['-f', conf, '-DFOREGROUND'], port)
    await check(t, `http://127.0.0.1:${port}`, appPort, { client: '127.0.0.10', protocol: 'http', host: `public.example:${port}`, prefix: '' })
  })

  t.test('Traefik', { skip: bins.traefik === null ? 'Traefik has no Debian or npm package (and no traefik binary is on PATH): its recipe is documented, not tested here' : false }, async (t) => {
    t.pass(`a traefik binary exists at ${bins.traefik as string}, but no Traefik recipe test is written: add one`)
  })
})

// ---------------------------------------------------------------------------------------------
// Cloud platforms: their documented request shape, replayed.

const OUTSIDE = '203.0.113.99'

async function replay (t: Tap.Test, options: Record<string, unknown>, peer: string, headers: Record<string, string>): Promise<Json> {
  const app = await appWith(options)
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/', remoteAddress: peer, headers })
  t.equal(res.statusCode, 200)
  return res.json()
}

/** From `peer` the recipe gives `want`; the same headers from a peer outside the platform give the socket's view. */
async function platform (t: Tap.Test, options: Record<string, unknown>, peer: string, headers: Record<string, string>, want: Json): Promise<void> {
  t.match(await replay(t, options, peer, headers), want, `from ${peer}: corrected`)
  t.match(await replay(t, options, OUTSIDE, headers), { ip: OUTSIDE, protocol: 'http', hostname: headers.host.replace(/:\d+$/, ''), original: OUTSIDE },
    `from ${OUTSIDE} (outside the platform): nothing believed`)
}

test('AWS Application Load Balancer (append mode)', async (t) => {
  const headers = { host: 'app.example.com', 'x-forwarded-for': '6.6.6.6, 198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' }
  await platform(t, { trust: ['10.0.0.0/16'] }, '10.0.1.23', headers, { ip: '198.51.100.7', protocol: 'https', hostname: 'app.example.com', url: 'https://app.example.com/x' })
})

test('AWS Network Load Balancer: PROXY protocol v2 with the VPC endpoint TLV, over a real socket', async (t) => {
  // 127.0.0.2 stands for the balancer's subnet in `from`.
  const app = await appWith({}, proxyProtocolServer({ from: '127.0.0.2', logger: null }))
  app.get('/tlv', async (request) => ({ vpce: (request.proxy.proxyProtocol as any)?.tlvs?.awsVpceId ?? null }))
  const port = await listen(t, app)
  const header = v2({ addr: inet('198.51.100.80', '127.0.0.1', 40000, 443), tlvs: tlv(0xea, [0x01, ...Buffer.from('vpce-0123456789abcdef0')]) })
  const request = (url: string): string => `GET ${url} HTTP/1.1\r\nHost: nlb.example.com\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n`
  const body = (data: string): Json => JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4))
  const seen = await exchange(port, [Buffer.concat([header, Buffer.from(request('/'))])], { localAddress: '127.0.0.2' })
  t.match(body(seen.data), { ip: '198.51.100.80', protocol: 'http', hostname: 'nlb.example.com', original: '127.0.0.2' }, 'the client from the header; the forged X-Forwarded-For ignored')
  const tlvs = await exchange(port, [Buffer.concat([header, Buffer.from(request('/tlv'))])], { localAddress: '127.0.0.2' })
  t.strictSame(body(tlvs.data), { vpce: 'vpce-0123456789abcdef0' })
  const outside = await exchange(port, [Buffer.concat([header, Buffer.from(request('/'))])], { localAddress: '127.0.0.5' })
  t.same(outside, { data: '', closed: true }, 'a PROXY header from outside `from` is never read: the connection is closed')
})

test('CloudFront', async (t) => {
  const headers = {
    host: 'www.example.com',
    'x-forwarded-for': '6.6.6.6, 198.51.100.10',
    'cloudfront-viewer-address': '198.51.100.10:46532',
    'cloudfront-forwarded-proto': 'https'
  }
  const peer = '130.176.88.10' // CLOUDFRONT_ORIGIN_FACING 130.176.88.0/21
  t.test('trust the origin-facing ranges, read X-Forwarded-For', async (t) => {
    await platform(t, { trust: ['cloudfront'] }, peer, headers, { ip: '198.51.100.10', hostname: 'www.example.com' })
  })
  t.test('CloudFront-Viewer-Address tied to CloudFront', async (t) => {
    const options = { clientIpHeader: { 'cloudfront-viewer-address': ['cloudfront'] } }
    await platform(t, options, peer, headers, { ip: '198.51.100.10' })
    t.match(await replay(t, options, peer, { ...headers, 'cloudfront-viewer-address': '2001:db8::10:46532' }), { ip: '2001:db8::10' }, 'IPv6 viewer, unbracketed')
    t.match(await replay(t, options, '2600:9000:1000::1', headers), { ip: '198.51.100.10' }, 'an IPv6 origin-facing peer')
  })
})

test('Cloudflare', async (t) => {
  const headers = {
    host: 'www.example.com',
    'cf-connecting-ip': '198.51.100.23',
    'x-forwarded-for': '6.6.6.6, 198.51.100.23',
    'x-forwarded-proto': 'https',
    'cf-visitor': '{"scheme":"https"}'
  }
  const options = { clientIpHeader: { 'cf-connecting-ip': ['cloudflare'] } }
  t.test('CF-Connecting-IP tied to Cloudflare', async (t) => {
    await platform(t, options, '172.70.1.1', headers, { ip: '198.51.100.23', protocol: 'https', url: 'https://www.example.com/x' })
    t.match(await replay(t, options, '2a06:98c0:3600::1', headers), { ip: '198.51.100.23' }, 'an IPv6 Cloudflare peer')
  })
  t.test('Pseudo IPv4 (Overwrite Headers): CF-Connecting-IPv6 holds the client', async (t) => {
    const pseudo = { ...headers, 'cf-connecting-ip': '240.16.0.1', 'cf-connecting-ipv6': '2001:db8::23', 'x-forwarded-for': '240.16.0.1' }
    await platform(t, options, '172.70.1.1', pseudo, { ip: '2001:db8::23', protocol: 'https' })
  })
  t.test('Pseudo IPv4 off: a client\'s own CF-Connecting-IPv6 beside a real IPv4 CF-Connecting-IP is ignored', async (t) => {
    t.match(await replay(t, options, '172.70.1.1', { ...headers, 'cf-connecting-ipv6': '2001:db8::bad' }), { ip: '198.51.100.23' })
    t.match(await replay(t, { trust: 'cloudflare', clientIpHeader: 'cf-connecting-ip' }, '172.70.1.1', { ...headers, 'cf-connecting-ipv6': '2001:db8::bad' }), { ip: '198.51.100.23' }, 'the serve-flag form too')
  })
  t.test('Cloudflare, then your own balancer: the header is believed only where Cloudflare handed over', async (t) => {
    const behind = { ...options, trust: ['10.0.0.0/16'] }
    await platform(t, behind, '10.0.0.9', { ...headers, 'x-forwarded-for': '6.6.6.6, 198.51.100.23, 172.70.1.1' }, { ip: '198.51.100.23', protocol: 'https' })
    t.match(await replay(t, behind, '10.0.0.9', { ...headers, 'x-forwarded-for': '6.6.6.6, 198.51.100.99' }), { ip: '198.51.100.99' },
      'a client that reaches the balancer directly cannot set CF-Connecting-IP')
  })
  t.test('the serve flags: --trust cloudflare --client-ip-header CF-Connecting-IP', async (t) => {
    await platform(t, { trust: 'cloudflare', clientIpHeader: 'cf-connecting-ip' }, '162.158.4.4', headers, { ip: '198.51.100.23', protocol: 'https' })
  })
  t.test('the serve flags: --client-ip-header CF-Connecting-IP=cloudflare', async (t) => {
    await platform(t, serveOptions(['--client-ip-header', 'CF-Connecting-IP=cloudflare']), '162.158.4.4', headers, { ip: '198.51.100.23', protocol: 'https' })
  })
})

test('Google Cloud external Application Load Balancer', async (t) => {
  // "<client>, <load balancer>" appended; the request comes from a GFE in 35.191.0.0/16 or 130.211.0.0/22.
  const headers = { host: 'shop.example.com', 'x-forwarded-for': '6.6.6.6, 198.51.100.30, 34.120.0.10', 'x-forwarded-proto': 'https' }
  t.test('the GFE ranges and the balancer\'s own address', async (t) => {
    await platform(t, { trust: ['gcp-lb', '34.120.0.10'] }, '35.191.10.1', headers, { ip: '198.51.100.30', protocol: 'https' })
  })
  t.test('a hop count of 2, believed from gcp-lb only', async (t) => {
    const options = { trust: 2, peers: ['gcp-lb'], hops: { for: 2, proto: 1, host: 0, port: 0, prefix: 0 } }
    await platform(t, options, '130.211.0.5', headers, { ip: '198.51.100.30', protocol: 'https' })
  })
})

test('Google Cloud Run', async (t) => {
  const headers = { host: 'svc-abc123-uc.a.run.app', 'x-forwarded-for': '198.51.100.40', 'x-forwarded-proto': 'https' }
  await platform(t, { trust: 1 }, '169.254.1.1', headers, { ip: '198.51.100.40', protocol: 'https' })
  t.match(await replay(t, { trust: 1 }, '169.254.1.1', { ...headers, 'x-forwarded-for': '6.6.6.6, 198.51.100.40' }), { ip: '198.51.100.40' }, 'a forged entry on the left is not counted')
})

test('Heroku', async (t) => {
  const headers = { host: 'myapp.herokuapp.com', 'x-forwarded-for': '6.6.6.6, 198.51.100.50', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', via: '1.1 vegur' }
  await platform(t, { trust: 1 }, '10.1.45.23', headers, { ip: '198.51.100.50', protocol: 'https', url: 'https://myapp.herokuapp.com/x' })
})

test('Render', async (t) => {
  // Cloudflare in front of Render's proxy: "<client>, <Cloudflare edge>" from a private address.
  const headers = { host: 'myapp.onrender.com', 'x-forwarded-for': '6.6.6.6, 99.61.165.29, 104.22.17.40', 'x-forwarded-proto': 'https' }
  await platform(t, { trust: ['private', 'cloudflare'] }, '10.21.157.68', headers, { ip: '99.61.165.29', protocol: 'https' })
  t.match(await replay(t, { trust: 1 }, '10.21.157.68', headers), { ip: '104.22.17.40' }, 'without the cloudflare preset, a count of 1 stops at the Cloudflare edge')
})

test('Fly.io', async (t) => {
  // X-Forwarded-For ends with the app's own public address, not a proxy of the walk.
  const headers = { host: 'myapp.fly.dev', 'fly-client-ip': '198.51.100.60', 'x-forwarded-for': '6.6.6.6, 198.51.100.60, 66.241.124.1', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' }
  t.test('Fly-Client-IP tied to the private network', async (t) => {
    await platform(t, { clientIpHeader: { 'fly-client-ip': 'private' } }, '172.16.5.2', headers, { ip: '198.51.100.60', protocol: 'https', url: 'https://myapp.fly.dev/x' })
    t.match(await replay(t, { clientIpHeader: { 'fly-client-ip': 'private' } }, 'fdaa:0:1:a7b::2', headers), { ip: '198.51.100.60' }, 'over 6PN (IPv6)')
  })
  t.test('the serve flags: --trust private --client-ip-header Fly-Client-IP', async (t) => {
    await platform(t, { trust: 'private', clientIpHeader: 'fly-client-ip' }, '172.16.5.2', headers, { ip: '198.51.100.60', protocol: 'https' })
  })
  t.test('the serve flags: --client-ip-header Fly-Client-IP=private', async (t) => {
    await platform(t, serveOptions(['--client-ip-header', 'Fly-Client-IP=private']), '172.16.5.2', headers, { ip: '198.51.100.60', protocol: 'https' })
  })
  t.test('what goes wrong with X-Forwarded-For alone', async (t) => {
    t.match(await replay(t, { trust: 'private' }, '172.16.5.2', headers), { ip: '66.241.124.1' }, 'the walk stops at the app\'s own address')
  })
})

test('Kubernetes ingress-nginx', async (t) => {
  t.test('default: the controller replaces X-Forwarded-For', async (t) => {
    const headers = { host: 'api.example.com', 'x-forwarded-for': '198.51.100.70', 'x-real-ip': '198.51.100.70', 'x-forwarded-host': 'api.example.com', 'x-forwarded-port': '443', 'x-forwarded-proto': 'https', 'x-forwarded-scheme': 'https', 'x-scheme': 'https', 'x-original-forwarded-for': '6.6.6.6' }
    await platform(t, { trust: ['10.244.0.0/16'] }, '10.244.1.7', headers, { ip: '198.51.100.70', protocol: 'https', url: 'https://api.example.com/x' })
  })
  t.test('behind an L7 balancer: use-forwarded-headers and compute-full-forwarded-for', async (t) => {
    const headers = { host: 'api.example.com', 'x-forwarded-for': '6.6.6.6, 198.51.100.70, 10.0.0.4', 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' }
    await platform(t, { trust: ['10.244.0.0/16', '10.0.0.4'] }, '10.244.1.7', headers, { ip: '198.51.100.70', protocol: 'https' })
  })
})
