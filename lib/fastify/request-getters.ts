import type { FastifyInstance, FastifyRequest, FastifyReply, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { FST_ERR_PROXY_FIX_DUPLICATE_HOST, FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT, requestError } from '../core/errors'
import { hostLines } from '../core/field-values'
import { compileOptions, compileRouteOptions, planNotices, type Plan } from '../core/options'
import { peerOf, watchServer } from '../core/peer'
import { resolve, WalkRecord, type ProxyView } from '../core/resolve'
import { warnOnce } from '../core/warnings'

type Slots = Record<symbol, unknown>

export const kView = Symbol('fastify-proxy-fix.view')
const kPlan = { proxyFix: Symbol('fastify-proxy-fix.plan'), hostRewrite: Symbol('fastify-proxy-fix.rewrite') }
const kRoutePlan = { proxyFix: Symbol('fastify-proxy-fix.routePlan'), hostRewrite: Symbol('fastify-proxy-fix.routeRewrite') }
const kOverrides = Symbol('fastify-proxy-fix.overrides')

/** The plans in force for this request: the scope's, or the route's own (no pair allocated per request). */
function fixOf (request: FastifyRequest): Plan | undefined {
  const server = request.server as unknown as Slots
  const fix = server[kPlan.proxyFix] as Plan | undefined
  return server[kOverrides] === true ? (routeConfig(request)[kRoutePlan.proxyFix] as Plan | undefined) ?? fix : fix
}

function rewriteOf (request: FastifyRequest): Plan | undefined {
  const server = request.server as unknown as Slots
  const rewrite = server[kPlan.hostRewrite] as Plan | undefined
  return server[kOverrides] === true ? (routeConfig(request)[kRoutePlan.hostRewrite] as Plan | undefined) ?? rewrite : rewrite
}

function routeConfig (request: FastifyRequest): Slots {
  return request.routeOptions.config as unknown as Slots
}

/** The request resolved again with a record of the walk: what whoami shows as the chain. */
export function walkOf (request: FastifyRequest): WalkRecord {
  const fix = fixOf(request)
  const rewrite = rewriteOf(request)
  const raw = request.raw
  const socket = raw.socket as { encrypted?: boolean } | null
  const record = new WalkRecord()
  resolve(peerOf(socket), socket?.encrypted === true, raw.headers, fix, rewrite, record)
  return record
}

/**
 * The view for this request, resolved once on first use from the socket and the raw headers.
 * Resolving lazily lets Fastify's `incoming request` log line, written before any hook, and any
 * earlier onRequest hook see the corrected values too.
 */
export function viewOf (request: FastifyRequest): ProxyView {
  const slots = request as unknown as Slots
  // undefined in a scope created before the plugin was registered (its requests lack the slot)
  const cached = slots[kView] as ProxyView | null | undefined
  if (cached !== null && cached !== undefined) return cached
  const fix = fixOf(request)
  const rewrite = rewriteOf(request)
  const raw = request.raw
  const socket = raw.socket as { encrypted?: boolean } | null
  const view = resolve(peerOf(socket), socket?.encrypted === true, raw.headers, fix, rewrite)
  // RFC 9112 §3.2: a request with more than one Host line gets a 400. Node keeps the first, which
  // would pass allowedHosts while a proxy in front may have routed on the other. Counted only
  // where a plan answers 400 anyway.
  if (((fix?.guard ?? false) || (rewrite?.guard ?? false)) && view.error === null && hostLines(raw.rawHeaders) > 1) {
    view.error = requestError(() => new FST_ERR_PROXY_FIX_DUPLICATE_HOST())
  }
  slots[kView] = view
  if (view.notices !== 0) warnOnce(request.log, view.notices, view.ips[0] ?? 'unix', fix as Plan)
  return view
}

export function guard (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const error = viewOf(request).error
  if (error === null) done()
  else done(error)
}

function install (fastify: FastifyInstance): void {
  if (fastify.hasRequestDecorator(kView as unknown as string)) return
  const getters: Record<string, (this: FastifyRequest) => unknown> = {
    ip () { return viewOf(this).ip },
    ips () { return viewOf(this).ips },
    host () { return viewOf(this).host },
    hostname () {
      const view = viewOf(this)
      // @fastify/middie and @fastify/express copy hostname, ip, ips and protocol onto the raw
      // request for fastify.use() middleware, but not host: it is set here, as they read hostname.
      ;(this.raw as unknown as Record<string, unknown>).host ??= view.host
      return view.hostname
    },
    port () { return viewOf(this).port },
    protocol () { return viewOf(this).protocol },
    proxy () { return viewOf(this) }
  }
  try {
    fastify.decorateRequest('ip', { getter: getters.ip as (this: FastifyRequest) => string })
  } catch {
    // Fastify's trustProxy (or another plugin) owns request.ip here: two trust configs would disagree.
    throw new FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT()
  }
  for (const name of Object.keys(getters)) if (name !== 'ip') fastify.decorateRequest(name, { getter: getters[name] })
  fastify.decorateRequest(kView as unknown as string, null)
  watchServer(fastify.server)
}

/**
 * Wires one plugin's plan into this scope: the getters (once per prototype chain), the plan for
 * the scope's routes, the 400 guard when needed, and per-route `config.<plugin>` overrides,
 * compiled once when each route is added.
 */
export function attach (fastify: FastifyInstance, plan: Plan): void {
  install(fastify)
  const name = plan.plugin as 'proxyFix' | 'hostRewrite'
  const kScope = kPlan[name]
  const kRoute = kRoutePlan[name]
  ;(fastify as unknown as Slots)[kScope] = plan
  if (plan.guard) fastify.addHook('onRequest', guard)
  fastify.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    const config = route.config as Record<string | symbol, unknown> | undefined
    if (config === undefined || config[name] === undefined || Object.hasOwn(config, kRoute)) return
    const base = (this as unknown as Slots)[kScope] as Plan
    const routePlan = compileRouteOptions(base, config[name])
    route.config = { ...config, [kRoute]: routePlan } as unknown as RouteOptions['config']
    ;(this as unknown as Slots)[kOverrides] = true
    if (routePlan.guard && !base.guard) {
      const own = route.onRequest
      route.onRequest = own === undefined ? [guard] : [guard, ...(Array.isArray(own) ? own : [own])]
    }
  })
}

/** The extra header names the scope's plans read (client-IP header, hostRewrite header). */
export function planHeaders (request: FastifyRequest): string[] {
  const server = request.server as unknown as Slots
  const names: string[] = []
  const fix = server[kPlan.proxyFix] as Plan | undefined
  const rewrite = server[kPlan.hostRewrite] as Plan | undefined
  if (fix?.clientIpHeader) names.push(fix.clientIpHeader)
  if (fix?.edgeHeaders) for (const e of fix.edgeHeaders) names.push(e.name)
  if (rewrite?.header) names.push(rewrite.header)
  return names
}

/**
 * The proxyFix plan of the request's scope. Only for callers that run where one must exist: the
 * whoami plugin depends on proxyFix, and a forwarded prefix reaches a mount only through a plan.
 */
function scopePlan (request: FastifyRequest): Plan {
  return (request.server as unknown as Slots)[kPlan.proxyFix] as Plan
}

/** Whether the scope's proxyFix logs misconfiguration warnings. */
export function warningsOn (request: FastifyRequest): boolean {
  return scopePlan(request).warnings
}

/** The options proxyFix was registered with in this request's scope. */
export function scopeOptions (request: FastifyRequest): Readonly<Record<string, unknown>> {
  return scopePlan(request).options
}

/** A plugin's registration: its options compiled (or a coded error), wired into the scope, its notices logged once. */
export function registerPlan (fastify: FastifyInstance, opts: unknown, plugin: 'proxyFix' | 'hostRewrite'): void {
  const plan = compileOptions(opts, plugin)
  attach(fastify, plan)
  for (const [level, code, message] of planNotices(plan)) fastify.log[level](code, message)
}
