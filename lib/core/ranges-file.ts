// A provider-ranges file written by `fastify-proxy-fix ranges --update FILE`, loaded by the
// `rangesFile` option in place of the snapshot shipped in the package.
import { readFileSync } from 'node:fs'
import { invalidOption } from './errors'
import { BUILTIN_PRESETS, compileList, type Presets, TrustError } from './trust'

export interface RangesFile {
  /** When the file was written (ISO 8601). */
  updated: string
  providers: Record<string, { asOf: string, source: string[], ranges: string[] }>
}

/** Checks a parsed ranges file: every provider a list of valid CIDRs. Returns why not, or null. */
export function checkRangesFile (data: unknown): string | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'is not an object'
  const providers = (data as { providers?: unknown }).providers
  if (providers === null || typeof providers !== 'object' || Array.isArray(providers)) return 'has no "providers" object'
  for (const [name, p] of Object.entries(providers as Record<string, unknown>)) {
    const ranges = (p as { ranges?: unknown } | null)?.ranges
    if (!Array.isArray(ranges) || ranges.length === 0 || ranges.some((r) => typeof r !== 'string' || !r.includes('/'))) return `has no list of CIDR ranges for "${name}"`
    try {
      compileList(ranges as string[], {})
    } catch (err) {
      return `has "${(err as TrustError).entry}" for "${name}", which is not a CIDR range`
    }
  }
  return null
}

/** The presets of a ranges file: its providers over the built-in ones. Throws FST_ERR_PROXY_FIX_INVALID_OPTION. */
export function loadRangesFile (path: unknown): Presets {
  if (typeof path !== 'string' || path === '') return invalidOption('rangesFile', path, 'must be the path of a file written by "fastify-proxy-fix ranges --update"')
  let data: unknown
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    return invalidOption('rangesFile', path, `can not be read as JSON (${(err as Error).message.split('\n')[0]})`)
  }
  const why = checkRangesFile(data)
  if (why !== null) return invalidOption('rangesFile', path, why)
  const presets: Record<string, readonly string[]> = { ...BUILTIN_PRESETS }
  for (const [name, p] of Object.entries((data as RangesFile).providers)) presets[name.toLowerCase()] = p.ranges
  return presets
}
