import type { FastifyInstance } from 'fastify'
import { invalidOption } from '../core/errors'

const SEGMENT = /^[A-Za-z0-9\-._~!$&'+,@]+$/

/** The router options the mount's URL handling and shadow matching follow (see routerFlags). */
export interface RouterFlags {
  semicolon: boolean
  collapse: boolean
  caseSensitive: boolean
  ignoreTrailingSlash: boolean
  maxParamLength: number
  allowUnsafeRegex: boolean
}

/** What is wrong with a mount prefix, or null: a literal path, '/' or '/' + segments of unreserved characters, no dot segments or patterns. */
export function prefixProblem (prefix: unknown): string | null {
  if (typeof prefix !== 'string' || prefix.charCodeAt(0) !== 47) return 'must be a path starting with "/"'
  if (prefix === '/') return null
  if (prefix.endsWith('/')) return 'must not end with "/" (the mount matches "/prefix" and "/prefix/...")'
  for (const segment of prefix.slice(1).split('/')) {
    if (segment === '') return 'must not contain an empty segment ("//")'
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments'
    if (!SEGMENT.test(segment)) return 'must be a literal path: letters, digits and - . _ ~ ! $ & \' + , @ only (no %, *, :, ;, ? or patterns)'
  }
  return null
}

/** The mount's prefix option, checked; '/' when absent. */
export function checkPrefix (prefix: unknown): string {
  if (prefix === undefined) return '/'
  const why = prefixProblem(prefix)
  if (why !== null) invalidOption('prefix', prefix, why)
  return prefix as string
}

export function routerFlags (fastify: FastifyInstance): RouterFlags {
  // Fastify gives routerOptions precedence over the deprecated top-level options.
  const config = fastify.initialConfig as Record<string, unknown>
  const router = (config.routerOptions ?? {}) as Record<string, unknown>
  const pick = (name: string): unknown => router[name] ?? config[name]
  return {
    semicolon: pick('useSemicolonDelimiter') === true,
    collapse: pick('ignoreDuplicateSlashes') === true,
    caseSensitive: pick('caseSensitive') !== false,
    ignoreTrailingSlash: pick('ignoreTrailingSlash') === true,
    maxParamLength: pick('maxParamLength') as number,
    allowUnsafeRegex: pick('allowUnsafeRegex') === true
  }
}

/**
 * The URL the app sees: the path after the mount's segments, cut where the router cut it (at '?',
 * '#', and ';' with useSemicolonDelimiter, the rest becoming the query), duplicate slashes
 * collapsed when the router collapses them, nothing decoded.
 */
export function remainder (url: string, segments: number, semicolon: boolean, collapse: boolean): string {
  if (url.charCodeAt(0) !== 47) url = originForm(url)
  let end = -1
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 63 || c === 35 || (c === 59 && semicolon)) {
      end = i
      break
    }
  }
  let path = end === -1 ? url : url.slice(0, end)
  const search = end === -1 ? '' : '?' + url.slice(end + 1)
  if (collapse) path = path.replace(/\/\/+/g, '/')
  let at = 0
  for (let i = 0; i < segments && at !== -1; i++) at = path.indexOf('/', at + 1)
  return (at === -1 ? '/' : path.slice(at)) + search
}

/** An absolute-form request target (`http://host/path?q`), which the router accepts too. */
export function originForm (url: string): string {
  const authority = url.indexOf('://') + 3
  const slash = url.indexOf('/', authority)
  const query = url.indexOf('?', authority)
  if (slash === -1 || (query !== -1 && query < slash)) return '/' + (query === -1 ? '' : url.slice(query))
  return url.slice(slash)
}
