import FindMyWay from 'find-my-way'
import type { FastifyInstance } from 'fastify'
import { originForm, type RouterFlags } from './path'

/** How the mounted app compares paths. */
export interface AppMatching {
  caseSensitive: boolean
  strict: boolean
}

export type Shadow = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>

interface Listed {
  path: string
  methods: string[]
}

/** The store of the mount's own routes in the shadow router. */
const OWN = { own: true }
const OTHER = { own: false }
const LINE = /^((?:│ {3}| {4})*)(?:├── |└── )(.*)$/
/** A node's routes: ` (GET, HEAD)`, then the constraints as JSON when there are any. */
const ROUTES = / ?\(([A-Z][A-Z0-9_-]*(?:, [A-Z][A-Z0-9_-]*)*)\)(?: \{.*\})?$/

/**
 * Express's settings (`case sensitive routing`, `strict routing`), a router's own options, or, for
 * Connect apps and plain functions, Express's defaults: Connect matches its `use` paths without
 * regard to case or a trailing slash, and a plain function may do anything.
 */
export function appMatching (app: unknown): AppMatching {
  const candidate = app as { enabled?: unknown, caseSensitive?: unknown, strict?: unknown }
  if (typeof app === 'function' && typeof candidate.enabled === 'function') {
    const enabled = candidate.enabled as (setting: string) => boolean
    return { caseSensitive: enabled.call(app, 'case sensitive routing'), strict: enabled.call(app, 'strict routing') }
  }
  if (typeof app === 'function' && 'caseSensitive' in app && 'strict' in app) {
    return { caseSensitive: candidate.caseSensitive === true, strict: candidate.strict === true }
  }
  return { caseSensitive: false, strict: false }
}

/**
 * Every route of the server, read from Fastify's printRoutes() tree (the public listing of all
 * routes, whatever scope added them and in whatever order): each node prints its part of the path,
 * then its routes' methods. A static `:` reads back as a parameter, which only matches more.
 */
export function listRoutes (tree: string): Listed[] {
  const routes: Listed[] = []
  const paths: string[] = []
  let last: Listed | null = null
  for (const line of tree.split('\n')) {
    const node = LINE.exec(line)
    if (node !== null) {
      const depth = node[1].length / 4
      const routed = ROUTES.exec(node[2])
      const label = routed === null ? node[2] : node[2].slice(0, routed.index)
      paths[depth] = (depth === 0 ? '' : paths[depth - 1]) + label
      last = { path: paths[depth], methods: [] }
      routes.push(last)
      if (routed !== null) last.methods.push(...routed[1].split(', '))
      continue
    }
    // More routes on the same node (other constraints), printed on lines of their own.
    const routed = ROUTES.exec(line)
    if (last !== null && routed !== null) last.methods.push(...routed[1].split(', '))
  }
  return routes.filter((route) => route.methods.length > 0)
}

/**
 * Every route of the server, one method's tree at a time: printRoutes() without a method builds a
 * second router holding every route (find-my-way's merged tree) only to print it.
 */
export function printedRoutes (fastify: FastifyInstance): string {
  return fastify.supportedMethods.map((method) => fastify.printRoutes({ method })).join('\n')
}

/** Whether a route's path can match a path at or under `base` when case is ignored. */
function under (path: string, base: string): boolean {
  if (base === '') return true
  let end = path.length
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 58 || c === 42) { end = i; break }
  }
  const head = path.slice(0, end).toLowerCase()
  const lower = base.toLowerCase()
  return head === lower || head.startsWith(lower + '/') || (end < path.length && (lower + '/').startsWith(head))
}

/**
 * The router that answers "would Fastify route this request to a route of its own, if it matched
 * paths as the app does?": every route that can reach under the mount's base, plus the mount's
 * own, in a find-my-way router with Fastify's options loosened to the app's (case ignored, a
 * trailing slash optional). A GET route shadows HEAD too, since Express answers HEAD from GET.
 * Null when no other route can match under the base, or when the app matches no looser than
 * Fastify: the mount then pays nothing per request.
 */
export function buildShadow (tree: string, base: string, claimed: Map<string, Set<string>>, flags: RouterFlags, app: AppMatching): Shadow | null {
  const caseSensitive = flags.caseSensitive && app.caseSensitive
  const ignoreTrailingSlash = flags.ignoreTrailingSlash || !app.strict
  if (caseSensitive === flags.caseSensitive && ignoreTrailingSlash === flags.ignoreTrailingSlash) return null
  const others: Listed[] = []
  for (const route of listRoutes(tree)) {
    const own = claimed.get(route.path)
    const methods = route.methods.filter((method) => own === undefined || !own.has(method))
    if (methods.length > 0 && under(route.path, base)) others.push({ path: route.path, methods })
  }
  if (others.length === 0) return null
  // useSemicolonDelimiter is find-my-way's, though its types leave it out.
  const shadow = FindMyWay({
    caseSensitive,
    ignoreTrailingSlash,
    ignoreDuplicateSlashes: flags.collapse,
    useSemicolonDelimiter: flags.semicolon,
    maxParamLength: flags.maxParamLength,
    allowUnsafeRegex: flags.allowUnsafeRegex
  } as FindMyWay.Config<FindMyWay.HTTPVersion.V1>)
  const add = (method: string, path: string, store: object): void => {
    // Routes that differ only in case or a trailing slash are one route here: the first stays.
    // The shadow router only finds: its handler (find-my-way wants a function) is never called.
    try { shadow.on(method as FindMyWay.HTTPMethod, path, Function.prototype as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>, store) } catch {}
  }
  for (const route of others) {
    for (const method of route.methods) add(method, route.path, OTHER)
    if (route.methods.includes('GET')) add('HEAD', route.path, OTHER)
  }
  for (const [path, methods] of claimed) for (const method of methods) add(method, path, OWN)
  return shadow
}

/** Whether the request belongs to one of Fastify's own routes under the app's matching. */
export function shadowed (shadow: Shadow, method: string, url: string): boolean {
  const found = shadow.find(method as FindMyWay.HTTPMethod, url.charCodeAt(0) === 47 ? url : originForm(url))
  return found !== null && found.store !== OWN
}
