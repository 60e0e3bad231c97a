// The servers of the mount path matrix (test/security/mount-path-bypass.test.ts): each puts a
// guard in front of mounted apps in its own way, and records in `leaks` every time a mounted app
// ran without the guard's key.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type http from 'node:http'
import express from 'express'
import { mountApp } from '../../lib/mount/mount-app'

export const FLAGS = ['ignoreDuplicateSlashes', 'ignoreTrailingSlash', 'useSemicolonDelimiter', 'caseSensitive'] as const
export type Flags = Record<typeof FLAGS[number], boolean>
export const HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const
type Hook = typeof HOOKS[number]

/**
 * Advisories: a guard on a parent scope, mounts in a child scope (/admin, /secret), an Express
 * Router with a parameter (/user), a mount in a prefixed scope (/v1/admin), an unguarded mount
 * (/public) and a Fastify route /admin-panel.
 */
export async function advisoryServer (router: FastifyServerOptions['routerOptions'], leaks: string[]): Promise<FastifyInstance> {
  const f = Fastify({ routerOptions: router })
  const app = (label: string) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.headers['x-key'] !== 'ok') leaks.push(`${label} ${String(req.url)}`)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ app: label, url: req.url }))
  }
  const guard = async (req: { headers: http.IncomingHttpHeaders }, reply: { code: (n: number) => { send: (b: string) => void } }): Promise<void> => {
    if (req.headers['x-key'] !== 'ok') reply.code(403).send('guarded')
  }
  // GHSA-72c6-fx6q-fr5w: the guard is on a parent scope; the mounts sit in a child scope.
  await f.register(async (parent) => {
    parent.addHook('onRequest', guard)
    await parent.register(async (child) => {
      await child.register(mountApp, { app: app('admin'), prefix: '/admin' })
      await child.register(mountApp, { app: app('secret'), prefix: '/secret' })
    })
    const users = express.Router()
    users.get('/:id/comments', (req, res) => { res.end(JSON.stringify({ app: 'user', id: req.params.id })) })
    users.use((req, _res, next) => { if (req.headers['x-key'] !== 'ok') leaks.push('user ' + req.url); next() })
    await parent.register(mountApp, { app: users, prefix: '/user' })
    // GHSA-hrwm-hgmj-7p9c: a mount inside a prefixed scope gets the scope prefix once.
    await parent.register(async (v1) => {
      await v1.register(mountApp, { app: app('v1admin'), prefix: '/admin' })
    }, { prefix: '/v1' })
  })
  f.get('/admin-panel', async () => ({ app: 'panel' }))
  await f.register(mountApp, { app: (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('{"app":"public"}'), prefix: '/public' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}

/** Hooks: guarded mounts at /admin and /api/admin; the guard's hook is picked per request. */
export async function hooksServer (o: Flags, leaks: string[]): Promise<FastifyInstance> {
  const f = Fastify({ routerOptions: o })
  const allowed = (req: FastifyRequest): boolean => req.headers['x-key'] === 'ok'
  const stop = (req: FastifyRequest, reply: FastifyReply, hook: Hook): boolean => {
    // Only the hook named by the request guards it, so each hook is shown to hold on its own.
    if (req.headers['x-hook'] !== hook || allowed(req)) return false
    reply.code(403).header('x-guard', hook).send('guarded')
    return true
  }
  const app = (label: string) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.headers['x-key'] !== 'ok') leaks.push(`${label} ${req.method} ${req.url} hook=${String(req.headers['x-hook'])}`)
    // drain a body, then answer
    req.resume()
    req.on('end', () => res.end(`app:${label}`))
  }
  const guarded = async (scope: FastifyInstance): Promise<void> => {
    scope.addHook('onRequest', (req, reply, done) => { if (!stop(req, reply, 'onRequest')) done() })
    scope.addHook('preParsing', (req, reply, payload, done) => { if (!stop(req, reply, 'preParsing')) done(null, payload) })
    scope.addHook('preValidation', (req, reply, done) => { if (!stop(req, reply, 'preValidation')) done() })
    scope.addHook('preHandler', (req, reply, done) => { if (!stop(req, reply, 'preHandler')) done() })
  }
  await f.register(async (scope) => {
    await guarded(scope)
    await scope.register(mountApp, { app: app('admin'), prefix: '/admin' })
  })
  await f.register(async (api) => {
    await guarded(api)
    await api.register(mountApp, { app: app('api'), prefix: '/admin' })
  }, { prefix: '/api' })
  f.get('/admin-panel', async () => 'panel')
  await f.register(mountApp, { app: (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('public'), prefix: '/public' })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}

/** Shadowing: guarded Fastify routes under `base` that the mounted app (at `base`) would also match. */
export async function shadowServer (o: Flags, factory: typeof express, base: string, leaks: string[]): Promise<FastifyInstance> {
  const f = Fastify({ routerOptions: o })
  const guard = { onRequest: async (req: any, reply: any) => { if (req.headers['x-key'] !== 'ok') await reply.code(403).send('guarded') } }
  f.get(`${base}/secret`, guard, async () => 'fastify secret')
  f.put(`${base}/secret`, guard, async () => 'fastify secret put')
  f.get(`${base}/user/:name/comments`, guard, async () => 'fastify comments')
  const app = factory()
  const leak = (req: any, res: any): void => {
    leaks.push(`${req.method} ${req.originalUrl}`)
    res.send('app secret')
  }
  app.all('/secret', leak)
  app.get('/user/:name/comments', leak)
  app.get('/public', (_req: any, res: any) => res.send('app public'))
  await f.register(mountApp, { app, prefix: base === '' ? '/' : base })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return f
}
