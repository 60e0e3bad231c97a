import { test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import Fastify from 'fastify'
import { proxyProtocolServer } from '../lib/proxy-protocol/server'
import { kProxyProtocol } from '../lib/proxy-protocol/listener'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { exchange } from './helpers/proxy-protocol'
import { call } from './helpers/http'
import { freePort, portOf } from './helpers/ports'
import { missing, nginxMain, runNginx, runProxy, selfSigned, which, workDir } from './helpers/proxies'

// HAProxy 2.6 (send-proxy, send-proxy-v2 with CRC32C and a unique ID, send-proxy-v2-ssl) and
// nginx's stream module (proxy_protocol on) in front of a Fastify app whose server is
// proxyProtocolServer(). Each balancer connects from its own loopback address, the only ones in
// `from`; each client connects from another (127.0.0.x), which the handler must see.

const HAPROXY_SOURCE = '127.0.0.3'
const NGINX_SOURCE = '127.0.0.2'
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so'

const haproxy = which('haproxy')
const nginx = which('nginx')
const openssl = which('openssl')
const skipHaproxy = missing('PROXY protocol e2e, HAProxy', [haproxy, 'haproxy'], [openssl, 'openssl'])
const skipNginx = missing(`PROXY protocol e2e, nginx's stream module (${STREAM_MODULE})`, [nginx, 'nginx'], [fs.existsSync(STREAM_MODULE) ? STREAM_MODULE : null, 'libnginx-mod-stream'])

/** A GET from `localAddress`; the JSON reply. */
async function get (url: string, localAddress: string, servername?: string): Promise<{ status: number, body: any }> {
  return await call(url, localAddress, {}, { servername, ALPNProtocols: ['http/1.1'] })
}

async function app (t: Tap.Test): Promise<{ port: number, lines: string[] }> {
  const lines: string[] = []
  const server = Fastify({ serverFactory: proxyProtocolServer({ from: [HAPROXY_SOURCE, NGINX_SOURCE], logger: { warn: (_o, msg) => { lines.push(msg) } } }) })
  await server.register(proxyFix, { trust: [HAPROXY_SOURCE, NGINX_SOURCE] })
  server.get('/*', async (request) => {
    const info = request.proxy.proxyProtocol as any
    if (info !== (request.raw.socket as any)[kProxyProtocol]) throw new Error('request.proxy.proxyProtocol is not the socket\'s object')
    return { url: request.url, ip: request.ip, socket: request.proxy.original.ip, pp: info === null ? null : { ...info, tlvs: { ...info.tlvs, raw: info.tlvs.raw.map((x: any) => x.type), uniqueId: info.tlvs.uniqueId?.toString('latin1') } } }
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  return { port: portOf(server.server), lines }
}

test('HAProxy 2.6: send-proxy, send-proxy-v2 (CRC32C, unique ID), send-proxy-v2-ssl', { skip: skipHaproxy, timeout: 60000 }, async (t) => {
  const dir = workDir(t, 'fpf-pp-e2e-')
  const { port: appPort, lines } = await app(t)
  const { key, cert } = selfSigned(openssl as string, dir, 'app.example')
  fs.writeFileSync(path.join(dir, 'both.pem'), Buffer.concat([fs.readFileSync(cert), fs.readFileSync(key)]))
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()]
  const conf = path.join(dir, 'haproxy.cfg')
  const server = (extra: string): string => `server app 127.0.0.1:${appPort} source ${HAPROXY_SOURCE} ${extra}`
  fs.writeFileSync(conf, `global
  maxconn 256

defaults
  mode tcp
  timeout connect 5s
  timeout client 10s
  timeout server 10s

listen v1
  bind 127.0.0.1:${p1}
  ${server('send-proxy')}

# A health check sends a v2 LOCAL header; the app must take it quietly.
listen v2
  bind 127.0.0.1:${p2}
  unique-id-format pp-%ci-%cp
  ${server('send-proxy-v2 proxy-v2-options crc32c,unique-id check inter 300 check-send-proxy')}

listen v2ssl
  bind 127.0.0.1:${p3} ssl crt ${dir}/both.pem alpn http/1.1
  ${server('send-proxy-v2-ssl-cn proxy-v2-options authority,ssl-cipher,cert-sig,cert-key')}
`)
  await runProxy(t, 'haproxy', haproxy as string, ['-db', '-f', conf], [p1, p2, p3])

  const one = await get(`http://127.0.0.1:${p1}/v1`, '127.0.0.31')
  t.match(one.body, { url: '/v1', ip: '127.0.0.31', socket: HAPROXY_SOURCE, pp: { version: 1, family: 'TCP4', source: { address: '127.0.0.31' }, destination: { address: '127.0.0.1', port: p1 }, peer: { address: HAPROXY_SOURCE } } })

  const two = await get(`http://127.0.0.1:${p2}/v2`, '127.0.0.32')
  t.equal(two.body.ip, '127.0.0.32')
  t.match(two.body.pp, { version: 2, command: 'PROXY', family: 'TCP4', source: { address: '127.0.0.32' }, destination: { port: p2 } })
  t.match(two.body.pp.tlvs, { uniqueId: /^pp-127\.0\.0\.32-\d+$/ }, 'the unique ID TLV')
  t.ok(two.body.pp.tlvs.raw.includes(0x03), 'HAProxy sent a CRC32C TLV, and it matched')

  const three = await get(`https://127.0.0.1:${p3}/ssl`, '127.0.0.33', 'app.example')
  t.equal(three.body.ip, '127.0.0.33')
  t.match(three.body.pp, { version: 2, source: { address: '127.0.0.33' }, tlvs: { authority: 'app.example', alpn: 'http/1.1', ssl: { client: 1, version: /^TLSv1\.[23]$/, cipher: /\w/ } } })
  t.notOk(three.body.pp.tlvs.ssl.client & 2, 'no client certificate')
  t.comment(JSON.stringify(three.body.pp.tlvs))

  // A client's own PROXY line arrives after HAProxy's header: it is HTTP bytes, a 400, never believed.
  const forged = await exchange(p1, ['PROXY TCP4 6.6.6.6 1.1.1.1 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'], { localAddress: '127.0.0.34' })
  t.match(forged.data, /^HTTP\/1\.1 400 /)
  t.notMatch(forged.data, /6\.6\.6\.6/)
  // A client reaching the app directly, from outside `from`, is closed without a response.
  t.strictSame(await exchange(appPort, ['PROXY TCP4 6.6.6.6 1.1.1.1 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'], { localAddress: '127.0.0.34' }), { data: '', closed: true })
  await new Promise((resolve) => setTimeout(resolve, 700)) // let a few health checks run
  t.equal(lines.filter((l) => !/127\.0\.0\.34:\d+: the peer is not in "from"/.test(l)).length, 0, `nothing else logged: ${lines.join(' | ')}`)
})

test('nginx stream module: proxy_protocol on (v1)', { skip: skipNginx, timeout: 60000 }, async (t) => {
  const dir = workDir(t, 'fpf-pp-nginx-')
  const { port: appPort, lines } = await app(t)
  const port = await freePort()
  await runNginx(t, nginx as string, dir, nginxMain(dir, `stream {
  server {
    listen 127.0.0.1:${port};
    proxy_pass 127.0.0.1:${appPort};
    proxy_bind ${NGINX_SOURCE};
    proxy_protocol on;
  }
}
`, { modules: [STREAM_MODULE] }), port)
  const r = await get(`http://127.0.0.1:${port}/stream`, '127.0.0.41')
  t.match(r.body, { url: '/stream', ip: '127.0.0.41', socket: NGINX_SOURCE, pp: { version: 1, family: 'TCP4', source: { address: '127.0.0.41' }, destination: { address: '127.0.0.1', port }, peer: { address: NGINX_SOURCE } } })
  const r2 = await get(`http://127.0.0.1:${port}/again`, '127.0.0.42')
  t.match(r2.body, { ip: '127.0.0.42', pp: { source: { address: '127.0.0.42' } } })
  t.strictSame(lines.filter((l) => !l.includes(':' + port)), [])
})
