import { test } from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import Fastify from 'fastify'
import { proxyProtocolServer } from '../lib/proxy-protocol/server'
import { kProxyProtocol } from '../lib/proxy-protocol/listener'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { exchange } from './proxy-protocol-client'

// HAProxy 2.6 (send-proxy, send-proxy-v2 with CRC32C and a unique ID, send-proxy-v2-ssl) and
// nginx's stream module (proxy_protocol on) in front of a Fastify app whose server is
// proxyProtocolServer(). Each balancer connects from its own loopback address, the only ones in
// `from`; each client connects from another (127.0.0.x), which the handler must see.

const HAPROXY_SOURCE = '127.0.0.3'
const NGINX_SOURCE = '127.0.0.2'
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so'
const disabled = new Set((process.env.FPF_E2E_DISABLE ?? '').split(',').map((s) => s.trim()))

function which (name: string): string | null {
  if (disabled.has(name)) return null
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

const haproxy = which('haproxy')
const nginx = which('nginx')
const openssl = which('openssl')
const skipHaproxy = haproxy === null || openssl === null ? 'haproxy or openssl not installed (apt-get install haproxy openssl; .ci/run does)' : false
const skipNginx = nginx === null || !fs.existsSync(STREAM_MODULE) ? `nginx or its stream module (${STREAM_MODULE}) not installed (apt-get install nginx libnginx-mod-stream; .ci/run does)` : false
if (skipHaproxy !== false) console.log(`# e2e: ${skipHaproxy}`)
if (skipNginx !== false) console.log(`# e2e: ${skipNginx}`)

async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

async function run (t: Tap.Test, name: string, bin: string, args: string[], ports: number[]): Promise<void> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  proc.stdout?.on('data', (c) => { log += c })
  proc.stderr?.on('data', (c) => { log += c })
  const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()))
  t.teardown(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  const end = Date.now() + 15000
  for (const port of ports) {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}: ${log}`)
      const up = await new Promise<boolean>((resolve) => {
        const c = net.connect(port, '127.0.0.1')
        c.once('connect', () => { c.destroy(); resolve(true) })
        c.once('error', () => resolve(false))
      })
      if (up) break
      if (Date.now() > end) throw new Error(`${name} did not listen on ${port}: ${log}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

function get (url: string, localAddress: string, servername?: string): Promise<{ status: number, body: any }> {
  const lib = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { localAddress, agent: false, rejectUnauthorized: false, servername, ALPNProtocols: ['http/1.1'] }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode as number, body: JSON.parse(body) })
        } catch {
          reject(new Error(`${res.statusCode}: ${body}`))
        }
      })
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('timed out')))
  })
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
  return { port: (server.server.address() as net.AddressInfo).port, lines }
}

test('HAProxy 2.6: send-proxy, send-proxy-v2 (CRC32C, unique ID), send-proxy-v2-ssl', { skip: skipHaproxy, timeout: 60000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-pp-e2e-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const { port: appPort, lines } = await app(t)
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync(openssl as string, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=app.example', '-days', '1'], { stdio: 'ignore' })
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
  await run(t, 'haproxy', haproxy as string, ['-db', '-f', conf], [p1, p2, p3])

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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-pp-nginx-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const { port: appPort, lines } = await app(t)
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  fs.writeFileSync(conf, `load_module ${STREAM_MODULE};
daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
stream {
  server {
    listen 127.0.0.1:${port};
    proxy_pass 127.0.0.1:${appPort};
    proxy_bind ${NGINX_SOURCE};
    proxy_protocol on;
  }
}
`)
  await run(t, 'nginx', nginx as string, ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], [port])
  const r = await get(`http://127.0.0.1:${port}/stream`, '127.0.0.41')
  t.match(r.body, { url: '/stream', ip: '127.0.0.41', socket: NGINX_SOURCE, pp: { version: 1, family: 'TCP4', source: { address: '127.0.0.41' }, destination: { address: '127.0.0.1', port }, peer: { address: NGINX_SOURCE } } })
  const r2 = await get(`http://127.0.0.1:${port}/again`, '127.0.0.42')
  t.match(r2.body, { ip: '127.0.0.42', pp: { source: { address: '127.0.0.42' } } })
  t.strictSame(lines.filter((l) => !l.includes(':' + port)), [])
})
