import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import { FST_ERR_PROXY_FIX_UPGRADE_REFUSED, invalidOption, show } from '../core/errors'
import { isExpressApp, type ExpressResponse } from './express-send'
import { isExpressResponse } from './express-server'
import { json, pinMethods, send } from './express-response'
import { replyHeaders, rewriteHeaders, setHeaders } from './headers'
import { checkPrefix, remainder, routerFlags } from './path'
import { addMethods, claimRoutes, yieldTo } from './routes'
import { appMatching, buildShadow, printedRoutes, shadowed, type Shadow } from './shadow'
import { appTrustPlan, correctedOf, hostIsHostname, setCorrected, type Source } from './values'
import { compileOptions, planNotices, type Plan } from '../core/options'
import { attach, planHeaders, warningsOn } from '../fastify/request-getters'
import { lostPrefix } from '../core/warnings'
import type { MountableApp, MountAppOptions, MountHandler, MountNext } from '../../types'

export { remainder } from './path'

export type { MountableApp, MountHandler, MountNext }

interface Mount {
  handle: MountHandler
  /** An Express app: its res.send takes the direct path of express-send.ts when it can. */
  express: boolean
  /** The full mount path (scope prefix + mount prefix), '' at the root. */
  base: string
  segments: number
  semicolon: boolean
  collapse: boolean
  /** The plans' own header names (clientIpHeader, hostRewrite's header), found on first use: the
   * mount's routes share one scope, and plans can not change once the server is ready. */
  extra: string[] | null
  /** Express 4: its `req.host` is the hostname. */
  hostIsHostname: boolean
  /** Where the corrected values come from (mount-values.ts). */
  source: Source
  /** Fastify's routes that the app would match where Fastify does not (mount-shadow.ts), set when the server is ready. */
  shadow: Shadow | null
}

type Raw = IncomingMessage & Record<string | symbol, unknown>

const WEBSOCKET = /(?:^|[\s,])websocket(?:$|[\s,])/i
/** Besides origin-form paths, the only request targets the router reads as a path. */
const ABSOLUTE = /^https?:\/\//i

function checkApp (app: unknown): MountHandler {
  if (typeof app === 'function') {
    if (app.length < 2) invalidOption('app', app, 'must take (req, res, next): a function with fewer than 2 parameters is not a Connect handler')
    return app as MountHandler
  }
  if (app !== null && typeof app === 'object' && typeof (app as { handle?: unknown }).handle === 'function') {
    const target = app as { handle: MountHandler }
    return (req, res, next) => target.handle(req, res, next)
  }
  return invalidOption('app', app, 'must be an Express or Connect app, a (req, res, next) function, or an object with a handle method')
}

/**
 * The error Fastify's error handler gets for `next(err)`: the app's own, with its status
 * (`status` or `statusCode`), unless its message is not for the client. As http-errors marks it
 * (`expose`, false by default from 500 up), such an error is handed on as one whose message is
 * the status text, with the app's error as its `cause` (logged, never sent).
 */
function appError (err: unknown): Error {
  if (!(err instanceof Error)) err = new Error(`The mounted app failed with ${show(err)}`)
  const e = err as Error & { status?: unknown, statusCode?: unknown, expose?: unknown }
  const given = e.status ?? e.statusCode
  const status = typeof given === 'number' && given >= 400 && given <= 599 ? given : 500
  if (e.expose === true || (e.expose === undefined && status < 500)) return e
  return Object.assign(new Error(STATUS_CODES[status] ?? 'Internal Server Error', { cause: e }), { statusCode: status })
}

/** A throw or a rejection is an error even when its reason is empty. */
function failure (err: unknown): unknown {
  return err ?? new Error('The mounted app failed without a reason')
}

function run (mount: Mount, request: FastifyRequest, reply: FastifyReply): void {
  const req = request.raw as Raw
  const res = reply.raw
  // The router matches any other target (`*`, `a://b/admin`) as it is, against a root mount's
  // wildcard; the app would read it as the path `/admin`, under a Fastify route that shadows it.
  const target = req.url as string
  if (target.charCodeAt(0) !== 47 && !ABSOLUTE.test(target)) {
    reply.callNotFound()
    return
  }
  // A request Fastify would give to one of its own routes if it matched paths as the app does
  // (`/SECRET`, `/secret/` beside a guarded `/secret`) gets Fastify's 404, never the app.
  if (mount.shadow !== null && shadowed(mount.shadow, req.method as string, target)) {
    reply.callNotFound()
    return
  }
  if (req.headers.upgrade !== undefined && WEBSOCKET.test(req.headers.upgrade)) {
    reply.header('connection', 'close').send(new FST_ERR_PROXY_FIX_UPGRADE_REFUSED())
    return
  }
  // The view is computed (and cached) from the headers as sent, before they are rewritten.
  const values = correctedOf(request, mount.source)
  const url = req.url as string
  const headers = req.headers
  const reqProto = Object.getPrototypeOf(req)
  const resProto = Object.getPrototypeOf(res)
  // An HTTP/2 response is no ServerResponse: Express can not take it over, and a Connect handler needs nothing pinned.
  if (resProto !== ServerResponse.prototype && res instanceof ServerResponse && !isExpressResponse(resProto)) pinMethods(res, resProto)
  const status = res.statusCode
  const preset = res.getHeaderNames()

  setCorrected(req, values, mount.hostIsHostname)
  const rewritten = rewriteHeaders(req, values, mount.extra ??= planHeaders(request))
  if (rewritten !== headers) setHeaders(req, rewritten)
  req.originalUrl = url
  req.baseUrl = mount.base
  // As @fastify/express and @fastify/middie provide them.
  req.id = request.id
  req.log = request.log
  ;(res as ServerResponse & { log?: unknown }).log = request.log
  req.url = remainder(url, mount.segments, mount.semicolon, mount.collapse)
  const set = replyHeaders(reply)
  for (const name in set) res.setHeader(name, set[name] as string | number | string[])
  const restore = (): void => {
    req.url = url
    if (req.headers !== headers) setHeaders(req, headers)
  }
  // Fastify's url and headers are back as the response ends, so onResponse hooks and the request
  // log see them. (A 'finish' listener would do too, but measured several percent per request.)
  const end = res.end as (chunk: unknown, encoding: unknown, callback: unknown) => ServerResponse
  const prefix = values.prefix
  // end(chunk, encoding, callback) is the whole signature (a rest parameter costs an array a request)
  res.end = function (this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) {
    restore()
    if (prefix !== '' && this.statusCode >= 300 && this.statusCode < 400 && warningsOn(request)) lostPrefix(request.log, prefix, this.getHeader('location'))
    return end.call(this, chunk, encoding, callback)
  } as ServerResponse['end']
  if (mount.express) {
    const ex = res as ExpressResponse
    ex.send = send
    ex.json = json
  }

  let settled = false
  const next: MountNext = (err) => {
    if (settled) return
    settled = true
    const failed = err !== undefined && err !== null && err !== 'route' && err !== 'router'
    if (res.headersSent) {
      // The app has answered (or started to): exactly one response, whatever it says next.
      if (failed && !res.writableEnded) {
        request.log.error({ err }, 'mountApp: the mounted app failed after the response started; closing the connection')
        res.destroy()
      }
      return
    }
    restore()
    delete (res as Partial<ServerResponse>).end
    if (mount.express) {
      delete (res as Partial<ExpressResponse>).send
      delete (res as Partial<ExpressResponse>).json
    }
    Object.setPrototypeOf(req, reqProto)
    Object.setPrototypeOf(res, resProto)
    res.statusCode = status
    for (const name of res.getHeaderNames()) if (!preset.includes(name)) res.removeHeader(name)
    if (!failed) {
      reply.callNotFound()
    } else {
      reply.send(appError(err))
    }
  }

  try {
    const result = mount.handle(req, res, next) as PromiseLike<unknown> | undefined
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') result.then(undefined, (err) => next(failure(err)))
  } catch (err) {
    next(failure(err))
  }
}

function passThrough (_request: FastifyRequest, _payload: unknown, done: (err: Error | null, body?: unknown) => void): void {
  // The app reads the body stream itself.
  done(null)
}

const plugin: FastifyPluginAsync<MountAppOptions> = async (fastify, opts) => {
  const plan = compileOptions(opts, 'mountApp')
  const app = opts.app
  const handle = checkApp(app)
  const express = isExpressApp(app)
  const prefix = checkPrefix(opts.prefix)
  // with options of its own, the mount's scope gets a proxyFix of its own
  const own: Plan | null = Object.keys(opts).some((k) => k !== 'app' && k !== 'prefix') ? { ...plan, plugin: 'proxyFix' } : null
  const flags = routerFlags(fastify)
  const mount: Mount = { handle, express, hostIsHostname: hostIsHostname(app, express), base: '', segments: 0, semicolon: flags.semicolon, collapse: flags.collapse, extra: null, source: { getters: null, appPlan: null }, shadow: null }
  const handler = function (request: FastifyRequest, reply: FastifyReply): void { run(mount, request, reply) }
  const claimed = new Map<string, Set<string>>()
  addMethods(fastify)
  yieldTo(fastify, claimed, handler)

  fastify.register(function mountScope (scope, _opts, next) {
    if (own !== null) {
      attach(scope, own)
      for (const [level, code, message] of planNotices(own, 'mountApp')) scope.log[level](code, message)
    }
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', passThrough)
    mount.base = scope.prefix
    mount.segments = mount.base === '' ? 0 : mount.base.split('/').length - 1
    claimRoutes(scope, handler, claimed)
    scope.addHook('onReady', function (done) {
      // Every route and plugin of the server is known now, and none can be added.
      mount.shadow = buildShadow(printedRoutes(scope), mount.base, claimed, flags, appMatching(app))
      mount.source.appPlan = appTrustPlan(scope, app, express, own, scope.log)
      done()
    })
    next()
  }, { prefix: prefix === '/' ? '' : prefix })
}

export const mountApp = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/mount-app' })
export default mountApp
