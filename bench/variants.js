'use strict'

// The servers the paired rows compare. Each variant: build() (run in the server child, returns
// { fastify } or { server }), the request the load sends it (path, headers, and whether each
// connection opens with a PROXY protocol header), and expect: what a sanity request must answer.
const path = require('node:path')
const http = require('node:http')

const lib = () => require(path.join(__dirname, '..', 'dist', 'index.js'))
const fastify = (opts) => require('fastify')({ logger: false, ...opts })

const TRUST = ['127.0.0.1', '10.0.0.0/8']
// Every hop of the request trusted: proxyFix notices it (TRUST_TOO_WIDE) and warns once.
const TRUST_TOO_WIDE = [...TRUST, '203.0.113.0/24']
const kPP = Symbol.for('fastify-proxy-fix.proxyProtocol')
const BODY = '{"hello":"world"}'

// Two hops of X-Forwarded-For plus proto and host; the handler reads ip, protocol and host.
const FORWARDED = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' }
const CORRECTED = { ip: '203.0.113.7', protocol: 'https', host: 'example.com' }
const UNCORRECTED = { ip: '127.0.0.1', protocol: 'http', host: 'bench.internal' }

function reads (app) {
  app.get('/', (req) => ({ ip: req.ip, protocol: req.protocol, host: req.host }))
  return { fastify: app }
}

function withPlugin (plugin, opts) {
  const app = fastify()
  app.register(lib()[plugin], opts)
  return reads(app)
}

function expressApp ({ trust } = {}) {
  const app = require('express')()
  if (trust) {
    app.set('trust proxy', trust)
    app.get('/hello', (req, res) => { res.json({ ip: req.ip, protocol: req.protocol, host: req.hostname }) })
  } else {
    app.get('/hello', (req, res) => { res.json({ hello: 'world' }) })
  }
  return app
}

function connectHandler (req, res) {
  res.setHeader('content-type', 'application/json; charset=utf-8')
  res.end(BODY)
}

function mounted (app, opts = {}, server = {}) {
  const f = fastify(server)
  f.register(lib().mountApp, { app, prefix: '/legacy', ...opts })
  return { fastify: f }
}

function hello (f) {
  f.get('/hello', (req, reply) => { reply.send({ hello: 'world' }) })
  return f
}

function ppApp (opts) {
  lib() // both sides load the library: they differ only in the server they listen with
  const f = fastify(opts)
  f.get('/hello', (req, reply) => { reply.send({ hello: 'world', ip: req.ip, pp: req.raw.socket[kPP] === undefined ? 0 : 1 }) })
  return { fastify: f }
}

const fastifyRow = (build, expect, extra = {}) => ({ build, path: '/', headers: { ...FORWARDED, ...extra }, expect })
const mountRow = (build, url, expect = { hello: 'world' }, headers = {}) => ({ build, path: url, headers, expect })

const variants = {
  plain: fastifyRow(() => reads(fastify()), UNCORRECTED),
  trustProxy: fastifyRow(() => reads(fastify({ trustProxy: TRUST })), CORRECTED),
  proxyFix: fastifyRow(() => withPlugin('proxyFix', { trust: TRUST }), CORRECTED),
  proxyFixWarned: fastifyRow(() => withPlugin('proxyFix', { trust: TRUST_TOO_WIDE }), CORRECTED),
  proxyFixQuiet: fastifyRow(() => withPlugin('proxyFix', { trust: TRUST_TOO_WIDE, warnings: false }), CORRECTED),
  hostRewrite: fastifyRow(() => withPlugin('hostRewrite', { header: 'x-fhost', trust: ['127.0.0.1'] }),
    { ...UNCORRECTED, host: 'public.example.com' }, { 'x-fhost': 'public.example.com' }),
  plainFhost: fastifyRow(() => reads(fastify()), UNCORRECTED, { 'x-fhost': 'public.example.com' }),

  expressAlone: mountRow(() => ({ server: http.createServer(expressApp()) }), '/hello'),
  expressMounted: mountRow(() => mounted(expressApp()), '/legacy/hello'),
  // the server's requests born with the app's prototypes (expressHttpOptions)
  expressMountedHttp: mountRow(() => {
    const app = expressApp()
    return mounted(app, {}, { http: lib().expressHttpOptions(app) })
  }, '/legacy/hello'),
  // The same Express app with the same trust: resolved by the mount, or by Express (proxy-addr).
  expressTrustMounted: mountRow(() => mounted(expressApp({ trust: TRUST }), { trust: TRUST }), '/legacy/hello',
    { ...CORRECTED }, FORWARDED),
  expressTrustMountedHttp: mountRow(() => {
    const app = expressApp({ trust: TRUST })
    return mounted(app, { trust: TRUST }, { http: lib().expressHttpOptions(app) })
  }, '/legacy/hello', { ...CORRECTED }, FORWARDED),
  fastifyExpressTrust: mountRow(() => {
    const f = fastify({ trustProxy: TRUST }) // @fastify/express hands the app Fastify's ip, hostname, protocol
    f.register(require('@fastify/express')).after(() => { f.use('/legacy', expressApp({ trust: TRUST })) })
    return { fastify: f }
  }, '/legacy/hello', { ...CORRECTED }, FORWARDED),
  connectMounted: mountRow(() => mounted(connectHandler), '/legacy/hello'),
  nativeRoute: mountRow(() => {
    const f = fastify()
    f.get('/legacy/hello', (req, reply) => { reply.header('content-type', 'application/json; charset=utf-8').send(BODY) })
    return { fastify: f }
  }, '/legacy/hello'),
  middie: mountRow(() => {
    const f = fastify()
    f.register(require('@fastify/middie')).after(() => { f.use('/legacy', connectHandler) })
    return { fastify: f }
  }, '/legacy/hello'),
  routesBesideMount: mountRow(() => {
    const f = hello(fastify())
    f.register(lib().mountApp, { app: expressApp(), prefix: '/legacy' })
    return { fastify: f }
  }, '/hello'),
  routesAlone: mountRow(() => ({ fastify: hello(fastify()) }), '/hello'),
  // What "routes beside a mount" is made of, one part at a time (rows with `extra`, run by --only):
  routesBesideConnect: mountRow(() => {
    const f = hello(fastify())
    f.register(lib().mountApp, { app: connectHandler, prefix: '/legacy' })
    return { fastify: f }
  }, '/hello'),
  routesExpressLoaded: mountRow(() => {
    const f = hello(fastify())
    f.decorate('legacyApp', expressApp()) // built and kept, never mounted
    return { fastify: f }
  }, '/hello'),
  routesBesideWildcard: mountRow(() => {
    const f = hello(fastify())
    f.all('/legacy/*', (req, reply) => { reply.send('') }) // the mount's route shape, no mount
    return { fastify: f }
  }, '/hello'),

  // PROXY protocol, keep-alive: each connection sends its v1 header once, as a balancer does.
  ppListener: { ...mountRow(() => ppApp({ serverFactory: lib().proxyProtocolServer({ from: 'loopback' }) }), '/hello', { pp: 1 }), proxyProtocol: true },
  ppPlain: mountRow(() => ppApp({}), '/hello', { pp: 0 })
}

module.exports = { variants }
