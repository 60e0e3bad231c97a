// serve: tied client-IP headers, provider ranges files, the PROXY protocol listener and the ranges command.
import { test } from 'tap'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseCommandLine } from '../lib/server/args'
import { CliError } from '../lib/server/cli-error'
import { main, serve } from '../lib/server/index'
import { rangesCommand } from '../lib/server/ranges-command'
import { resolveSettings, type Key } from '../lib/server/settings'
import { fixOptions } from '../lib/server/proxy-settings'
import { PROVIDERS } from '../lib/core/provider-ranges'
import { compileOptions } from '../lib/core/options'
import { makePeer } from '../lib/core/peer'
import { resolve, WalkRecord } from '../lib/core/resolve'
import { hopsOf } from '../lib/server/whoami'

function settingsOf (argv: string[], env: NodeJS.ProcessEnv = {}) {
  const cl = parseCommandLine(argv)
  return resolveSettings({ flags: cl.flags, flagNamer: (k: Key) => cl.spelled[k] as string, file: {}, fileNamer: (k) => k, env, pid: 1 }).settings
}

function fails (t: Tap.Test, argv: string[], re: RegExp): void {
  try {
    settingsOf(argv)
    t.fail(`${argv.join(' ')}: no error`)
  } catch (err) {
    t.ok(err instanceof CliError, argv.join(' '))
    t.match((err as Error).message, re)
    t.notMatch((err as Error).message, /\n/, 'one line')
  }
}

test('--client-ip-header NAME=RANGES ties the header to its edge; --ranges-file reaches the plugins', async (t) => {
  t.strictSame(fixOptions(settingsOf(['serve', '--client-ip-header', 'CF-Connecting-IP=cloudflare,10.0.0.0/8'])).clientIpHeader, { 'CF-Connecting-IP': 'cloudflare,10.0.0.0/8' })
  t.equal(fixOptions(settingsOf(['serve', '--client-ip-header', 'X-Real-IP'])).clientIpHeader, 'X-Real-IP')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-serve-'))
  const file = path.join(dir, 'ranges.json')
  fs.writeFileSync(file, JSON.stringify({ updated: '', providers: { cloudflare: { asOf: 'x', source: [], ranges: ['192.0.2.0/24'] } } }))
  t.equal(fixOptions(settingsOf(['serve', '--trust', 'cloudflare', '--ranges-file', file])).rangesFile, file)
  fails(t, ['serve', '--trust', 'cloudflare', '--ranges-file', path.join(dir, 'none.json')], /^--ranges-file: ".*none.json" can not be read as JSON/)
  fails(t, ['serve', '--client-ip-header', 'CF-Connecting-IP=cloudflair'], /^--client-ip-header: "cloudflair" is not an IP address/)
  fails(t, ['serve', '--proxy-protocol', 'v3'], /^--proxy-protocol "v3": must be v1, v2 or auto/)
  fails(t, ['serve', '--proxy-protocol', 'v2', '--trust', '2'], /^--proxy-protocol needs --proxy-allow-from when --trust is not an address list/)
  fails(t, ['serve', '--proxy-allow-from', '10.0.0.1'], /^--proxy-allow-from needs --proxy-protocol/)
  fails(t, ['serve', '--proxy-protocol', 'v1', '--proxy-allow-from', 'balancer'], /^--proxy-allow-from "balancer": is not an IP address/)
  fails(t, ['serve', '--proxy-protocol', 'v1', '--trust', 'nlb'], /^--trust: "nlb" is not an IP address/)
  t.equal(settingsOf(['serve', '--proxy-protocol', 'auto', '--trust', '10.0.0.0/8,cloudflare', '--ranges-file', file]).proxyProtocol, 'auto')
  t.equal(settingsOf(['serve', '--proxy-protocol', 'auto', '--proxy-allow-from', 'cloudflare', '--ranges-file', file]).proxyAllowFrom, 'cloudflare')
  t.equal(settingsOf(['serve', '--host-header', 'X-FHost', '--ranges-file', file]).rangesFile, file, 'hostRewrite gets the file too')
  const fromConfig = resolveSettings({ flags: {}, flagNamer: (k) => k, file: { clientIpHeader: { 'fly-client-ip': ['private'] }, proxyProtocol: 'v2', proxyAllowFrom: ['127.0.0.2'] }, fileNamer: (k) => `"${k}" in app.json`, env: {}, pid: 1 }).settings
  t.strictSame(fixOptions(fromConfig).clientIpHeader, { 'fly-client-ip': ['private'] }, 'the object form from --config')
  t.throws(() => resolveSettings({ flags: {}, flagNamer: (k) => k, file: { proxyProtocol: 'v2', proxyAllowFrom: 5 }, fileNamer: (k) => `"${k}" in app.json`, env: {}, pid: 1 }), /"proxyAllowFrom" in app.json 5: must list the load balancer's addresses/)
})

function send (port: number, bytes: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress })
    let out = ''
    s.on('data', (c) => { out += String(c) })
    s.on('error', reject)
    s.on('close', () => resolve(out))
    s.end(bytes)
  })
}

test('serve --proxy-protocol: the header from the balancer names the client; from anyone else the connection closes', async (t) => {
  const logs: string[] = []
  const served = await serve({ port: 0, accessLog: 'off', signals: false, proxyProtocol: 'v1', proxyAllowFrom: '127.0.0.2', trust: 'loopback' }, { stdout: (l) => logs.push(l) })
  const port = Number(new URL(served.addresses[0]).port)
  const http1 = 'GET / HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\nConnection: close\r\n\r\n'
  const body = (await send(port, `PROXY TCP4 203.0.113.77 127.0.0.1 40000 80\r\n${http1}`, '127.0.0.2')).split('\r\n\r\n')[1]
  t.match(JSON.parse(body), { corrected: { ip: '203.0.113.77' }, socket: { ip: '127.0.0.2' } }, 'whoami shows the client from the header and the balancer as the socket')
  t.equal(await send(port, `PROXY TCP4 203.0.113.77 127.0.0.1 40000 80\r\n${http1}`, '127.0.0.5'), '', 'a forged header from another peer: closed, no response')
  t.equal(await served.close(), 0)
})

test('fastify-proxy-fix ranges: the presets with their dates; --update writes FILE from the published formats', async (t) => {
  const out: string[] = []
  const err: string[] = []
  const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l), cwd: process.cwd(), env: {}, signals: process, cluster: () => { throw new Error('no cluster') } }
  t.equal(await main(['ranges'], io as never), 0)
  for (const [name, p] of Object.entries(PROVIDERS)) t.ok(out.some((l) => l.startsWith(name) && l.includes(p.asOf) && l.includes(`${p.ranges.length} ranges`)), name)
  t.equal(await main(['ranges', '--frobnicate'], io as never), 1)
  t.match(err.pop(), /ranges: unknown argument "--frobnicate"/)
  t.equal(await main(['ranges', '--update'], io as never), 1)
  t.match(err.pop(), /ranges --update needs one FILE/)

  const cf4 = PROVIDERS.cloudflare.ranges.filter((r) => !r.includes(':'))
  const cf6 = PROVIDERS.cloudflare.ranges.filter((r) => r.includes(':'))
  const bodies: Record<string, string> = {
    '/v4': cf4.join('\n'),
    '/v6': cf6.join('\n'),
    '/aws': JSON.stringify({ prefixes: PROVIDERS.cloudfront.ranges.filter((r) => !r.includes(':')).map((p) => ({ ip_prefix: p, service: 'CLOUDFRONT_ORIGIN_FACING' })), ipv6_prefixes: [] }),
    '/fastly': 'Bad Gateway'
  }
  const server = http.createServer((req, res) => res.writeHead(req.url === '/fastly' ? 502 : 200).end(bodies[req.url as string]))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-ranges-cli-')), 'ranges.json')
  const lines: string[] = []
  const code = await rangesCommand(['--update', file], { stdout: (l) => lines.push(l) }, { cloudflareV4: `${base}/v4`, cloudflareV6: `${base}/v6`, aws: `${base}/aws`, fastly: `${base}/fastly` })
  t.equal(code, 1, 'a kept list is exit 1, so a cron job notices')
  t.match(lines, [/^cloudflare: updated, 22 ranges/, /^cloudfront: updated/, /^fastly: kept the last good list \(\d+ ranges\): .*answered 502/, `wrote ${file}`])
  bodies['/fastly-ok'] = JSON.stringify({ addresses: PROVIDERS.fastly.ranges.filter((r) => !r.includes(':')), ipv6_addresses: [] })
  const all = await rangesCommand(['--update', file], { stdout: () => {} }, { cloudflareV4: `${base}/v4`, cloudflareV6: `${base}/v6`, aws: `${base}/aws`, fastly: `${base}/fastly-ok` })
  t.equal(all, 0, 'every list updated: exit 0')
})

test('hopsOf behind the PROXY protocol: the balancer as the socket, the header source next', async (t) => {
  const plan = compileOptions({ trust: '10.0.0.0/8' }, 'proxyFix')
  const peer = makePeer('203.0.113.9', false, '127.0.0.3', { source: { address: '203.0.113.9', port: 4000 } })
  const headers = { 'x-forwarded-for': '6.6.6.6' }
  const record = new WalkRecord()
  t.strictSame(hopsOf(resolve(peer, false, headers, plan, undefined, record), record).map((h) => `${h.address}:${h.from}:${h.role}`),
    ['127.0.0.3:socket:trusted proxy', '203.0.113.9:PROXY protocol:client', '6.6.6.6:X-Forwarded-For:ignored'])
  const unixBalancer = { ...makePeer('203.0.113.9'), socketAddress: undefined, proxyProtocol: { source: { address: '203.0.113.9', port: 4000 } } }
  t.equal(hopsOf(resolve(unixBalancer, false, {}, plan, undefined, new WalkRecord()), new WalkRecord())[0].address, 'unix socket')
})

test('whoami as a plugin: the scope\'s proxyFix options stand in for serve\'s; a Forwarded chain is drawn from Forwarded', async (t) => {
  const Fastify = (await import('fastify')).default
  const { proxyFix } = await import('../lib/fastify/proxy-fix')
  const { whoami } = await import('../lib/server/whoami')
  const app = Fastify()
  await app.register(proxyFix, { trust: true, forwarded: true })
  await app.register(whoami)
  const res = await app.inject({ url: '/', remoteAddress: '203.0.113.1', headers: { accept: 'application/json', forwarded: 'for=6.6.6.6, for="[2001:db8::7]:443";proto=https' } })
  const body = res.json()
  t.equal(body.verdict, 'spoofable', 'trust: true, known from the plugin registration')
  t.match(body.hops, [{ address: '203.0.113.1', from: 'socket' }, { address: '[2001:db8::7]:443', from: 'Forwarded', role: 'trusted proxy' }, { address: '6.6.6.6', from: 'Forwarded', role: 'client' }])
  t.match(body.why.join(' '), /Forwarded was walked from the right/)
  const broken = await app.inject({ url: '/', remoteAddress: '203.0.113.1', headers: { accept: 'application/json', forwarded: 'for="unterminated, for=198.51.100.2' } })
  t.match(broken.json().hops, [{ from: 'socket' }, { address: '198.51.100.2', from: 'Forwarded' }], 'a broken header: its tail, as the walk reads it')
  const none = await app.inject({ url: '/', remoteAddress: '203.0.113.1', headers: { accept: 'application/json', forwarded: 'proto=https' } })
  t.match(none.json().hops, [{ from: 'socket' }, { address: 'unknown', from: 'Forwarded' }])
  await app.close()
})
