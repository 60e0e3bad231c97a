// Express's res.send in a mounted app (lib/mount/express-send.ts). The claim: a mounted Express app
// answers exactly as the same app served alone by http.createServer(app) (status, body and
// headers, names compared case-insensitively; Date, Connection and Keep-Alive left out), in
// Express 4 and 5, whichever path a response takes: sendDirect (Express's common res.send,
// written by the mount with Express's headers) or Express's own code (every other case). What
// the app sees while answering (res.headersSent right after res.send, errors in its error
// handler) is the same too. Fastify's onSend hooks never run for a mounted app's response, and
// do not change or delay it. Real listening servers on both sides.
import t, { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import http from 'node:http'
import * as crypto from 'node:crypto'
import util from 'node:util'
import net, { type AddressInfo } from 'node:net'
import express from 'express'
import fc from 'fast-check'
import connect from 'connect'
import * as expressSend from '../lib/mount/express-send'
import { entityTag, isExpressApp, sha1With, sendDirect, type ExpressResponse } from '../lib/mount/express-send'

const express4 = require('express4') as typeof express
const { mulberry32 } = require('./prng') as { mulberry32: (seed: number) => () => number }
const etag = require('etag') as (entity: string | Buffer, options?: { weak?: boolean }) => string

/** How many responses sendDirect wrote: mountApp loaded with a sendDirect that counts its successes. */
let written = 0
const { mountApp } = t.mockRequire('../lib/mount/mount-app', {
  '../lib/mount/express-send': {
    ...expressSend,
    sendDirect: (...args: Parameters<typeof sendDirect>): boolean => {
      const done = sendDirect(...args)
      if (done) written++
      return done
    }
  }
}) as typeof import('../lib/mount/mount-app')

type Factory = typeof express
type Version = 4 | 5
type Json = Record<string, any>

interface Req {
  method?: string
  path?: string
  headers?: http.OutgoingHttpHeaders
  body?: string
}

interface Res {
  status: number
  headers: Record<string, string | string[]>
  body: string
  error?: string
}

const IGNORED = new Set(['date', 'connection', 'keep-alive'])
const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT'
const EMPTY_WEAK = 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"'
const LARGE = 'abcdefghij'.repeat(150) + 'é'
const MULTI = 'héllo wörld € 𝄞 ✓'

/** One request over a fresh connection; a reset or an abort is reported, not thrown. */
function call (port: number, r: Req): Promise<Res> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {}
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path ?? '/r', headers: r.headers, agent: false }, (res) => {
      // From the raw headers: names lowercased, repeated headers (ETag, Set-Cookie) kept as arrays.
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i].toLowerCase()
        const value = res.rawHeaders[i + 1]
        if (IGNORED.has(name)) continue
        const prior = headers[name]
        headers[name] = prior === undefined ? value : ([] as string[]).concat(prior, value)
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode as number, headers, body: Buffer.concat(chunks).toString('latin1') }))
      res.on('error', (err) => resolve({ status: res.statusCode as number, headers, body: Buffer.concat(chunks).toString('latin1'), error: err.message }))
    })
    req.on('error', (err) => resolve({ status: 0, headers, body: '', error: err.message }))
    req.end(r.body)
  })
}

interface Pair {
  alone: number
  mounted: number
  /** How many times the Fastify server's onSend hooks ran (0 without hooks). */
  hooked: () => number
  close: () => Promise<void>
}

/**
 * The same app served alone, and mounted in a Fastify server; with `hooks`, that server has two
 * onSend hooks that would change every payload they see: a callback one that calls done at once
 * and an async one (which, were it in the way, would delay the response by a few microtasks).
 */
async function serve (app: express.Express, prefix: string | undefined, hooks: boolean): Promise<Pair> {
  const alone = http.createServer(app)
  await new Promise<void>((resolve) => alone.listen(0, '127.0.0.1', resolve))
  const f: FastifyInstance = Fastify()
  let hooked = 0
  if (hooks) {
    f.addHook('onSend', (_req, _reply, payload, done) => { hooked++; done(null, typeof payload === 'string' ? payload + ' (sync hook)' : payload) })
    f.addHook('onSend', async (_req, reply, payload) => { hooked++; reply.header('x-async-hook', '1'); return payload })
  }
  await f.register(mountApp, prefix === undefined ? { app } : { app, prefix })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return {
    alone: (alone.address() as AddressInfo).port,
    mounted: (f.server.address() as AddressInfo).port,
    hooked: () => hooked,
    close: async () => {
      await f.close()
      alone.closeAllConnections()
      await new Promise((resolve) => alone.close(resolve))
    }
  }
}

/** What the app saw while answering (its error handler's errors, res.headersSent after send). */
let seen: unknown[] = []
const record = (...items: unknown[]): void => { seen.push(...items) }

type Handler = (req: express.Request, res: express.Response, next: express.NextFunction) => unknown

interface Case {
  name: string
  /** Builds the app; by default one GET /r route with this handler. */
  handler?: Handler
  app?: (e: Factory) => express.Express
  versions?: Version[]
  requests?: Req[]
  /**
   * For each request: who writes the mounted response. 'direct': sendDirect; 'express': Express's
   * own code (its res.send for the cases sendDirect leaves to it, or res.end, redirect, sendFile).
   */
  via?: Array<'direct' | 'express'>
  /** Checks on the response (the same for alone and mounted), so that the case tests what it says. */
  check?: (t: Test, res: Res, v: Version) => void
  /** A known difference between mounted and alone: why, in the versions where it shows (the comparison is then a todo). */
  todo?: (v: Version, request: number) => string | undefined
}

function route (handler: Handler): (e: Factory) => express.Express {
  return (e) => {
    const app = e()
    app.get('/r', handler)
    return app
  }
}

function withEtag (setting: unknown, handler: Handler): (e: Factory) => express.Express {
  return (e) => {
    const app = route(handler)(e)
    app.set('etag', setting)
    return app
  }
}

const W = (body: string | Buffer): string => etag(body, { weak: true })

/** A known difference, in every version and request. */
const always = (why: string) => (): string => why

/** GET /r sends twice; GET /ok answers, to show the server is still up. */
function twice (e: Factory): express.Express {
  const a = route((_q, s) => { s.send('first'); s.send('second') })(e)
  a.get('/ok', (_q, s) => { s.send('ok') })
  return a
}

/** A Buffer over a SharedArrayBuffer. */
function shared (text: string): Buffer {
  const b = Buffer.from(new SharedArrayBuffer(Buffer.byteLength(text)))
  b.write(text)
  return b
}

/** Wraps res.end as compression-like middleware do: a header set at the last moment. */
const wrapEnd: express.RequestHandler = (_q, s, n) => {
  const end = s.end as (...a: unknown[]) => express.Response
  s.end = function (this: express.Response, ...args: unknown[]) {
    s.setHeader('x-wrapped', '1')
    return end.apply(this, args)
  } as express.Response['end']
  n()
}

/** Wraps res.send as response loggers do. */
const wrapSend: express.RequestHandler = (_q, s, n) => {
  const send = s.send
  s.send = function (this: express.Response, body?: unknown) {
    s.setHeader('x-send-wrapped', typeof body)
    return send.call(this, body)
  }
  n()
}

/** An app whose etag function throws for the body 'boom', and whose error handler answers with a string. */
function throwingEtag (body: (text: string) => string | Buffer): (e: Factory) => express.Express {
  return (e) => {
    const a = withEtag((b: Buffer) => { if (b.toString() === 'boom') throw new Error('etag failed'); return '"ok"' }, (_q, s) => { s.send(body('boom')) })(e)
    a.use((err: Error, _q: express.Request, s: express.Response, _n: express.NextFunction) => { record(err.message, s.headersSent); s.status(500).send('error: ' + err.message) })
    return a
  }
}

const CASES: Array<[string, Case[]]> = [
  ['strings', [
    { name: 'res.send(string): text/html by default, weak ETag', handler: (_q, s) => s.send('<p>hello</p>'), via: ['direct'], check: (t, r) => t.same([r.headers['content-type'], r.headers.etag, r.body], ['text/html; charset=utf-8', W('<p>hello</p>'), '<p>hello</p>']) },
    { name: 'res.type(text/plain).send(string)', handler: (_q, s) => s.type('text/plain').send('plain'), via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'text/plain; charset=utf-8') },
    { name: 'res.type(json).send(string)', handler: (_q, s) => s.type('json').send('{"a":1}'), via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'application/json; charset=utf-8') },
    { name: 'res.set(Content-Type, a/b; charset=utf-8) with token characters', handler: (_q, s) => s.setHeader('Content-Type', 'application/vnd.a+b.c_d; charset=utf-8') && s.send('x'), via: ['direct'] },
    { name: 'a type with another charset (fallback)', handler: (_q, s) => s.type('text/plain; charset=iso-8859-1').send('latin'), via: ['express'], check: (t, r) => t.equal(r.headers['content-type'], 'text/plain; charset=utf-8') },
    { name: 'a type with other parameters (fallback)', handler: (_q, s) => s.type('text/plain; format=flowed').send('flowed'), via: ['express'], check: (t, r) => t.match(r.headers['content-type'], /format=flowed/) },
    { name: 'an uppercase type Text/Plain (fallback)', handler: (_q, s) => s.type('Text/Plain').send('upper'), via: ['express'], check: (t, r) => t.equal(r.headers['content-type'], 'text/plain; charset=utf-8') },
    { name: 'charset=UTF-8 set by setHeader (fallback)', handler: (_q, s) => { s.setHeader('Content-Type', 'text/plain; charset=UTF-8'); s.send('up') }, via: ['express'] },
    { name: 'a type without a space before charset (fallback)', handler: (_q, s) => { s.setHeader('Content-Type', 'text/plain;charset=utf-8'); s.send('tight') }, via: ['express'] },
    { name: 'a Content-Type that is not a string (fallback)', handler: (_q, s) => { s.setHeader('Content-Type', ['text/plain']); s.send('arr') }, via: ['express'] },
    { name: 'res.send(\'\'): empty body', handler: (_q, s) => s.send(''), via: ['direct'], check: (t, r) => t.same([r.headers.etag, r.headers['content-length'], r.body], [EMPTY_WEAK, '0', '']) },
    { name: 'a multi-byte UTF-8 string: the byte length in the ETag', handler: (_q, s) => s.send(MULTI), via: ['direct'], check: (t, r) => t.same([r.headers.etag, r.headers['content-length']], [W(MULTI), String(Buffer.byteLength(MULTI))]) },
    { name: 'a lone surrogate', handler: (_q, s) => s.send('a\ud800b'), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, W('a\ud800b')) },
    { name: 'a large body (over 1000 characters)', handler: (_q, s) => s.send(LARGE), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, W(LARGE)) },
    { name: 'a large body with etag off', app: withEtag(false, (_q, s) => s.send(LARGE)), via: ['direct'], check: (t, r) => t.notOk('etag' in r.headers) }
  ]],
  ['JSON', [
    { name: 'res.json(object)', handler: (_q, s) => s.json({ a: 1, b: [true, null], c: 'é' }), via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'application/json; charset=utf-8') },
    { name: 'res.json(null)', handler: (_q, s) => s.json(null), via: ['direct'], check: (t, r) => t.equal(r.body, 'null') },
    { name: 'res.json with json spaces', app: (e) => { const a = route((_q, s) => s.json({ a: [1] }))(e); a.set('json spaces', 2); return a }, via: ['direct'] },
    { name: 'res.json with a json replacer', app: (e) => { const a = route((_q, s) => s.json({ a: 1, secret: 2 }))(e); a.set('json replacer', (k: string, v: unknown) => k === 'secret' ? undefined : v); return a }, via: ['direct'], check: (t, r) => t.equal(r.body, '{"a":1}') },
    { name: 'res.json with json escape', app: (e) => { const a = route((_q, s) => s.json({ html: '<b>&</b>' }))(e); a.set('json escape', true); return a }, via: ['direct'], check: (t, r) => t.match(r.body, /\\u003cb\\u003e/) },
    { name: 'res.json(undefined): no body', handler: (_q, s) => s.json(undefined), via: ['express'] },
    { name: 'res.json(object) with a type already set', handler: (_q, s) => s.type('text/plain').json({ a: 1 }), via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'text/plain; charset=utf-8') },
    { name: 'res.json(status, object) (Express 4, deprecated)', versions: [4], handler: (_q, s) => (s.json as (...a: unknown[]) => unknown)(201, { a: 1 }), via: ['direct'], check: (t, r) => t.equal(r.status, 201) },
    { name: 'res.jsonp without a callback', handler: (_q, s) => s.jsonp({ a: 1 }), via: ['direct'] },
    { name: 'res.jsonp with a callback', handler: (_q, s) => s.jsonp({ a: 1 }), requests: [{ path: '/r?callback=cb' }], via: ['direct'], check: (t, r) => t.match(r.body, /cb\(\{"a":1\}\)/) },
    { name: 'res.type(vnd+json).json(): no charset yet (fallback)', handler: (_q, s) => s.type('application/vnd.api+json').json({ a: 1 }), via: ['express'], check: (t, r) => t.equal(r.headers['content-type'], 'application/vnd.api+json; charset=utf-8') }
  ]],
  ['Buffers and views', [
    { name: 'res.send(Buffer): application/octet-stream', handler: (_q, s) => s.send(Buffer.from([0, 1, 2, 255])), via: ['direct'], check: (t, r) => t.same([r.headers['content-type'], r.headers.etag], ['application/octet-stream', W(Buffer.from([0, 1, 2, 255]))]) },
    { name: 'res.type(png).send(Buffer)', handler: (_q, s) => s.type('png').send(Buffer.from('PNG')), via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'image/png') },
    { name: 'res.type(text).send(Buffer)', handler: (_q, s) => s.type('text').send(Buffer.from('héllo')), via: ['direct'] },
    { name: 'an empty Buffer', handler: (_q, s) => s.send(Buffer.alloc(0)), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, EMPTY_WEAK) },
    { name: 'a Buffer slice with an offset', handler: (_q, s) => s.send(Buffer.from('hello world').subarray(6)), via: ['direct'], check: (t, r) => t.same([r.body, r.headers.etag], ['world', W('world')]) },
    { name: 'a Buffer over a SharedArrayBuffer', handler: (_q, s) => s.send(shared('hi!')), via: ['direct'], check: (t, r) => t.same([r.body, r.headers['content-type']], ['hi!', 'application/octet-stream']) },
    { name: 'res.send(Uint8Array) (Express 5: bytes; Express 4: JSON)', handler: (_q, s) => s.send(new Uint8Array([104, 105])), via: ['express'], versions: [5] },
    { name: 'res.send(Uint8Array) (Express 4: JSON)', handler: (_q, s) => s.send(new Uint8Array([104, 105])), via: ['direct'], versions: [4] }
  ]],
  ['status codes', [
    { name: 'res.status(201).send()', handler: (_q, s) => s.status(201).send('created'), via: ['direct'] },
    { name: 'res.status(404).send()', handler: (_q, s) => s.status(404).send('missing'), via: ['direct'] },
    { name: 'res.status(500).json()', handler: (_q, s) => s.status(500).json({ error: 'x' }), via: ['direct'] },
    { name: 'res.status(204).send(\'x\') (fallback)', handler: (_q, s) => s.status(204).send('x'), via: ['express'], check: (t, r) => t.same([r.status, r.body, 'content-type' in r.headers], [204, '', false]) },
    { name: 'res.status(205).send(\'x\') (fallback)', handler: (_q, s) => s.status(205).send('x'), via: ['express'], check: (t, r) => t.same([r.status, r.body, r.headers['content-length']], [205, '', '0']) },
    { name: 'res.status(304).send(\'x\') (fallback)', handler: (_q, s) => s.status(304).send('x'), via: ['express'], check: (t, r) => t.same([r.status, r.body], [304, '']) },
    { name: 'res.sendStatus(200)', handler: (_q, s) => s.sendStatus(200), via: ['direct'], check: (t, r) => t.same([r.body, r.headers['content-type']], ['OK', 'text/plain; charset=utf-8']) },
    { name: 'res.sendStatus(404)', handler: (_q, s) => s.sendStatus(404), via: ['direct'] },
    { name: 'res.sendStatus(204)', handler: (_q, s) => s.sendStatus(204), via: ['express'] }
  ]],
  ['other bodies', [
    { name: 'res.send(number): Express 5 JSON, Express 4 a status', handler: (_q, s) => (s.send as (b: unknown) => unknown)(201), via: ['direct'], versions: [5] },
    { name: 'res.send(number): Express 4 status with its message', handler: (_q, s) => (s.send as (b: unknown) => unknown)(201), via: ['express'], versions: [4], check: (t, r) => t.same([r.status, r.body], [201, 'Created']) },
    { name: 'res.send(true)', handler: (_q, s) => s.send(true), via: ['direct'], check: (t, r) => t.equal(r.body, 'true') },
    { name: 'res.send(null)', handler: (_q, s) => s.send(null), via: ['express'], check: (t, r) => t.same([r.body, r.headers.etag], ['', EMPTY_WEAK]) },
    { name: 'res.send(undefined)', handler: (_q, s) => s.send(undefined), via: ['express'] },
    { name: 'res.send() without arguments', handler: (_q, s) => s.send(), via: ['express'] },
    { name: 'res.send(object) via json', handler: (_q, s) => s.send({ a: 'b' }), via: ['direct'] },
    { name: 'res.send(200, \'x\') (deprecated two-argument form)', handler: (_q, s) => (s.send as (...a: unknown[]) => unknown)(200, 'two'), via: ['express'], versions: [4], check: (t, r) => t.same([r.status, r.body], [200, 'two']) },
    { name: 'res.send(\'x\', 201) (deprecated two-argument form)', handler: (_q, s) => (s.send as (...a: unknown[]) => unknown)('two', 201), via: ['express'], versions: [4], check: (t, r) => t.same([r.status, r.body], [201, 'two']) },
    { name: 'res.send(200, \'x\') in Express 5: the second argument is ignored', handler: (_q, s) => (s.send as (...a: unknown[]) => unknown)(200, 'two'), via: ['direct'], versions: [5], check: (t, r) => t.equal(r.body, '200') }
  ]],
  ['the etag setting', [
    { name: 'etag false', app: withEtag(false, (_q, s) => s.send('x')), via: ['direct'], check: (t, r) => t.notOk('etag' in r.headers) },
    { name: 'etag strong', app: withEtag('strong', (_q, s) => s.send('strong')), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, etag('strong')) },
    { name: 'etag strong, empty body', app: withEtag('strong', (_q, s) => s.send('')), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"') },
    { name: 'etag weak', app: withEtag('weak', (_q, s) => s.send('weak')), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, W('weak')) },
    { name: 'etag true (app.enable)', app: withEtag(true, (_q, s) => s.send(Buffer.from('t'))), via: ['direct'] },
    { name: 'a custom function returning a string', app: withEtag((body: Buffer, enc: unknown) => `"${body.length}-${String(enc)}-${Buffer.isBuffer(body)}"`, (_q, s) => s.send('custom')), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '"6-undefined-true"') },
    { name: 'a custom function on a Buffer', app: withEtag((body: Buffer) => `"b${body.toString('hex')}"`, (_q, s) => s.send(Buffer.from([1, 2]))), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '"b0102"') },
    { name: 'a custom function returning a number', app: withEtag(() => 42, (_q, s) => s.send('n')), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '42') },
    { name: 'a custom function returning an array', app: withEtag(() => ['"a"', 7], (_q, s) => s.send('arr')), via: ['direct'], check: (t, r) => t.same(r.headers.etag, ['"a"', '7']) },
    ...([0, '', null, undefined, false] as const).map((value): Case => ({
      name: `a custom function returning ${JSON.stringify(value) ?? 'undefined'}`,
      app: withEtag(() => value, (_q, s) => s.send('falsy')),
      via: ['direct'],
      check: (t, r) => t.notOk('etag' in r.headers)
    })),
    { name: 'res.set(ETag) before send', handler: (_q, s) => s.set('ETag', '"mine"').send('own'), via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '"mine"') },
    { name: 'res.set(ETag) before send, with a custom function (not called)', app: withEtag(() => { throw new Error('not called') }, (_q, s) => s.set('ETag', '"mine"').send('own')), via: ['direct'] },
    { name: 'the etag setting deleted from app.settings: Express\'s etag fn is called', app: (e) => { const a = route((_q, s) => s.send('del'))(e); delete a.settings.etag; return a }, via: ['direct'], check: (t, r) => t.equal(r.headers.etag, W('del')) },
    { name: 'app.set(etag fn) directly: that function is called', app: (e) => { const a = route((_q, s) => s.send('fn'))(e); a.set('etag fn', () => '"direct"'); return a }, via: ['direct'], check: (t, r) => t.equal(r.headers.etag, '"direct"') },
    { name: 'a custom etag function returning NaN (falsy: no ETag)', app: withEtag(() => NaN, (_q, s) => s.send('nan')), via: ['direct'], check: (t, r) => t.notOk('etag' in r.headers) },
    { name: 'a custom etag function returning 0n (falsy: no ETag)', app: withEtag(() => BigInt(0), (_q, s) => s.send('big')), via: ['direct'], check: (t, r) => t.notOk('etag' in r.headers) },
    { name: 'a custom etag function that throws for a string; the error handler sends a string', app: throwingEtag((text) => text), via: ['direct'], check: (t, r) => t.same([r.status, r.body, r.headers['content-type'], r.headers.etag], [500, 'error: etag failed', 'text/html; charset=utf-8', '"ok"']) },
    { name: 'a sub-app with etag off', app: (e) => { const a = route((_q, s) => s.send('main'))(e); const sub = e(); sub.set('etag', false); sub.get('/r', (_q, s) => { s.send('sub') }); a.use('/sub', sub); return a }, requests: [{ path: '/sub/r' }, { path: '/r' }], via: ['direct', 'direct'], check: (t, r) => t.equal('etag' in r.headers, r.body === 'main') },
    { name: 'a sub-app with etag strong under a parent with etag off', app: (e) => { const a = withEtag(false, (_q, s) => s.send('main'))(e); const sub = e(); sub.set('etag', 'strong'); sub.get('/r', (_q, s) => { s.send('sub') }); a.use('/sub', sub); return a }, requests: [{ path: '/sub/r' }, { path: '/r' }], via: ['direct', 'direct'], check: (t, r) => t.equal(r.headers.etag, r.body === 'sub' ? etag('sub') : undefined) }
  ]],
  ['conditional requests', [
    { name: 'If-None-Match matching the ETag: 304', handler: (_q, s) => s.send('cached'), requests: [{ headers: { 'if-none-match': W('cached') } }], via: ['express'], check: (t, r) => t.same([r.status, r.body], [304, '']) },
    { name: 'If-None-Match not matching: 200', handler: (_q, s) => s.send('cached'), requests: [{ headers: { 'if-none-match': '"other"' } }], via: ['express'], check: (t, r) => t.same([r.status, r.body], [200, 'cached']) },
    { name: 'If-None-Match matching, res.json', handler: (_q, s) => s.json({ a: 1 }), requests: [{ headers: { 'if-none-match': W('{"a":1}') } }], via: ['express'], check: (t, r) => t.equal(r.status, 304) },
    { name: 'If-Modified-Since with Last-Modified: 304', handler: (_q, s) => s.set('Last-Modified', LAST_MODIFIED).send('dated'), requests: [{ headers: { 'if-modified-since': LAST_MODIFIED } }], via: ['express'], check: (t, r) => t.equal(r.status, 304) },
    { name: 'If-Modified-Since older than Last-Modified: 200', handler: (_q, s) => s.set('Last-Modified', LAST_MODIFIED).send('dated'), requests: [{ headers: { 'if-modified-since': 'Tue, 20 Oct 2015 07:28:00 GMT' } }], via: ['express'], check: (t, r) => t.equal(r.status, 200) },
    { name: 'a POST with If-None-Match', app: (e) => { const a = e(); a.post('/r', (_q, s) => { s.send('posted') }); return a }, requests: [{ method: 'POST', headers: { 'if-none-match': W('posted') }, body: 'x' }], via: ['express'], check: (t, r) => t.equal(r.status, 200) }
  ]],
  ['methods and transfer', [
    { name: 'HEAD answered from a GET route', handler: (_q, s) => s.send('head me'), requests: [{ method: 'HEAD' }], via: ['express'], check: (t, r) => t.same([r.body, r.headers['content-length'], r.headers.etag], ['', '7', W('head me')]) },
    { name: 'HEAD, res.json', handler: (_q, s) => s.json({ a: 1 }), requests: [{ method: 'HEAD' }], via: ['express'] },
    { name: 'a POST with a body the app does not read', app: (e) => { const a = e(); a.post('/r', (_q, s) => { s.send('ok') }); return a }, requests: [{ method: 'POST', body: 'ignored', headers: { 'content-type': 'text/plain' } }], via: ['direct'] },
    { name: 'a POST read by express.json()', app: (e) => { const a = e(); a.post('/r', e.json(), (q, s) => { s.json(q.body) }); return a }, requests: [{ method: 'POST', body: '{"x":[1]}', headers: { 'content-type': 'application/json' } }], via: ['direct'], check: (t, r) => t.equal(r.body, '{"x":[1]}') },
    { name: 'res.set(Transfer-Encoding, chunked) (fallback)', handler: (_q, s) => s.set('Transfer-Encoding', 'chunked').send('chunks'), via: ['express'], check: (t, r, v) => v === 5 ? t.same([r.headers['transfer-encoding'], 'content-length' in r.headers], ['chunked', false]) : t.match(r.error, /Content-Length can't be present with Transfer-Encoding/) },
    { name: 'res.redirect', handler: (_q, s) => s.redirect('/target'), via: ['express'], check: (t, r) => t.same([r.status, r.headers.location], [302, '/target']) },
    { name: 'res.redirect(301) with Accept: text/html', handler: (_q, s) => s.redirect(301, '/t?a=<b>'), requests: [{ headers: { accept: 'text/html' } }], via: ['express'] },
    { name: 'res.sendFile', handler: (_q, s) => s.sendFile(__filename), via: ['express'], check: (t, r) => t.ok(r.body.includes('res.sendFile')) },
    { name: 'res.write then res.end (streamed)', handler: (_q, s) => { s.write('a'); setImmediate(() => s.end('b')) }, via: ['express'], check: (t, r) => t.equal(r.body, 'ab') },
    { name: 'res.end directly', handler: (_q, s) => s.end('raw'), via: ['express'] }
  ]],
  ['headers the app sets', [
    { name: 'cookies (a multi-value header) and Vary', handler: (_q, s) => s.cookie('a', '1').cookie('b', '2').vary('Accept').append('Link', ['<a>', '<b>']).send('c'), via: ['direct'], check: (t, r) => t.same(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']) },
    { name: 'res.set(Content-Length) wrong: Express sets the right one', handler: (_q, s) => s.set('Content-Length', '99').send('short'), via: ['direct'], check: (t, r) => t.equal(r.headers['content-length'], '5') },
    { name: 'x-powered-by off', app: (e) => { const a = route((_q, s) => s.send('x'))(e); a.disable('x-powered-by'); return a }, via: ['direct'] },
    { name: 'res.removeHeader(X-Powered-By)', handler: (_q, s) => { s.removeHeader('X-Powered-By'); s.send('x') }, via: ['direct'] },
    { name: 'a middleware that wraps res.writeHead (as on-headers does)', app: (e) => { const a = e(); a.use((_q, s, n) => { const head = s.writeHead as (...a: unknown[]) => express.Response; s.writeHead = function (this: express.Response, ...args: unknown[]) { s.setHeader('x-head', '1'); return head.apply(this, args) } as express.Response['writeHead']; n() }); a.get('/r', (_q, s) => { s.send('head') }); return a }, via: ['direct'], check: (t, r) => t.equal(r.headers['x-head'], '1') },
    { name: 'a middleware chain', app: (e) => { const a = e(); a.use((_q, s, n) => { s.set('X-Mw', '1'); n() }); a.get('/r', (_q, s) => { s.send('chain') }); return a }, via: ['direct'] }
  ]],
  ['after the response', [
    { name: 'res.send twice, default error handler: the client gets the first response, the server stays up', app: twice, requests: [{}, { path: '/ok' }], via: ['direct', 'direct'], check: (t, r) => t.ok(r.body === 'first' || r.body === 'ok') },
    { name: 'res.send twice: ERR_HTTP_HEADERS_SENT reaches the app\'s error handler', app: (e) => { const a = twice(e); a.use((err: Error & { code?: string }, _q: express.Request, _s: express.Response, _n: express.NextFunction) => { record(err.code) }); return a }, requests: [{}, { path: '/ok' }], via: ['direct', 'direct'], check: (t, r) => t.equal(r.status, 200) },
    { name: 'res.headersSent, res.writableEnded and the headers right after res.send', handler: (_q, s) => { s.send('sent'); record(s.headersSent, s.writableEnded, s.getHeader('content-length'), s.getHeader('etag')) }, via: ['direct'] },
    { name: 'res.headersSent right after res.json', handler: (_q, s) => { s.json([1]); record(s.headersSent, s.writableEnded) }, via: ['direct'] },
    { name: 'res.send then next(), no later route', handler: (_q, s, n) => { s.send('first'); n() }, via: ['direct'] },
    { name: 'res.send then next(), a later route does not match', app: (e) => { const a = route((_q, s, n) => { s.send('first'); n() })(e); a.get('/later', (_q, s) => { s.send('later') }); return a }, via: ['direct'], check: (t, r) => t.same([r.status, r.body], [200, 'first']) },
    { name: 'res.send then next(err)', handler: (_q, s, n) => { s.send('first'); n(new Error('late')) }, via: ['direct'], check: (t, r) => t.same([r.status, r.body], [200, 'first']) },
    { name: 'res.send then a throw; the error handler checks res.headersSent', app: (e) => { const a = route((_q, s) => { s.send('ok'); throw new Error('after') })(e); a.use((err: Error, _q: express.Request, s: express.Response, n: express.NextFunction) => { record(err.message, s.headersSent); if (s.headersSent) return n(err); s.status(500).send('error') }); return a }, via: ['direct'], check: (t, r) => t.same([r.status, r.body], [200, 'ok']) },
    { name: 'res.send then res.status(500): the status sent stays', handler: (_q, s) => { s.send('ok'); s.status(500); record(s.statusCode) }, via: ['direct'], check: (t, r) => t.equal(r.status, 200) },
    { name: 'res.send then res.set: ERR_HTTP_HEADERS_SENT thrown into the app', app: (e) => { const a = route((_q, s) => { s.send('ok'); s.set('x-late', '1') })(e); a.use((err: Error & { code?: string }, _q: express.Request, _s: express.Response, _n: express.NextFunction) => { record(err.code) }); return a }, via: ['direct'], check: (t, r) => t.notOk('x-late' in r.headers) }
  ]],
  ['middleware around the response', [
    { name: 'a middleware that wraps res.end and sets a header in it', app: (e) => { const a = e(); a.use(wrapEnd); a.get('/r', (_q, s) => { s.send('wrapped') }); return a }, via: ['direct'], check: (t, r) => t.same([r.headers['x-wrapped'], r.body], ['1', 'wrapped']) },
    { name: 'the same wrapper, res.json', app: (e) => { const a = e(); a.use(wrapEnd); a.get('/r', (_q, s) => { s.json({ a: 1 }) }); return a }, via: ['direct'], check: (t, r) => t.equal(r.headers['x-wrapped'], '1') },
    { name: 'the same wrapper, res.end answered directly', app: (e) => { const a = e(); a.use(wrapEnd); a.get('/r', (_q, s) => { s.end('wrapped') }); return a }, via: ['express'], check: (t, r) => t.equal(r.headers['x-wrapped'], '1') },
    { name: 'the same wrapper, a fallback (HEAD)', app: (e) => { const a = e(); a.use(wrapEnd); a.get('/r', (_q, s) => { s.send('wrapped') }); return a }, requests: [{ method: 'HEAD' }], via: ['express'], check: (t, r) => t.equal(r.headers['x-wrapped'], '1') },
    { name: 'a middleware that wraps res.send (as response loggers do)', app: (e) => { const a = e(); a.use(wrapSend); a.get('/r', (_q, s) => { s.json({ a: 1 }) }); return a }, via: ['direct'], check: (t, r) => t.same(r.headers['x-send-wrapped'], 'string') },
    { name: 'a middleware that removes a header in a writeHead wrapper', app: (e) => { const a = e(); a.use((_q, s, n) => { const head = s.writeHead as (...a: unknown[]) => express.Response; s.writeHead = function (this: express.Response, ...args: unknown[]) { s.removeHeader('x-powered-by'); return head.apply(this, args) } as express.Response['writeHead']; n() }); a.get('/r', (_q, s) => { s.send('x') }); return a }, via: ['direct'], check: (t, r) => t.notOk('x-powered-by' in r.headers) }
  ]],
  ['Content-Type as the app set it', [
    { name: 'a Buffer with a Content-Type without a "/"', handler: (_q, s) => { s.setHeader('Content-Type', 'weird'); s.send(Buffer.from('w')) }, via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'weird') },
    { name: 'a Buffer with an invalid Content-Type', handler: (_q, s) => { s.setHeader('Content-Type', 'image/p@ng'); s.send(Buffer.from('w')) }, via: ['direct'], check: (t, r) => t.equal(r.headers['content-type'], 'image/p@ng') },
    { name: 'res.type(json).send(a Buffer over a SharedArrayBuffer)', handler: (_q, s) => { s.type('json').send(shared('hi!')) }, via: ['direct'], check: (t, r) => t.same([r.headers['content-type'], r.body], ['application/json; charset=utf-8', 'hi!']) }
  ]],
  ['known differences', [
    { name: 'res.set(ETag, \'\') before send', handler: (_q, s) => { s.set('ETag', ''); s.send('empty tag') }, via: ['direct'] },
    { name: 'a Buffer with an empty Content-Type', handler: (_q, s) => { s.setHeader('Content-Type', ''); s.send(Buffer.from('b')) }, via: ['direct'] },
    { name: 'app.set(etag fn) directly to a function named generateETag', app: (e) => { const a = route((_q, s) => s.send('named'))(e); a.set('etag fn', function generateETag () { return '"mine"' }); return a }, via: ['direct'], todo: always('sendDirect takes any function named generateETag, with the etag setting true, for Express\'s weak generator and computes the weak tag itself; Express calls the function') },
    { name: 'app.settings.etag assigned \'strong\' without app.set (etag fn stays weak)', app: (e) => { const a = route((_q, s) => s.send('assigned'))(e); a.settings.etag = 'strong'; return a }, via: ['direct'], todo: always('sendDirect reads the strength from the etag setting, Express from the etag fn it compiled when the setting was set: the strong tag mounted, the weak one alone') },
    { name: 'a custom etag function that throws; the error handler ends the response with no body', app: (e) => { const a = withEtag(() => { throw new Error('etag failed') }, (_q, s) => { s.send('x') })(e); a.use((err: Error, _q: express.Request, s: express.Response, _n: express.NextFunction) => { record(err.message, s.headersSent); s.status(500).end() }); return a }, via: ['express'] },
    { name: 'a custom etag function that throws for a Buffer; the error handler sends a string', app: throwingEtag((text) => Buffer.from(text)), via: ['express'] }
  ]]
]

/** [prefix, onSend hooks]: at the root and under a prefix, then under a prefix with two onSend hooks. */
const MODES: Array<[string | undefined, boolean]> = [[undefined, false], ['/m', false], ['/m', true]]

for (const [factory, version] of [[express, 5], [express4, 4]] as Array<[Factory, Version]>) {
  for (const [prefix, hooks] of MODES) {
    test(`Express ${version} mounted ${prefix === undefined ? 'at the root' : 'under ' + prefix}${hooks ? ', with onSend hooks' : ''}: answers as alone`, async (t) => {
      let count = 0
      for (const [kind, cases] of CASES) {
        await t.test(kind, async (t) => {
          for (const c of cases) {
            if (c.versions !== undefined && !c.versions.includes(version)) continue
            const app = c.app !== undefined ? c.app(factory) : route(c.handler as Handler)(factory)
            // Express's final handler logs errors to stderr unless its env is 'test'.
            app.set('env', 'test')
            const pair = await serve(app, prefix, hooks)
            for (const [i, r] of (c.requests ?? [{}]).entries()) {
              const label = `${c.name} (${r.method ?? 'GET'} ${r.path ?? '/r'})`
              const todo = c.todo?.(version, i)
              seen = []
              const alone = await call(pair.alone, r)
              await settle()
              const seenAlone = seen
              seen = []
              const before = written
              const mounted = await call(pair.mounted, { ...r, path: (prefix ?? '') + (r.path ?? '/r') })
              await settle()
              const via = written > before ? 'direct' : 'express'
              if (todo === undefined) {
                t.same(mounted, alone, label)
                t.same(seen, seenAlone, `${label}: the app saw the same`)
              } else {
                t.same({ response: mounted, seen }, { response: alone, seen: seenAlone }, label, { todo })
                t.comment(`${label}\n  alone:   ${JSON.stringify({ ...alone, seen: seenAlone })}\n  mounted: ${JSON.stringify({ ...mounted, seen })}`)
              }
              if (c.via !== undefined) t.equal(via, c.via[i], `${label}: written by ${c.via[i] === 'direct' ? 'sendDirect' : 'Express'}`)
              c.check?.(t, alone, version)
              count++
            }
            if (hooks) t.equal(pair.hooked(), 0, `${c.name}: no onSend hook ran`)
            await pair.close()
          }
        })
      }
      t.comment(`${count} requests compared`)
    })
  }
}

/** Lets anything the servers still do after the response (a second send, an error handler) run. */
function settle (): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5))
}

interface Spec {
  body: string
  kind: 'string' | 'buffer' | 'json'
  type: string | null
  status: number
  method: 'GET' | 'HEAD'
  etag: boolean | 'weak' | 'strong' | 'fn'
  preset: boolean
  condition: 'none' | 'match' | 'other' | 'since'
}

const spec: fc.Arbitrary<Spec> = fc.record({
  body: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme-ascii', minLength: 990, maxLength: 1010 })),
  kind: fc.constantFrom('string', 'buffer', 'json'),
  type: fc.constantFrom(null, 'text/plain', 'json', 'application/octet-stream', 'html', 'text/plain; charset=iso-8859-1', 'Text/Plain', 'text/html; charset=utf-8'),
  status: fc.oneof({ weight: 4, arbitrary: fc.constant(200) }, { weight: 3, arbitrary: fc.constantFrom(201, 404, 500) }, { weight: 2, arbitrary: fc.constantFrom(204, 205, 304) }),
  method: fc.oneof({ weight: 3, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constant('HEAD') }),
  etag: fc.constantFrom(true, false, 'weak', 'strong', 'fn'),
  preset: fc.boolean(),
  condition: fc.oneof({ weight: 3, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: fc.constantFrom('match', 'other', 'since') })
}) as fc.Arbitrary<Spec>

test('property: random bodies, types, statuses, methods, etag settings and conditions answer as alone', async (t) => {
  const runs = Number(process.env.FC_RUNS ?? 250)
  for (const [factory, version] of [[express, 5], [express4, 4]] as Array<[Factory, Version]>) {
    const app = factory()
    app.set('env', 'test')
    app.get('/p', (q, s) => {
      const o = JSON.parse(Buffer.from(q.get('x-spec') as string, 'base64').toString()) as Spec
      s.status(o.status)
      s.set('Last-Modified', LAST_MODIFIED)
      if (o.preset) s.set('ETag', '"preset"')
      if (o.type !== null) s.type(o.type)
      if (o.kind === 'json') s.json({ body: o.body })
      else s.send(o.kind === 'buffer' ? Buffer.from(o.body) : o.body)
    })
    const pair = await serve(app, '/m', false)
    const failures: string[] = []
    const start = written
    try {
      await fc.assert(fc.asyncProperty(spec, async (o) => {
        app.set('etag', o.etag === 'fn' ? (b: Buffer) => `"fn-${b.length}"` : o.etag)
        const headers: http.OutgoingHttpHeaders = { 'x-spec': Buffer.from(JSON.stringify(o)).toString('base64') }
        if (o.condition === 'match') {
          const first = await call(pair.alone, { path: '/p', headers })
          headers['if-none-match'] = (first.headers.etag as string | undefined) ?? '"none"'
        }
        if (o.condition === 'other') headers['if-none-match'] = '"other"'
        if (o.condition === 'since') headers['if-modified-since'] = LAST_MODIFIED
        const alone = await call(pair.alone, { method: o.method, path: '/p', headers })
        const mounted = await call(pair.mounted, { method: o.method, path: '/m/p', headers })
        if (!util.isDeepStrictEqual(mounted, alone)) {
          failures.push(JSON.stringify({ o, alone, mounted }))
          return false
        }
        return true
      }), { numRuns: runs, ...(process.env.FC_SEED !== undefined ? { seed: Number(process.env.FC_SEED) } : {}) })
      t.pass(`Express ${version}: ${runs} random responses the same mounted and alone`)
      t.ok(written - start > runs / 20, `Express ${version}: ${written - start} of them written by sendDirect`)
    } catch (err) {
      t.fail(`Express ${version}: ${(err as Error).message}`, { counterexample: failures.at(-1) })
    }
    await pair.close()
  }
})

test('entityTag equals the etag package, weak and strong', async (t) => {
  const bodies: Array<string | Buffer> = [
    '', 'a', 'hello', '<p>hello</p>', MULTI, 'a\ud800b', '\udc00', '\u0000', LARGE, 'x'.repeat(65536),
    Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 1, 2, 255]), Buffer.from(MULTI), Buffer.from('hello world').subarray(6), shared('shared'),
    Buffer.alloc(999, 7), Buffer.alloc(1000, 8), Buffer.alloc(70000, 9)
  ]
  // Seeded (test/prng.js): strings over the whole UTF-16 range (lone surrogates included), and bytes.
  const random = mulberry32(0x5eed)
  for (let n = 0; n < 200; n++) {
    if (n % 2 === 0) bodies.push(Buffer.from(Array.from({ length: n * 3 }, () => Math.floor(random() * 256))))
    else bodies.push(String.fromCharCode(...Array.from({ length: n }, () => Math.floor(random() * 0x10000))))
  }
  let checks = 0
  for (const body of bodies) {
    for (const weak of [true, false]) {
      const label = `${typeof body === 'string' ? 'string' : 'Buffer'} of ${body.length} (${weak ? 'weak' : 'strong'})`
      t.equal(entityTag(body, weak), etag(body, { weak }), label)
      checks++
    }
  }
  t.equal(entityTag('', true), EMPTY_WEAK, 'the empty body, weak')
  t.equal(entityTag(Buffer.alloc(0), false), '"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"', 'the empty body, strong')
  t.match(entityTag(MULTI, true), new RegExp(`^W/"${Buffer.byteLength(MULTI).toString(16)}-[A-Za-z0-9+/]{27}"$`), 'the byte length in hex, 27 characters of base64 SHA-1')
  t.comment(`${checks} bodies compared with the etag package`)
})

test('sha1With: crypto.hash and the Hash object agree', async (t) => {
  const viaHash = sha1With(undefined)
  const oneShot = (crypto as { hash?: (a: string, d: string | Buffer, e: 'base64') => string }).hash
  t.type(oneShot, 'function', 'this Node has crypto.hash')
  const viaOneShot = sha1With(oneShot)
  const calls: unknown[][] = []
  const spy = sha1With((...args) => { calls.push(args); return 'spied' })
  for (const data of ['', 'abc', MULTI, 'a\ud800b', LARGE, Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.from('hello world').subarray(6), Buffer.alloc(4096, 1)]) {
    const expected = crypto.createHash('sha1').update(data).digest('base64')
    t.equal(viaHash(data), expected, `Hash object: ${data.length}`)
    t.equal(viaOneShot(data), expected, `crypto.hash: ${data.length}`)
  }
  t.equal(spy('x'), 'spied')
  t.same(calls, [['sha1', 'x', 'base64']], 'the one-shot function is called with (sha1, data, base64)')
})

test('isExpressApp: Express 4 and 5 apps only', async (t) => {
  const yes: Array<[string, unknown]> = [['express()', express()], ['express4()', express4()]]
  const no: Array<[string, unknown]> = [
    ['express.Router()', express.Router()],
    ['express4.Router()', express4.Router()],
    ['connect()', connect()],
    ['a (req, res, next) function', (_req: unknown, _res: unknown, _next: unknown) => {}],
    ['an object with handle', { handle: (_req: unknown, _res: unknown, _next: unknown) => {} }],
    ['an object shaped like an app', { set () {}, get () {}, response: { send () {} } }],
    ['a function with set and get but no response', Object.assign((_a: unknown, _b: unknown) => {}, { set () {}, get () {} })],
    ['a function whose response has no send', Object.assign((_a: unknown, _b: unknown) => {}, { set () {}, get () {}, response: {} })],
    ['a function whose get is not a function', Object.assign((_a: unknown, _b: unknown) => {}, { set () {}, get: 1, response: { send () {} } })],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'express']
  ]
  for (const [name, value] of yes) t.equal(isExpressApp(value), true, name)
  for (const [name, value] of no) t.equal(isExpressApp(value), false, name)
})

/**
 * A real request and response pair, not connected, with an Express app as res.app. The response
 * records its res.end calls (then ends as usual: with no socket, Node keeps what it writes).
 */
function pair (o: { method?: string, headers?: http.IncomingHttpHeaders, status?: number, set?: Record<string, string | number | string[]>, etag?: unknown, app?: null }): { req: http.IncomingMessage, res: ExpressResponse, app: express.Express, ends: unknown[][] } {
  const req = new http.IncomingMessage(new net.Socket())
  req.method = o.method ?? 'GET'
  req.headers = o.headers ?? {}
  const res = new http.ServerResponse(req) as ExpressResponse
  const app = express()
  if ('etag' in o) app.set('etag', o.etag)
  if (o.app !== null) res.app = app
  res.statusCode = o.status ?? 200
  for (const [name, value] of Object.entries(o.set ?? {})) res.setHeader(name, value)
  const ends: unknown[][] = []
  const end = res.end as (...args: unknown[]) => http.ServerResponse
  res.end = function (this: http.ServerResponse, ...args: unknown[]) {
    ends.push(args)
    return end.apply(this, args)
  } as ExpressResponse['end']
  return { req, res, app, ends }
}

function headersOf (res: http.ServerResponse): Json {
  return { ...res.getHeaders() }
}

test('sendDirect: every fallback condition returns false and changes nothing', async (t) => {
  const conditions: Array<[string, Parameters<typeof pair>[0], unknown, ((p: ReturnType<typeof pair>) => void)?]> = [
    ['HEAD', { method: 'HEAD' }, 'x'],
    ['status 204', { status: 204 }, 'x'],
    ['status 205', { status: 205 }, 'x'],
    ['status 304', { status: 304 }, 'x'],
    ['If-None-Match', { headers: { 'if-none-match': '"x"' } }, 'x'],
    ['If-None-Match empty', { headers: { 'if-none-match': '' } }, 'x'],
    ['If-Modified-Since', { headers: { 'if-modified-since': LAST_MODIFIED } }, Buffer.from('x')],
    ['Transfer-Encoding set', { set: { 'Transfer-Encoding': 'chunked' } }, 'x'],
    ['Transfer-Encoding set, a Buffer', { set: { 'Transfer-Encoding': 'chunked' } }, Buffer.from('x')],
    ['no res.app', { app: null }, 'x'],
    ['text/plain without a charset', { set: { 'content-type': 'text/plain' } }, 'x'],
    ['charset=UTF-8', { set: { 'content-type': 'text/plain; charset=UTF-8' } }, 'x'],
    ['an uppercase type', { set: { 'content-type': 'Text/Plain; charset=utf-8' } }, 'x'],
    ['no space before charset', { set: { 'content-type': 'text/plain;charset=utf-8' } }, 'x'],
    ['another parameter', { set: { 'content-type': 'text/plain; charset=utf-8; format=flowed' } }, 'x'],
    ['a parameter before charset', { set: { 'content-type': 'text/plain; format=flowed; charset=utf-8' } }, 'x'],
    ['a quoted charset', { set: { 'content-type': 'text/plain; charset="utf-8"' } }, 'x'],
    ['another charset', { set: { 'content-type': 'text/plain; charset=iso-8859-1' } }, 'x'],
    ['an empty Content-Type', { set: { 'content-type': '' } }, 'x'],
    ['a Content-Type array', { set: { 'content-type': ['text/plain; charset=utf-8'] } }, 'x'],
    ['a numeric Content-Type', { set: { 'content-type': 42 } }, 'x'],
    ['a number', {}, 42],
    ['a boolean', {}, true],
    ['null', {}, null],
    ['undefined', {}, undefined],
    ['an object', {}, { a: 1 }],
    ['an array', {}, ['x']],
    ['a String object', {}, Object('x')],
    ['a Uint8Array', {}, new Uint8Array([1])],
    ['an ArrayBuffer', {}, new ArrayBuffer(1)],
    ['a DataView', {}, new DataView(new ArrayBuffer(1))],
    ['the headers already sent', {}, 'x', ({ res }) => { res.writeHead(200, { 'x-sent': '1' }) }]
  ]
  for (const [name, o, body, prepare] of conditions) {
    const p = pair(o)
    prepare?.(p)
    const before = headersOf(p.res)
    const status = p.res.statusCode
    const sent = p.res.headersSent
    t.equal(sendDirect(p.req, p.res, body), false, name)
    t.same(headersOf(p.res), before, `${name}: no header changed`)
    t.equal(p.res.statusCode, status, `${name}: status unchanged`)
    t.same([p.ends, p.res.headersSent, p.res.writableEnded], [[], sent, false], `${name}: nothing written, not ended`)
  }
})

test('sendDirect: the headers Express would set, then res.end(body)', async (t) => {
  const HTML = 'text/html; charset=utf-8'
  const cases: Array<[string, Parameters<typeof pair>[0], string | Buffer, Json, ((p: ReturnType<typeof pair>) => void)?]> = [
    ['a string', {}, 'hello', { 'content-type': HTML, 'content-length': '5', etag: W('hello') }],
    ['an empty string', {}, '', { 'content-type': HTML, 'content-length': '0', etag: EMPTY_WEAK }],
    ['a multi-byte string: the byte length', {}, MULTI, { 'content-type': HTML, 'content-length': String(Buffer.byteLength(MULTI)), etag: W(MULTI) }],
    ['a lone surrogate: the length of its UTF-8', {}, 'a\ud800b', { 'content-type': HTML, 'content-length': '5', etag: W('a\ud800b') }],
    ['a string, type with charset=utf-8', { set: { 'content-type': 'application/json; charset=utf-8' } }, '{}', { 'content-type': 'application/json; charset=utf-8', 'content-length': '2', etag: W('{}') }],
    ['a string, token characters in the type', { set: { 'content-type': "a!#$%&'*+.^_`|~0-9-/b.c+d; charset=utf-8" } }, 'x', { 'content-type': "a!#$%&'*+.^_`|~0-9-/b.c+d; charset=utf-8", 'content-length': '1', etag: W('x') }],
    ['a Buffer', {}, Buffer.from([1, 2]), { 'content-type': 'application/octet-stream', 'content-length': '2', etag: W(Buffer.from([1, 2])) }],
    ['an empty Buffer', {}, Buffer.alloc(0), { 'content-type': 'application/octet-stream', 'content-length': '0', etag: EMPTY_WEAK }],
    ['a Buffer slice', {}, Buffer.from('hello world').subarray(6), { 'content-type': 'application/octet-stream', 'content-length': '5', etag: W('world') }],
    ['a Buffer with a type', { set: { 'content-type': 'image/png' } }, Buffer.from('p'), { 'content-type': 'image/png', 'content-length': '1', etag: W('p') }],
    ['a Buffer with a type array', { set: { 'content-type': ['a/b', 'c/d'] } }, Buffer.from('p'), { 'content-type': ['a/b', 'c/d'], 'content-length': '1', etag: W('p') }],
    ['a Buffer with a type Express would not parse', { set: { 'content-type': 'weird' } }, Buffer.from('p'), { 'content-type': 'weird', 'content-length': '1', etag: W('p') }],
    ['etag strong', { etag: 'strong' }, 'x', { 'content-type': HTML, 'content-length': '1', etag: etag('x') }],
    ['etag weak', { etag: 'weak' }, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }],
    ['etag true', { etag: true }, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }],
    ['etag false', { etag: false }, 'x', { 'content-type': HTML, 'content-length': '1' }],
    ['the etag setting deleted: Express\'s generator is called', {}, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }, ({ app }) => { delete app.settings.etag }],
    ['an unknown etag setting: Express\'s generator is called', {}, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }, ({ app }) => { app.settings.etag = 'other' }],
    ['the strong generator with the etag setting deleted', { etag: 'strong' }, 'x', { 'content-type': HTML, 'content-length': '1', etag: etag('x') }, ({ app }) => { delete app.settings.etag }],
    ['an etag fn that is not a function', {}, 'x', { 'content-type': HTML, 'content-length': '1' }, ({ app }) => { app.settings['etag fn'] = 'no' }],
    ['an ETag already set', { set: { etag: '"mine"' }, etag: () => { throw new Error('not called') } }, 'x', { 'content-type': HTML, 'content-length': '1', etag: '"mine"' }],
    ['a wrong Content-Length replaced', { set: { 'content-length': '99' } }, 'short', { 'content-type': HTML, 'content-length': '5', etag: W('short') }],
    ['status 201', { status: 201 }, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }],
    ['status 500', { status: 500 }, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }],
    ['a POST', { method: 'POST' }, 'x', { 'content-type': HTML, 'content-length': '1', etag: W('x') }],
    ['other headers are kept', { set: { 'x-other': 'o', 'Last-Modified': LAST_MODIFIED } }, 'x', { 'x-other': 'o', 'last-modified': LAST_MODIFIED, 'content-type': HTML, 'content-length': '1', etag: W('x') }]
  ]
  for (const [name, o, body, expected, prepare] of cases) {
    const p = pair(o)
    prepare?.(p)
    t.equal(sendDirect(p.req, p.res, body), true, name)
    t.same(headersOf(p.res), expected, `${name}: headers`)
    t.equal(p.ends.length, 1, `${name}: res.end called once`)
    t.equal(p.ends[0].length, 1, `${name}: with one argument`)
    t.equal(p.ends[0][0], body, `${name}: the body itself, not a copy`)
    t.same([p.res.headersSent, p.res.writableEnded], [true, true], `${name}: written and ended before sendDirect returns`)
  }
})

test('jsonBody: Express\'s res.json without its MIME lookup, or false when Express has to answer', async (t) => {
  const { jsonBody } = expressSend
  const p = pair({})
  t.equal(jsonBody(p.res, { a: 1 }), '{"a":1}', 'the body JSON.stringify gives')
  t.equal(p.res.getHeader('content-type'), 'application/json; charset=utf-8', 'the type Express\'s res.set makes of application/json')
  t.equal(jsonBody(p.res, undefined), undefined, 'undefined for a value JSON.stringify leaves out')
  const q = pair({ set: { 'content-type': 'text/x' } })
  t.equal(jsonBody(q.res, [1]), '[1]', 'a body with a type already set')
  t.equal(q.res.getHeader('content-type'), 'text/x', 'the type set before is kept')
  for (const setting of ['json replacer', 'json spaces', 'json escape']) {
    const r = pair({})
    r.app.set(setting, setting === 'json replacer' ? (_k: string, v: unknown) => v : setting === 'json spaces' ? 2 : true)
    t.equal(jsonBody(r.res, { a: 1 }), false, `${setting}: Express's own res.json answers`)
    t.same(r.res.getHeaderNames(), [], `${setting}: nothing set`)
  }
  t.equal(jsonBody(pair({ app: null }).res, { a: 1 }), false, 'no app on the response: Express\'s own res.json')
})

test('sendDirect: a custom etag function', async (t) => {
  const tags: Array<[string, unknown, string | string[] | undefined]> = [
    ['a string', '"s"', '"s"'],
    ['a number', 42, '42'],
    ['true', true, 'true'],
    ['an array', ['"a"', 7], ['"a"', '7']],
    ['an object', { toString: () => '"o"' }, '"o"'],
    ['0', 0, undefined],
    ['-0', -0, undefined],
    ['NaN', NaN, undefined],
    ['0n', BigInt(0), undefined],
    ['an empty string', '', undefined],
    ['null', null, undefined],
    ['undefined', undefined, undefined],
    ['false', false, undefined]
  ]
  for (const [name, tag, expected] of tags) {
    for (const body of ['body', Buffer.from('body')]) {
      const calls: unknown[][] = []
      const p = pair({ etag: (...args: unknown[]) => { calls.push(args); return tag } })
      t.equal(sendDirect(p.req, p.res, body), true, name)
      t.same(p.res.getHeader('etag'), expected, `${name}: ${expected === undefined ? 'no ETag (falsy, as in Express)' : 'the ETag written as Express writes it'}`)
      t.equal(calls.length, 1, `${name}: called once`)
      t.ok(Buffer.isBuffer(calls[0][0]) && (calls[0][0] as Buffer).equals(Buffer.from('body')), `${name}: called with the body as a Buffer`)
      t.equal(calls[0].length, 2, `${name}: and an encoding argument`)
      t.equal(calls[0][1], undefined, `${name}: which is undefined`)
      t.equal(p.res.getHeader('content-length'), '4', `${name}: Content-Length`)
    }
  }
  // A Buffer body is handed over as it is; a string as a fresh Buffer of its UTF-8.
  const buffer = Buffer.from('same')
  const p = pair({ etag: (b: Buffer) => { t.equal(b, buffer, 'the Buffer itself'); return '"b"' } })
  sendDirect(p.req, p.res, buffer)
  // A generator that throws: the error reaches the caller with Content-Type and Content-Length set
  // (Express sets them before it calls the generator), and nothing written.
  const q = pair({ etag: () => { throw new Error('etag failed') } })
  t.throws(() => sendDirect(q.req, q.res, 'x'), { message: 'etag failed' }, 'the error is thrown to the caller (Express\'s route then passes it on)')
  t.same([headersOf(q.res), q.ends, q.res.headersSent], [{ 'content-type': 'text/html; charset=utf-8', 'content-length': '1' }, [], false], 'type and length set as Express sets them, nothing written')
})

test('Express\'s own res.send: never called on the direct path, once for each fallback', async (t) => {
  for (const [factory, version] of [[express, 5], [express4, 4]] as Array<[Factory, Version]>) {
    const proto = factory.response as unknown as { send: (...args: unknown[]) => unknown }
    const original = proto.send
    let own = 0
    proto.send = function (this: unknown, ...args: unknown[]) { own++; return original.apply(this, args) }
    t.teardown(() => { proto.send = original })
    const app = factory()
    app.get('/send', (_q, s) => { s.send('x') })
    app.get('/json', (_q, s) => { s.json({ a: 1 }) })
    app.get('/buffer', (_q, s) => { s.send(Buffer.from('b')) })
    app.get('/object', (_q, s) => { s.send({ a: 1 }) })
    app.get('/flowed', (_q, s) => { s.type('text/plain; format=flowed').send('x') })
    app.get('/no-content', (_q, s) => { s.status(204).send('x') })
    const f = Fastify()
    await f.register(mountApp, { app, prefix: '/m' })
    const cases: Array<[string, 'GET' | 'HEAD', number, number]> = [
      // [path, method, Express's own send calls, sendDirect writes]
      ['/send', 'GET', 0, 1],
      ['/json', 'GET', 0, 1],
      ['/buffer', 'GET', 0, 1],
      // res.send(object) goes through Express's send to res.json, whose res.send is direct.
      ['/object', 'GET', 1, 1],
      ['/flowed', 'GET', 1, 0],
      ['/no-content', 'GET', 1, 0],
      ['/send', 'HEAD', 1, 0],
      ['/json', 'HEAD', 1, 0],
      ['/send?conditional', 'GET', 1, 0]
    ]
    for (const [path, method, calls, direct] of cases) {
      own = 0
      const before = written
      const headers = path.endsWith('?conditional') ? { 'if-none-match': '"other"' } : undefined
      const res = await f.inject({ method, url: '/m' + path, headers })
      t.ok(res.statusCode === 200 || res.statusCode === 204, `Express ${version} ${method} ${path}`)
      t.equal(own, calls, `Express ${version} ${method} ${path}: Express's own send called ${calls} times`)
      t.equal(written - before, direct, `Express ${version} ${method} ${path}: ${direct === 1 ? 'written by sendDirect' : 'not by sendDirect'}`)
    }
    await f.close()
    proto.send = original
  }
})
