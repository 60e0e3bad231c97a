import { test } from 'tap'
import Fastify, { type FastifyReply } from 'fastify'
import { replyHeaders } from '../lib/mount/headers'
import { mountApp, type MountHandler } from '../lib/mount/mount-app'

// The mount copies the headers hooks set on the reply to the app's response. It reads the reply's
// own table when it can find it, and otherwise asks reply.getHeaders(). This file runs in a
// process whose first reply has no such table, so every mount here takes the getHeaders() path.
test('a reply without Fastify\'s header table: getHeaders() answers, here and for every later reply', async (t) => {
  const fake = { getHeaders: () => ({ 'x-from': 'getHeaders' }) } as unknown as FastifyReply
  t.same(replyHeaders(fake), { 'x-from': 'getHeaders' })

  const app: MountHandler = (_req, res) => { res.end('app') }
  const f = Fastify()
  f.addHook('onRequest', async (_req, reply) => { reply.header('x-hook', 'h') })
  f.register(mountApp, { app, prefix: '/legacy' })
  t.teardown(() => f.close())
  const res = await f.inject('/legacy/x')
  t.equal(res.body, 'app')
  t.equal(res.headers['x-hook'], 'h', 'a header a hook set reaches the app\'s response')
})
