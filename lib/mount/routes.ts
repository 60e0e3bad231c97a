import type { FastifyInstance, HTTPMethods, RouteHandlerMethod, RouteOptions } from 'fastify'
import { METHODS } from 'node:http'

/** The constraint a later route gets when the mount already holds its method and path (see yieldTo). */
export const YIELD = 'fastifyProxyFixOwner'

/**
 * Makes every method Node's parser accepts routable, so that `PURGE`, `PROPFIND`, `M-SEARCH` and
 * the rest reach the app instead of Fastify's 404. addHttpMethod acts on the whole server: those
 * methods become routable for every plugin. CONNECT is added too, though Node's server hands it to
 * its 'connect' event and never to the router.
 */
export function addMethods (fastify: FastifyInstance): void {
  const supported = fastify.supportedMethods
  for (const method of METHODS) {
    if (!supported.includes(method)) fastify.addHttpMethod(method, { hasBody: true })
  }
}

/** The full paths the mount registers for its scope prefix: `base` itself (when not the root) and `base/*`. */
export function mountPaths (base: string): string[] {
  return base === '' ? ['/*'] : [base, base + '/*']
}

/**
 * Registers the mount's routes for the methods still free at each path: a method and path another
 * plugin already owns (@fastify/cors's `OPTIONS *`, @fastify/static's `GET /*`) stay theirs.
 * Records the claimed methods per full path in `claimed`.
 */
export function claimRoutes (scope: FastifyInstance, handler: RouteHandlerMethod, claimed: Map<string, Set<string>>): void {
  const base = scope.prefix
  for (const path of mountPaths(base)) {
    const free = scope.supportedMethods.filter((method) => !scope.hasRoute({ method: method as HTTPMethods, url: path }))
    claimed.set(path, new Set(free))
    if (free.length === 0) continue
    const options = { method: free as HTTPMethods[], exposeHeadRoute: false, handler }
    // The router does the matching, so a guard on this scope sees exactly what the app gets.
    if (path === base) scope.route({ ...options, url: '/', prefixTrailingSlash: 'no-slash' })
    else scope.route({ ...options, url: '/*' })
  }
}

function owner (): string {
  return 'owner'
}

type Store = ReturnType<NonNullable<Parameters<FastifyInstance['addConstraintStrategy']>[0]['storage']>>
type Stored = ReturnType<Store['get']>

function storage (): Store {
  const stores = new Map<unknown, Stored>()
  return {
    get: (value) => stores.get(value) ?? null,
    set: (value, store) => { stores.set(value, store) }
  }
}

/**
 * A route added after the mount, for a method and path the mount already holds, would fail with
 * FST_ERR_DUPLICATED_ROUTE. Routes can not be removed, so the later route gets a constraint that
 * every request meets: find-my-way then keeps both, and prefers the constrained one, so the later
 * route owns its method and path as if it had come first. The strategy is added to the server
 * only when that happens (it costs a derive call per request from then on).
 */
export function yieldTo (parent: FastifyInstance, claimed: Map<string, Set<string>>, own: RouteHandlerMethod): void {
  parent.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    const url = route.url === '*' ? '/*' : route.url
    const held = claimed.get(url)
    // A constrained route does not clash with the mount's unconstrained one: both stay.
    if (held === undefined || route.handler === own || Object.keys(route.constraints ?? {}).length > 0) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.some((method) => held.has(method))) return
    if (!this.hasConstraintStrategy(YIELD)) {
      this.addConstraintStrategy({ name: YIELD, storage, deriveConstraint: owner, mustMatchWhenDerived: false })
    }
    // find-my-way files `*` apart from `/*` but counts them as one route: the later route joins
    // the mount's node, where its constraint makes it win (a target of `*` alone was never the app's).
    route.url = url
    route.constraints = { ...route.constraints, [YIELD]: 'owner' }
    for (const method of methods) held.delete(method)
  })
}
