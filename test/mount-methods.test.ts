// Every method Node's parser accepts reaches the mount, and a mount never claims a method and path
// another plugin owns: @fastify/cors, @fastify/static and @fastify/swagger-ui, in either order.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import express from 'express'
import fs from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { mountApp } from '../lib/mount/mount-app'
import { rawRequest } from './helpers/raw-http'

const echo = (req: IncomingMessage, res: ServerResponse): void => {
  req.resume()
  req.on('end', () => res.end(`app ${String(req.method)} ${String(req.url)}`))
}

async function listen (f: FastifyInstance): Promise<number> {
  await f.listen({ port: 0, host: '127.0.0.1' })
  return (f.server.address() as net.AddressInfo).port
}

test('every method in http.METHODS reaches the mount (CONNECT goes to Node\'s connect event)', async (t) => {
  for (const prefix of ['/', '/legacy']) {
    const f = Fastify()
    await f.register(mountApp, { app: echo, prefix })
    const port = await listen(f)
    const base = prefix === '/' ? '' : prefix
    const missing: string[] = []
    for (const method of http.METHODS) {
      if (method === 'CONNECT') continue
      const res = await rawRequest(port, method, `${base}/x`)
      if (res.status !== 200 || (method !== 'HEAD' && res.body !== `app ${method} /x`)) missing.push(`${method} ${res.status}`)
    }
    t.same(missing, [], `${prefix}: ${http.METHODS.length - 1} methods answered by the app`)
    t.ok(http.METHODS.every((m) => f.supportedMethods.includes(m)), 'the server routes every method now (addHttpMethod)')
    await f.close()
  }
})

test('methods Fastify already supports are not added again (no FSTDEP025 warning)', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name + ' ' + w.message) }
  process.on('warning', onWarning)
  const f = Fastify()
  f.addHttpMethod('PROPFIND', { hasBody: true })
  await f.register(mountApp, { app: echo, prefix: '/a' })
  await f.register(mountApp, { app: echo, prefix: '/b' })
  await f.ready()
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  t.same(warnings.filter((w) => w.includes('FSTDEP025')), [])
  await f.close()
})

const STATIC = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-static-'))
fs.writeFileSync(path.join(STATIC, 'hello.txt'), 'static hello')

type Setup = [string, (f: FastifyInstance) => Promise<void>]
const PLUGINS: Setup[] = [
  ['@fastify/cors', async (f) => { await f.register(cors, { origin: 'https://ui.example' }) }],
  ['@fastify/cors preflight:false', async (f) => { await f.register(cors, { origin: 'https://ui.example', preflight: false }) }],
  ['@fastify/static at /', async (f) => { await f.register(fastifyStatic, { root: STATIC, prefix: '/' }) }],
  ['@fastify/static at /, wildcard:false', async (f) => { await f.register(fastifyStatic, { root: STATIC, prefix: '/', wildcard: false }) }],
  ['@fastify/swagger-ui', async (f) => { await f.register(swagger); await f.register(swaggerUi, { routePrefix: '/documentation' }) }]
]

function legacy (): express.Express {
  const app = express()
  app.get('/old', (_req, res) => res.send('app old'))
  app.post('/old', (_req, res) => res.send('app post'))
  app.get('/hello.txt', (_req, res) => res.send('app hello'))
  app.options('/old', (_req, res) => res.set('allow', 'GET').send('app options'))
  return app
}

test('a root mount beside @fastify/cors, @fastify/static and @fastify/swagger-ui, in either order', async (t) => {
  for (const [name, register] of PLUGINS) {
    for (const order of ['plugin first', 'mount first']) {
      const f = Fastify()
      if (order === 'plugin first') await register(f)
      await f.register(mountApp, { app: legacy() })
      if (order === 'mount first') await register(f)
      const label = `${name}, ${order}`
      const ready = await f.ready().then(() => null, (e: Error & { code?: string }) => e)
      t.equal(ready, null, `${label}: starts (no FST_ERR_DUPLICATED_ROUTE)`)
      if (ready !== null) continue
      const port = await listen(f)
      const wildcard = name === '@fastify/static at /'
      if (wildcard) t.equal((await rawRequest(port, 'GET', '/old')).status, 404, `${label}: GET /* is static's, which gives a missing file to the 404 handler`)
      else t.equal((await rawRequest(port, 'GET', '/old')).body, 'app old', `${label}: the app answers its routes`)
      t.equal((await rawRequest(port, 'POST', '/old')).body, 'app post', `${label}: the app answers other methods`)
      if (name.startsWith('@fastify/cors')) {
        const pre = await rawRequest(port, 'OPTIONS', '/old', { Origin: 'https://ui.example', 'Access-Control-Request-Method': 'PUT' })
        if (name.endsWith('false')) {
          t.equal(pre.status, 404, `${label}: OPTIONS * is cors's route, which gives it to the 404 handler`)
        } else {
          t.equal(pre.status, 204, `${label}: the preflight is cors's`)
          t.match(pre.head, /access-control-allow-origin: https:\/\/ui\.example/i, `${label}: with cors's headers`)
        }
        const get = await rawRequest(port, 'GET', '/old', { Origin: 'https://ui.example' })
        t.match(get.head, /access-control-allow-origin: https:\/\/ui\.example/i, `${label}: cors's hook runs for the app's answers`)
      }
      if (name.startsWith('@fastify/static')) {
        t.equal((await rawRequest(port, 'GET', '/hello.txt')).body, 'static hello', `${label}: static serves its files`)
        t.equal((await rawRequest(port, 'GET', '/HELLO.TXT')).status, 404, `${label}: and its files shadow the app`)
      }
      if (name.startsWith('@fastify/swagger-ui')) {
        const docs = await rawRequest(port, 'GET', '/documentation/json')
        t.equal(docs.status, 200, `${label}: swagger-ui's routes are its own`)
        t.equal((await rawRequest(port, 'GET', '/DOCUMENTATION/json')).status, 404, `${label}: and shadow the app`)
      }
      await f.close()
    }
  }
})

test('a prefixed mount yields its exact paths to a plugin registered later', async (t) => {
  const f = Fastify()
  await f.register(mountApp, { app: echo, prefix: '/files' })
  await f.register(fastifyStatic, { root: STATIC, prefix: '/files/' })
  f.post('/files/*', async () => 'fastify post')
  const port = await listen(f)
  t.teardown(() => f.close())
  t.equal((await rawRequest(port, 'GET', '/files/hello.txt')).body, 'static hello')
  t.equal((await rawRequest(port, 'POST', '/files/x')).body, 'fastify post')
  t.equal((await rawRequest(port, 'PUT', '/files/x')).body, 'app PUT /x')
  t.equal((await rawRequest(port, 'GET', '/files')).body, 'app GET /')
})

test('a mount whose paths are all taken claims nothing; a later route yields once per owner', async (t) => {
  const f = Fastify()
  await f.register(mountApp, { app: echo, prefix: '/a' })
  f.route({ method: f.supportedMethods as any, url: '/legacy', handler: async () => 'fastify legacy' })
  await f.register(mountApp, { app: echo, prefix: '/legacy' })
  t.throws(() => f.get('/legacy', async () => 'again'), { code: 'FST_ERR_DUPLICATED_ROUTE' }, 'a duplicate of another route stays a duplicate: the mount holds nothing there')
  await f.register(mountApp, { app: (req: IncomingMessage, res: ServerResponse) => res.end('first root') })
  await f.register(mountApp, { app: (req: IncomingMessage, res: ServerResponse) => res.end('second root') })
  await f.register(cors, { preflight: false })
  f.route({ method: 'GET', url: '/*', constraints: { version: '2.0.0' }, handler: async () => 'versioned' })
  const port = await listen(f)
  t.teardown(() => f.close())
  t.equal((await rawRequest(port, 'GET', '/legacy')).body, 'fastify legacy', 'every method at /legacy is Fastify\'s')
  t.equal((await rawRequest(port, 'GET', '/legacy/y')).body, 'app GET /y', 'the mount still has /legacy/*')
  t.equal((await rawRequest(port, 'GET', '/x')).body, 'first root', 'the first root mount holds /*')
  t.equal((await rawRequest(port, 'OPTIONS', '/x')).status, 404, 'OPTIONS * is cors\'s (preflight off: the 404 handler)')
  t.equal((await rawRequest(port, 'GET', '/x', { 'Accept-Version': '2.x' })).body, 'versioned', 'a constrained route stays beside the mount')
})
