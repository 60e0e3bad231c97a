// Faults in mounted apps, over real sockets: the server stays up (a follow-up request on a new
// connection succeeds), nothing escapes as an uncaughtException or unhandledRejection, and the
// status is right. Complements test/mount-app.test.ts (error mapping via inject, one partial write).
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import http from 'node:http'
import net from 'node:net'
import { Writable } from 'node:stream'
import express from 'express'
import { mountApp, type MountHandler } from '../lib/mount/mount-app'

const express4 = require('express4') as typeof express

const escaped: unknown[] = []
const onEscape = (err: unknown): void => { escaped.push(err) }
process.on('uncaughtException', onEscape)
process.on('unhandledRejection', onEscape)

interface Outcome { status: number | null, body: string, end: 'complete' | 'aborted' | 'error', error?: string }

/** One request on its own connection; reports how it ended instead of throwing. */
function request (port: number, path: string, opts: { method?: string, body?: string, headers?: http.OutgoingHttpHeaders, onChunk?: (req: http.ClientRequest, res: http.IncomingMessage) => void } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    let status: number | null = null
    let body = ''
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      status = res.statusCode as number
      res.setEncoding('utf8')
      res.on('data', (c) => {
        body += c
        opts.onChunk?.(req, res)
      })
      res.on('end', () => resolve({ status, body, end: 'complete' }))
      res.on('error', (err) => resolve({ status, body, end: 'aborted', error: err.message }))
      res.on('aborted', () => resolve({ status, body, end: 'aborted' }))
    })
    req.on('error', (err) => resolve({ status, body, end: 'error', error: err.message }))
    req.end(opts.body)
  })
}

interface Server { f: FastifyInstance, port: number, logs: string[] }

async function serve (apps: Record<string, MountHandler | express.Express>, options: FastifyServerOptions = {}, setup?: (f: FastifyInstance) => void): Promise<Server> {
  const logs: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
  const f = Fastify({ logger: { level: 'warn', stream }, ...options })
  for (const [prefix, app] of Object.entries(apps)) await f.register(mountApp, { app, prefix })
  f.get('/health', async () => 'up')
  setup?.(f)
  await f.listen({ port: 0, host: '127.0.0.1' })
  return { f, port: (f.server.address() as net.AddressInfo).port, logs }
}

/** The server is still up: a fresh connection gets a full answer. */
async function stillUp (t: Tap.Test, s: Server, label: string): Promise<void> {
  const res = await request(s.port, '/health')
  t.same([res.status, res.body, res.end], [200, 'up', 'complete'], `${label}: a follow-up request succeeds`)
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let done = (): void => {}
  const promise = new Promise<void>((resolve) => { done = resolve })
  return { promise, resolve: () => done() }
}

const status = (message: string, code: number): Error => Object.assign(new Error(message), { status: code })

test('a synchronous throw and an async rejection, plain and in Express 4 and 5', async (t) => {
  const e5 = express()
  e5.get('/sync', () => { throw new Error('e5 sync') })
  e5.get('/async', async () => { throw status('e5 async', 409) })
  const e4 = express4()
  e4.get('/sync', () => { throw status('e4 sync', 422) })
  const s = await serve({
    '/sync': (_req, _res) => { throw new Error('sync') },
    '/sync-status': (_req, _res) => { throw status('sync with status', 418) },
    '/async': async (_req, _res) => { throw new Error('async') },
    '/async-later': (_req, _res) => new Promise((_resolve, reject) => setImmediate(() => reject(status('later', 503)))),
    '/throw-string': (_req, _res) => { throw 'a string' }, // eslint-disable-line no-throw-literal
    '/e5': e5,
    '/e4': e4
  })
  t.teardown(() => s.f.close())
  const cases: Array<[string, number, string]> = [
    ['/sync/x', 500, 'Internal Server Error'],
    ['/sync-status/x', 418, 'sync with status'],
    ['/async/x', 500, 'Internal Server Error'],
    ['/async-later/x', 503, 'Service Unavailable'],
    ['/throw-string/x', 500, 'Internal Server Error'],
    ['/e5/sync', 500, 'Internal Server Error'],
    ['/e5/async', 409, 'e5 async'],
    ['/e4/sync', 422, 'e4 sync']
  ]
  for (const [path, code, message] of cases) {
    const res = await request(s.port, path)
    t.same([res.status, res.end], [code, 'complete'], `${path}: ${code}`)
    t.equal(JSON.parse(res.body).message, message, `${path}: Fastify's error handler answered`)
    await stillUp(t, s, path)
  }
  t.same(escaped, [], 'nothing escaped')
})

test('next(err) after a partial write: truncated, connection closed, keep-alive neighbours unharmed', async (t) => {
  const s = await serve({
    '/partial': (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('part')
      setImmediate(() => next(status('mid-stream', 502)))
    },
    '/partial-sync': (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' })
      res.write('part')
      next(new Error('sync after write'))
    },
    '/throw-after-write': (_req, res) => {
      res.writeHead(200)
      res.write('part')
      throw new Error('thrown after write')
    },
    '/reject-after-end': async (_req, res) => {
      res.end('done')
      throw new Error('rejected after end')
    }
  })
  t.teardown(() => s.f.close())
  for (const path of ['/partial/x', '/partial-sync/x', '/throw-after-write/x']) {
    const res = await request(s.port, path)
    // When the error follows the write synchronously, the socket may close before the head is
    // flushed: then the client sees no status at all. Either way, never a complete response.
    t.ok(res.status === 200 || res.status === null, `${path}: the status already sent, or none (${res.status})`)
    t.ok('part'.startsWith(res.body), `${path}: at most the partial body (${JSON.stringify(res.body)})`)
    t.not(res.end, 'complete', `${path}: not a complete response (${res.end})`)
    await stillUp(t, s, path)
  }
  const done = await request(s.port, '/reject-after-end/x')
  t.same([done.status, done.body, done.end], [200, 'done', 'complete'], 'a rejection after the response ended changes nothing')
  // A keep-alive client: the broken response closes its connection; the next request works.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path: string): Promise<Outcome> => new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: s.port, path, agent }, (res) => {
      let body = ''
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, body, end: 'complete' }))
      res.on('error', () => resolve({ status: res.statusCode as number, body, end: 'aborted' }))
      res.on('aborted', () => resolve({ status: res.statusCode as number, body, end: 'aborted' }))
    }).on('error', (err) => resolve({ status: null, body: '', end: 'error', error: err.message }))
  })
  t.equal((await get('/health')).body, 'up')
  t.not((await get('/partial/x')).end, 'complete')
  t.same(await get('/health'), { status: 200, body: 'up', end: 'complete' }, 'the keep-alive client recovers')
  agent.destroy()
  t.match(s.logs.join(''), /failed after the response started/, 'the late error is logged')
  t.same(escaped, [], 'nothing escaped')
})

test('an app that never answers: Fastify\'s handlerTimeout ends it with 503', async (t) => {
  const late = deferred()
  const lateWrite = deferred()
  const hang = express()
  hang.get('/x', () => {})
  const s = await serve({
    '/never': (_req, _res) => {},
    '/express': hang,
    '/late': (_req, res) => { setTimeout(() => { res.end('too late'); late.resolve() }, 400) },
    '/late-write': (_req, res) => {
      setTimeout(() => {
        res.write('too late')
        res.end()
        lateWrite.resolve()
      }, 400)
    },
    '/started': (_req, res) => { res.writeHead(200); res.write('started') }
  }, { handlerTimeout: 200 })
  t.teardown(() => s.f.close())
  for (const path of ['/never/x', '/express/x', '/late/x', '/late-write/x']) {
    const res = await request(s.port, path)
    t.same([res.status, res.end], [503, 'complete'], `${path}: 503`)
    t.equal(JSON.parse(res.body).code, 'FST_ERR_HANDLER_TIMEOUT', `${path}: the timeout error`)
    await stillUp(t, s, path)
  }
  await late.promise
  await lateWrite.promise
  const started = await request(s.port, '/started/x')
  t.same([started.status, started.body], [200, 'started'], 'a response already started is cut, not replaced')
  t.not(started.end, 'complete')
  await stillUp(t, s, 'after the late answers')
  t.same(escaped, [], 'nothing escaped, also when the app answers after the timeout')
})

test('an app that never answers: connectionTimeout closes the idle connection', async (t) => {
  const s = await serve({ '/never': (_req, _res) => {} }, { connectionTimeout: 200 })
  t.teardown(() => s.f.close())
  const res = await request(s.port, '/never/x')
  t.same([res.status, res.end], [null, 'error'], `no response, the connection is closed (${res.error})`)
  await stillUp(t, s, 'connectionTimeout')
  t.same(escaped, [], 'nothing escaped')
})

test('a client that aborts mid-response, mid-request or before the answer', async (t) => {
  const gone = { stream: deferred(), wait: deferred(), upload: deferred() }
  const arrived = { wait: deferred(), upload: deferred() }
  const s = await serve({
    // Streams chunks until the client has gone, then keeps writing once more and ends.
    '/stream': (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('chunk-1')
      req.socket.once('close', () => {
        setImmediate(() => {
          res.write('after close')
          res.end('end')
          gone.stream.resolve()
        })
      })
    },
    // Answers only after the client has given up.
    '/wait': (req, res) => {
      arrived.wait.resolve()
      req.socket.once('close', () => setImmediate(() => { res.end('nobody listens'); gone.wait.resolve() }))
    },
    '/upload': express().use((_req, _res, next) => { arrived.upload.resolve(); next() }, express.json(), (_req: express.Request, res: express.Response) => { res.json({ ok: true }) })
  }, {}, (f) => {
    f.addHook('onError', async (_req, _reply, err) => { if ((err as { type?: string }).type === 'request.aborted') gone.upload.resolve() })
  })
  t.teardown(() => s.f.close())

  const streamed = await request(s.port, '/stream/x', { onChunk: (req) => req.destroy() })
  t.same([streamed.status, streamed.body], [200, 'chunk-1'], 'the client saw the first chunk and left')
  await gone.stream.promise
  await stillUp(t, s, 'abort mid-response')

  // A raw client that sends `text`, waits until the app has the request, and leaves.
  const leaveAfter = async (text: string, key: 'wait' | 'upload', label: string): Promise<void> => {
    const socket = net.connect(s.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(text)
    await arrived[key].promise
    socket.destroy()
    await gone[key].promise
    await stillUp(t, s, label)
  }
  // the app has the request; the client leaves without waiting for the answer
  await leaveAfter('GET /wait/y HTTP/1.1\r\nHost: x\r\n\r\n', 'wait', 'abort before the answer')
  // An upload that stops half-way: Express's body parser sees the abort and calls next(err).
  await leaveAfter('POST /upload/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":', 'upload', 'abort mid-upload')

  t.same(escaped, [], 'nothing escaped')
})

test('summary: no uncaughtException, no unhandledRejection in the whole file', async (t) => {
  process.removeListener('uncaughtException', onEscape)
  process.removeListener('unhandledRejection', onEscape)
  t.same(escaped, [])
})
