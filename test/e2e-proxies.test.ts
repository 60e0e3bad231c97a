import { test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import express from 'express'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { mountApp } from '../lib/mount/mount-app'
import { call } from './helpers/http'
import { freePort, portOf } from './helpers/ports'
import { missing, nginxHttp, nginxMain, runNginx, runProxy, selfSigned, which, workDir } from './helpers/proxies'

// End-to-end: nginx, HAProxy and Caddy from Debian packages, run for real on loopback with
// configs written here, in front of an in-process Fastify app. Each proxy connects to the app
// from its own loopback address, which is all the app trusts; each client connects from another
// (127.0.0.1x), so the client address the app reports proves who was believed.

type Json = Record<string, any>

const NGINX_SOURCE = '127.0.0.2'
const HAPROXY_SOURCE = '127.0.0.3'
const CADDY_SOURCE = '127.0.0.1' // Caddy 2.6 cannot pick its source address: the default for 127.0.0.1
const TRUST = [NGINX_SOURCE, HAPROXY_SOURCE, CADDY_SOURCE, 'unix']

/** Everything a client sends to try to fool the app. */
const SPOOF = {
  'x-forwarded-for': '6.6.6.6',
  forwarded: 'for=6.6.6.6;proto=https;host=evil.example',
  'x-fhost': 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-prefix': '/evil'
}

const bins = { nginx: which('nginx'), haproxy: which('haproxy'), caddy: which('caddy'), openssl: which('openssl') }
function missingOf (...names: Array<keyof typeof bins>): string | false {
  return missing(`e2e ${names.join(' and ')}`, ...names.map((n) => [bins[n], n] as [string | null, string]))
}

/** The app under test: Fastify routes and a mounted Express app, behind proxyFix and hostRewrite. */
async function buildApp (): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(proxyFix, { trust: TRUST })
  await app.register(hostRewrite, { header: 'X-FHost', trust: TRUST })
  const see = (request: FastifyRequest): Json => ({
    via: 'fastify',
    ip: request.ip,
    protocol: request.protocol,
    host: request.host,
    hostname: request.hostname,
    prefix: request.proxy.prefix,
    url: request.proxy.url(request.url),
    login: request.proxy.url('/login')
  })
  app.get('/fastify/*', async (request) => see(request))
  const legacy = express()
  legacy.use((req, res) => {
    res.json({ via: 'express', ip: req.ip, ips: req.ips, protocol: req.protocol, secure: req.secure, hostname: req.hostname, url: req.url, baseUrl: req.baseUrl })
  })
  await app.register(mountApp, { app: legacy, prefix: '/express' })
  return app
}

interface Expect { client: string, protocol: 'http' | 'https', host: string, prefix: string }

/** One client request through a proxy to a Fastify route, one to the mounted Express app. */
async function check (t: Tap.Test, base: string, client: string, want: Expect): Promise<void> {
  const host = want.host
  const f = await call(`${base}/fastify/page?x=1`, client, { ...SPOOF, host })
  t.equal(f.status, 200)
  const origin = `${want.protocol}://${host.replace(want.protocol === 'https' ? /:443$/ : /:80$/, '')}`
  t.strictSame(f.body, {
    via: 'fastify',
    ip: client,
    protocol: want.protocol,
    host,
    hostname: host.replace(/:\d+$/, ''),
    prefix: want.prefix,
    url: `${origin}${want.prefix}/fastify/page?x=1`,
    login: `${origin}${want.prefix}/login`
  }, 'Fastify sees the client, scheme, host and prefix; no spoofed value wins')
  const e = await call(`${base}/express/legacy?y=2`, client, { ...SPOOF, host })
  t.equal(e.status, 200)
  t.match(e.body, { via: 'express', ip: client, protocol: want.protocol, secure: want.protocol === 'https', hostname: f.body.hostname, url: '/legacy?y=2', baseUrl: '/express' },
    'the mounted Express app sees the same values')
  t.notOk(e.body.ips.includes('6.6.6.6'), 'the spoofed address is not in Express\'s ips')
}

test('real proxies in front of the app', { timeout: 120000 }, async (t) => {
  const dir = workDir(t, 'fpf-e2e-')
  const app = await buildApp()
  const unixApp = await buildApp()
  t.teardown(() => app.close())
  t.teardown(() => unixApp.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const sock = path.join(dir, 'app.sock')
  await unixApp.listen({ path: sock })
  const appPort = portOf(app.server)

  // HAProxy: an edge frontend for clients and an inner one behind nginx (the chain).
  const haEdge = await freePort()
  const haInner = await freePort()
  const haproxyReady = bins.haproxy !== null
    ? (async () => {
        const conf = path.join(dir, 'haproxy.cfg')
        fs.writeFileSync(conf, `global
  maxconn 256

defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s

# Facing clients: append the peer to X-Forwarded-For, and set or clear every other header the
# app trusts, since HAProxy passes a client's own headers through.
frontend edge
  bind 127.0.0.1:${haEdge}
  option forwardfor
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-FHost %[req.hdr(host)]
  http-request del-header X-Forwarded-Prefix
  http-request del-header Forwarded
  default_backend app

# Behind nginx, which set the other headers: only append the peer.
frontend inner
  bind 127.0.0.1:${haInner}
  option forwardfor
  default_backend app

backend app
  server app 127.0.0.1:${appPort} source ${HAPROXY_SOURCE}
`)
        await runProxy(t, 'haproxy', bins.haproxy as string, ['-db', '-f', conf], [haEdge, haInner])
      })()
    : Promise.resolve()
  haproxyReady.catch(() => {}) // reported by the subtests that wait for it

  t.test('a client talking to the app directly cannot spoof anything', async (t) => {
    const f = await call(`http://127.0.0.1:${appPort}/fastify/page`, '127.0.0.17', { ...SPOOF, host: 'direct.example' })
    t.strictSame(f.body, {
      via: 'fastify', ip: '127.0.0.17', protocol: 'http', host: 'direct.example', hostname: 'direct.example', prefix: '', url: 'http://direct.example/fastify/page', login: 'http://direct.example/login'
    })
    const e = await call(`http://127.0.0.1:${appPort}/express/x`, '127.0.0.17', { ...SPOOF, host: 'direct.example' })
    t.match(e.body, { ip: '127.0.0.17', ips: [], protocol: 'http', hostname: 'direct.example' })
  })

  t.test('HAProxy: option forwardfor', { skip: missingOf('haproxy') }, async (t) => {
    await haproxyReady
    await check(t, `http://127.0.0.1:${haEdge}`, '127.0.0.13', { client: '127.0.0.13', protocol: 'http', host: 'public.example:' + haEdge, prefix: '' })
  })

  const ngPort = await freePort()
  t.test('nginx: TLS termination, X-Forwarded-*, a prefix, over TCP and a Unix socket; and the chain nginx → HAProxy', { skip: missingOf('nginx', 'openssl') }, async (t) => {
    const { key, cert } = selfSigned(bins.openssl as string, dir)
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d))
    const headers = (prefix: string): string => `
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Prefix ${prefix};
      proxy_set_header X-FHost $http_host;
      proxy_set_header Forwarded "";`
    await runNginx(t, bins.nginx as string, dir, nginxMain(dir, nginxHttp(dir, `  server {
    listen 127.0.0.1:${ngPort} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location /app/ {
      proxy_pass http://127.0.0.1:${appPort}/;
      proxy_bind ${NGINX_SOURCE};${headers('/app')}
    }
    location /sock/ {
      proxy_pass http://unix:${sock}:/;${headers('/sock')}
    }
    location /chain/ {
      proxy_pass http://127.0.0.1:${haInner}/;
      proxy_bind ${NGINX_SOURCE};${headers('/chain')}
    }
  }
`), { errorLog: 'nginx-error.log' }), ngPort, 'nginx-error.log')
    const host = 'public.example:' + ngPort
    const base = `https://127.0.0.1:${ngPort}`
    t.test('over TCP', async (t) => {
      await check(t, base + '/app', '127.0.0.11', { client: '127.0.0.11', protocol: 'https', host, prefix: '/app' })
    })
    t.test('over a Unix socket', async (t) => {
      await check(t, base + '/sock', '127.0.0.12', { client: '127.0.0.12', protocol: 'https', host, prefix: '/sock' })
    })
    t.test('the chain: client → nginx → HAProxy → app', { skip: missingOf('haproxy') }, async (t) => {
      await haproxyReady
      await check(t, base + '/chain', '127.0.0.15', { client: '127.0.0.15', protocol: 'https', host, prefix: '/chain' })
    })
    t.test('the default port is left out of absolute URLs', async (t) => {
      const r = await call(`${base}/app/fastify/x`, '127.0.0.16', { host: 'public.example' })
      t.match(r.body, { ip: '127.0.0.16', url: 'https://public.example/app/fastify/x' })
    })
  })

  t.test('Caddy: reverse_proxy', { skip: missingOf('caddy') }, async (t) => {
    const port = await freePort()
    const conf = path.join(dir, 'Caddyfile')
    fs.writeFileSync(conf, `{
  admin off
  auto_https off
}
http://:${port} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${appPort} {
    header_up X-FHost {hostport}
    header_up -X-Forwarded-Prefix
    header_up -Forwarded
  }
}
`)
    const home = path.join(dir, 'caddy-home')
    fs.mkdirSync(home)
    const env = { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config') }
    await runProxy(t, 'caddy', bins.caddy as string, ['run', '--config', conf, '--adapter', 'caddyfile'], [port], env)
    await check(t, `http://127.0.0.1:${port}`, '127.0.0.14', { client: '127.0.0.14', protocol: 'http', host: 'public.example:' + port, prefix: '' })
  })
})
