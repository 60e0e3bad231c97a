import fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { expectAssignable, expectError, expectType } from 'tsd'
import fastifyProxyFix, { expressHttpOptions, hostRewrite, mountApp, proxyFix, optionsSchema, serve, whoami, proxyProtocolServer, withProxyProtocol, kProxyProtocol, type ExpressHttpOptions, type MountAppOptions, type ProxyInfo, type ProxyFixOptions, type ProxyProtocolInfo, type ProxyProtocolLogger, type Served, type ServeOptions, type WhoamiReport } from '../..'
import { createServer, type Server as HttpServer } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import express from 'express'
import connect from 'connect'
import type { IncomingMessage, ServerResponse } from 'node:http'
import defaultExport = require('../..')

const app = fastify()
app.register(proxyFix)
app.register(fastifyProxyFix, { trust: ['loopback', '10.0.0.0/8'] })
app.register(defaultExport.default, { trust: 2, hops: { host: 0 } })
app.register(proxyFix, { trust: (address: string, hop: number) => address === '127.0.0.1' && hop < 2 })
app.register(proxyFix, { trust: 'loopback, 10.0.0.0/8', fields: ['for', 'proto'], strict: true, allowedHosts: ['.example.com'] })
app.register(proxyFix, { forwarded: true, clientIpHeader: 'cf-connecting-ip' })
app.register(hostRewrite, { header: 'X-FHost', trust: ['127.0.0.1'], allowedHosts: 'example.com' })
app.register(proxyFix, { trust: 1, peers: ['uniquelocal', 'unix'] })
app.register(proxyFix, { trust: 2, peers: true })
app.register(proxyFix, { trust: 1, peers: (address: string) => address.startsWith('10.') })
app.register(proxyFix, { trust: [] })
app.register(proxyFix, { trust: ['cloudflare', 'loopback'], rangesFile: '/var/lib/app/ranges.json', clientIpHeader: { 'cf-connecting-ip': ['cloudflare'] } })
app.register(proxyFix, { trust: ['private'], warnings: false, clientIpHeader: { 'cf-connecting-ip': ['198.51.100.0/24'], 'fly-client-ip': 'private' } })
expectError(app.register(proxyFix, { clientIpHeader: { 'cf-connecting-ip': 5 } }))
app.register(proxyFix, { trust: (address: string, hop: number) => hop < 2 ? address : undefined })
expectError(app.register(proxyFix, { trust: 1, peers: false }))

expectError(app.register(hostRewrite, { trust: ['127.0.0.1'] }))
expectError(app.register(hostRewrite, { header: 'x-fhost', trust: true }))
expectError(app.register(proxyFix, { fields: ['nope'] }))
expectError(app.register(proxyFix, { trust: { ip: '1.2.3.4' } }))

app.get('/', { config: { proxyFix: false, hostRewrite: { allowedHosts: ['a.example'] } } }, (request) => {
  expectType<ProxyInfo>(request.proxy)
  expectType<string | undefined>(request.proxy.ip)
  expectType<string[]>(request.proxy.ips)
  expectType<'http' | 'https'>(request.proxy.protocol)
  expectType<number | null>(request.proxy.port)
  expectType<string>(request.proxy.prefix)
  expectType<boolean>(request.proxy.trusted)
  expectType<ProxyProtocolInfo | null>(request.proxy.proxyProtocol)
  expectType<string | undefined>(request.proxy.proxyProtocol?.source?.address)
  expectType<string | undefined>(request.proxy.original.ip)
  expectType<string>(request.proxy.url('/next'))
  expectType<string>(request.ip)
  return request.hostname
})
app.get('/r', { config: { proxyFix: { trust: ['10.0.0.0/8'] } } }, (request: FastifyRequest) => request.proxy.host)
expectError(app.get('/x', { config: { proxyFix: { trust: {} } } }, () => 'x'))

expectAssignable<ProxyFixOptions>({ trust: false })
expectType<string>(optionsSchema.$id)

app.register(mountApp, { app: express(), prefix: '/legacy' })
const legacy = express()
expectType<ExpressHttpOptions>(expressHttpOptions(legacy))
fastify({ http: expressHttpOptions(legacy) }).register(mountApp, { app: legacy, prefix: '/legacy' })
createServer(expressHttpOptions(legacy), legacy)
app.register(mountApp, { app: express.Router(), prefix: '/router' })
app.register(mountApp, { app: connect(), prefix: '/connect', trust: ['10.0.0.0/8'] })
app.register(mountApp, { app: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => { if (req.url === '/') res.end('x'); else next() } })
app.register(mountApp, { app: { handle: (_req: IncomingMessage, res: ServerResponse) => { res.end() } } })
expectError(app.register(mountApp, { prefix: '/x' }))
expectError(app.register(mountApp, { app: 'express' }))
expectAssignable<MountAppOptions>({ app: express(), allowedHosts: ['.example.com'] })

// serve() and whoami
expectType<Promise<Served>>(serve({ app: './app.js:api', bind: ['0.0.0.0:8000', 'unix:/run/app.sock'], workers: 'auto', trust: 'uniquelocal', maxRequests: 1000, maxRequestsJitter: 50 }))
expectType<Promise<Served>>(serve({ app: express(), port: 0, signals: false, accessLog: false, accessLogFormat: 'json', health: '/healthz' }))
expectType<Promise<Served>>(serve({ app: async (f: FastifyInstance) => { f.get('/', async () => 'hi') }, serverFactory: (handler) => createServer(handler) }))
expectAssignable<ServeOptions>({ certfile: 'c.pem', keyfile: 'k.pem', http2: true, clientIpHeader: 'fly-client-ip', hostHeader: 'x-fhost', logLevel: 'warn' })
expectError(serve({ workers: 'many' }))
expectType<Promise<Served>>(serve({ app: './app.js', proxyProtocol: 'v2', proxyAllowFrom: ['10.0.0.5'] }))
expectError(serve({ proxyProtocol: 'v3' }))
expectError(serve({ accessLogFormat: 'apache' }))
expectError(serve({ logLevel: 'loud' }))
serve({}).then(async (served) => {
  expectType<string[]>(served.addresses)
  expectType<number>(await served.close())
})
app.register(whoami, { prefix: '/_whoami', allow: ['loopback', '10.0.0.0/8'] })
app.register(whoami, { allow: 'unix', settings: { trust: 'loopback' } })
expectError(app.register(whoami, { allow: 42 }))
app.register(whoami, { allow: 'loopback', allowBy: 'peer' })
expectError(app.register(whoami, { allowBy: 'socket' }))
declare const report: WhoamiReport
expectType<'ok' | 'misconfigured' | 'spoofable'>(report.verdict)
expectType<'trusted proxy' | 'client' | 'ignored' | 'forged'>(report.hops[0].role)
expectType<string>(report.suggestion.flags)
// PROXY protocol
const pp = proxyProtocolServer({ from: ['10.0.0.5', 'unix'], version: 'v2', required: true, headerTimeout: 5000 })
const ppApp = fastify({ serverFactory: pp })
pp.logger = ppApp.log
expectType<ProxyProtocolLogger | null>(proxyProtocolServer().logger)
fastify({ serverFactory: proxyProtocolServer<Http2SecureServer>({ http2: true, https: { allowHTTP1: true } }), http2: true, https: {} })
expectError(proxyProtocolServer({ version: 'v3' }))
expectError(proxyProtocolServer({ from: 5 }))
expectType<HttpServer>(withProxyProtocol(createServer(), { from: 'loopback' }))
ppApp.get('/pp', (request) => {
  const info = (request.raw.socket as any)[kProxyProtocol] as ProxyProtocolInfo | undefined
  expectType<string | undefined>(info?.source?.address)
  expectType<string | undefined>(info?.tlvs.awsVpceId)
  expectType<number | undefined>(info?.tlvs.ssl?.verify)
  return 'ok'
})
