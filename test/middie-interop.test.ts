// @fastify/middie beside proxyFix: path-less fastify.use() middleware sees the corrected ip, ips,
// hostname, protocol and host, whichever of the two is registered first, and beside a mount.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import middie from '@fastify/middie'
import express from 'express'
import express4 from 'express4'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { mountApp } from '../lib/mount/mount-app'
import { proxyFix } from '../lib/fastify/proxy-fix'

type Json = Record<string, any>
type Use = (fn: (req: IncomingMessage & Json, res: ServerResponse, next: () => void) => void) => void

const CHAIN = { host: 'internal:3000', 'x-forwarded-for': '198.51.100.7, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example:8443', 'x-fhost': 'rewritten.example' }
const pick = (r: Json): Json => ({ ip: r.ip, ips: r.ips, hostname: r.hostname, protocol: r.protocol, host: r.host })

async function build (order: string, rewrite: boolean, seen: Json[]): Promise<FastifyInstance> {
  const f = Fastify()
  const fix = async (): Promise<void> => {
    await f.register(proxyFix, { trust: ['10.0.0.1', '10.0.0.2'] })
    if (rewrite) await f.register(hostRewrite, { header: 'x-fhost', trust: '10.0.0.1' })
  }
  if (order === 'proxyFix first') await fix()
  await f.register(middie)
  ;(f as unknown as { use: Use }).use((req, _res, next) => { seen.push(pick(req)); next() })
  if (order === 'middie first') await fix()
  f.get('/x', async (request) => pick(request))
  return f
}

test('path-less middleware sees the corrected values, in either registration order', async (t) => {
  for (const order of ['proxyFix first', 'middie first']) {
    for (const rewrite of [false, true]) {
      const seen: Json[] = []
      const f = await build(order, rewrite, seen)
      const label = `${order}${rewrite ? ', with hostRewrite' : ''}`
      const fastify = (await f.inject({ url: '/x', remoteAddress: '10.0.0.1', headers: CHAIN })).json()
      const host = rewrite ? 'rewritten.example' : 'public.example:8443'
      t.same(fastify, { ip: '198.51.100.7', ips: ['10.0.0.1', '10.0.0.2', '198.51.100.7'], hostname: host.replace(/:\d+$/, ''), protocol: 'https', host }, `${label}: Fastify's request`)
      t.same(seen[0], fastify, `${label}: the middleware sees the same`)
      const direct = (await f.inject({ url: '/x', remoteAddress: '203.0.113.9', headers: CHAIN })).json()
      t.same(seen[1], direct, `${label}: an untrusted peer: the same socket values`)
      t.same(direct, { ip: '203.0.113.9', ips: ['203.0.113.9'], hostname: 'internal', protocol: 'http', host: 'internal:3000' }, `${label}: nothing forwarded believed`)
      await f.close()
    }
  }
})

test('middie middleware and a mounted Express app agree', async (t) => {
  for (const [name, factory, host] of [['express 5', express, 'public.example:8443'], ['express 4', express4, 'public.example']] as const) {
    const seen: Json[] = []
    const f = await build('middie first', false, seen)
    const app = factory()
    app.get('/y', (req, res) => { res.json(pick(req)) })
    await f.register(mountApp, { app, prefix: '/legacy' })
    const body = (await f.inject({ url: '/legacy/y', remoteAddress: '10.0.0.1', headers: CHAIN })).json()
    t.same(body, { ip: '198.51.100.7', ips: ['198.51.100.7', '10.0.0.2'], hostname: 'public.example', protocol: 'https', host }, `${name}: the app sees Express's shapes (ips client first; Express 4's host is the hostname)`)
    t.same(seen[0].ip, '198.51.100.7', `${name}: the middleware ran first with the corrected values`)
    await f.close()
  }
})
