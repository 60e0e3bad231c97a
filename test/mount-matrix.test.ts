// mountApp path matrix: every routerOptions combination (16) x attack paths x every hook a guard
// on the mount's scope can run in. A guard is never bypassed: whenever the mounted app runs, the
// guard ran first; whenever the guard says no, the app does not run. Real sockets, so that no
// client normalises the request target (light-my-request resolves `..`, `#` and `\`).
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mountApp } from '../lib/mount/mount-app'

const FLAGS = ['ignoreDuplicateSlashes', 'ignoreTrailingSlash', 'useSemicolonDelimiter', 'caseSensitive'] as const
type Flags = Record<typeof FLAGS[number], boolean>
const HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const
type Hook = typeof HOOKS[number]

// [method, path, expected]: 'mount' = routed to a guarded mount; a number = the status of a
// request that never reaches a guarded mount (whatever the guard says).
type Expect = 'mount' | number
const D = (o: Flags): boolean => o.ignoreDuplicateSlashes
const S = (o: Flags): boolean => o.useSemicolonDelimiter
const I = (o: Flags): boolean => !o.caseSensitive
const when = (cond: (o: Flags) => boolean) => (o: Flags): Expect => cond(o) ? 'mount' : 404
const PATHS: Array<[string, string, (o: Flags) => Expect]> = [
  ['GET', '/admin', () => 'mount'],
  ['GET', '/admin/', () => 'mount'],
  ['GET', '/admin/x', () => 'mount'],
  ['GET', '/admin?x=/public', () => 'mount'],
  ['GET', '/%61dmin', () => 'mount'],
  ['GET', '/%61%64%6D%69%6E/x', () => 'mount'],
  ['GET', '/admin/%2e%2e/public', () => 'mount'],
  ['GET', '/admin//x', () => 'mount'],
  ['GET', '/admin/x;y=1', () => 'mount'],
  ['GET', '/admin#frag', () => 'mount'],
  ['GET', '/admin/%00', () => 'mount'],
  ['GET', 'http://h/admin/x', () => 'mount'],
  ['GET', '/api/admin', () => 'mount'],
  ['GET', '/api/%61dmin/x', () => 'mount'],
  ['POST', '/admin/x', () => 'mount'],
  ['HEAD', '/admin', () => 'mount'],
  ['OPTIONS', '/%61dmin', () => 'mount'],
  ['PATCH', '/api/admin/', () => 'mount'],
  ['GET', '//admin', when(D)],
  ['GET', '//admin//x', when(D)],
  ['GET', '///admin', when(D)],
  ['DELETE', '//api//admin', when(D)],
  ['GET', '/admin;x=1', when(S)],
  ['GET', '/admin;x=1/y', when(S)],
  ['GET', '//admin;x', when((o) => D(o) && S(o))],
  ['GET', '/ADMIN', when(I)],
  ['GET', '/Admin/x', when(I)],
  ['GET', '/API/ADMIN/x', when(I)],
  ['GET', '//ADMIN;x', when((o) => D(o) && S(o) && I(o))],
  ['GET', '/admin%2Fx', () => 404],
  ['GET', '/%2Fadmin', () => 404],
  ['GET', '/admin%2f', () => 404],
  ['GET', '/%2561dmin', () => 404],
  ['GET', '/admin%3Bx', () => 404],
  ['GET', '/admin%00', () => 404],
  ['GET', '/./admin', () => 404],
  ['GET', '/x/../admin', () => 404],
  ['GET', '/%2e/admin', () => 404],
  ['GET', '/admin\\x', () => 404],
  ['GET', '/adminx', () => 404],
  ['GET', '/api/api/admin', () => 404],
  ['GET', '/api;x/admin', () => 404],
  ['GET', '/admin-panel', () => 200],
  ['GET', '/public/../admin', () => 200],
  ['GET', '/%zz', () => 400],
  ['GET', '/admin/%zz', () => 400],
  ['GET', '/admin/%', () => 400],
  ['GET', '/%61dmin/%c0%af', () => 400]
]

function send (port: number, agent: http.Agent, method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, body }))
    })
    req.on('error', reject)
    req.end(method === 'POST' ? '{"a":1}' : undefined)
  })
}

/** The server: guarded mounts at /admin and /api/admin; the guard's hook is picked per request. */
async function server (o: Flags, leaks: string[]): Promise<FastifyInstance> {
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

test('mount matrix: 16 routerOptions x paths x hooks, the guard is never bypassed', async (t) => {
  t.ok(PATHS.length >= 25, `${PATHS.length} attack paths`)
  let checks = 0
  const leaks: string[] = []
  const failures: string[] = []
  for (let bits = 0; bits < 16; bits++) {
    const o = Object.fromEntries(FLAGS.map((k, i) => [k, (bits & (1 << i)) !== 0])) as Flags
    const label = FLAGS.filter((k) => o[k]).join('+') || 'defaults'
    const f = await server(o, leaks)
    const port = (f.server.address() as AddressInfo).port
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    for (const [method, path, expect] of PATHS) {
      const want = expect(o)
      const head = method === 'HEAD'
      // With the key, the guard lets it through: a request routed to a mount reaches the app.
      const open = await send(port, agent, method, path, { 'x-key': 'ok', 'x-hook': 'onRequest' })
      const reached = open.status === 200 && (head || open.body.startsWith('app:'))
      if (want === 'mount' ? !reached : (reached || open.status !== want)) failures.push(`${label} ${method} ${path}: with the key got ${open.status} ${open.body.slice(0, 40)}, want ${want}`)
      for (const hook of HOOKS) {
        const res = await send(port, agent, method, path, { 'x-hook': hook })
        checks++
        const ok = want === 'mount'
          ? res.status === 403 && (head || res.body === 'guarded')
          : res.status === want && !res.body.startsWith('app:')
        if (!ok) failures.push(`${label} ${hook} ${method} ${path}: got ${res.status} ${res.body.slice(0, 40)}, want ${want === 'mount' ? '403 from the guard' : want}`)
      }
    }
    agent.destroy()
    await f.close()
  }
  t.same(failures, [], 'every request routed to a guarded mount was stopped by its guard, in every hook')
  t.same(leaks, [], 'no mounted app ever ran without the key')
  t.equal(checks, 16 * PATHS.length * HOOKS.length)
  t.comment(`mount matrix: ${checks} guard checks (16 routerOptions combinations x ${PATHS.length} paths x ${HOOKS.length} hooks), plus ${16 * PATHS.length} keyed controls`)
})
