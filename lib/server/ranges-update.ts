// Fetches the providers' published lists into a ranges file. A fetch that fails, a list that does
// not parse, or one that has shrunk by more than half never replaces the last good file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { checkRangesFile, type RangesFile } from '../core/ranges-file'
import { PROVIDERS } from '../core/provider-ranges'

export interface Sources {
  cloudflareV4: string
  cloudflareV6: string
  aws: string
  fastly: string
}

export const SOURCES: Sources = {
  cloudflareV4: 'https://www.cloudflare.com/ips-v4',
  cloudflareV6: 'https://www.cloudflare.com/ips-v6',
  aws: 'https://ip-ranges.amazonaws.com/ip-ranges.json',
  fastly: 'https://api.fastly.com/public-ip-list'
}

export interface Outcome { provider: string, status: 'updated' | 'kept', count: number, reason?: string }

type Fetcher = (url: string) => Promise<string>

async function get (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15000) })
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return await res.text()
}

/** Cloudflare's ips-v4 / ips-v6: one CIDR per line (the last line has no newline). */
export function parseLines (body: string): string[] {
  return body.split('\n').map((l) => l.trim()).filter((l) => l !== '')
}

/** AWS ip-ranges.json, the CLOUDFRONT_ORIGIN_FACING entries of both families. */
export function parseAws (body: string): string[] {
  const data = JSON.parse(body) as { prefixes?: Array<{ ip_prefix?: string, service?: string }>, ipv6_prefixes?: Array<{ ipv6_prefix?: string, service?: string }> }
  if (!Array.isArray(data.prefixes) || !Array.isArray(data.ipv6_prefixes)) throw new Error('no prefixes and ipv6_prefixes arrays')
  const out: string[] = []
  for (const p of data.prefixes) if (p.service === 'CLOUDFRONT_ORIGIN_FACING') out.push(String(p.ip_prefix))
  for (const p of data.ipv6_prefixes) if (p.service === 'CLOUDFRONT_ORIGIN_FACING') out.push(String(p.ipv6_prefix))
  return out
}

/** Fastly's public-ip-list: `{ addresses, ipv6_addresses }`. */
export function parseFastly (body: string): string[] {
  const data = JSON.parse(body) as { addresses?: unknown, ipv6_addresses?: unknown }
  if (!Array.isArray(data.addresses) || !Array.isArray(data.ipv6_addresses)) throw new Error('no addresses and ipv6_addresses arrays')
  return [...data.addresses, ...data.ipv6_addresses].map(String)
}

function lastGood (file: string): RangesFile {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (checkRangesFile(data) === null) return data as RangesFile
  } catch {
    // no file yet (or a broken one): start from the snapshot in the package
  }
  return { updated: '', providers: JSON.parse(JSON.stringify(PROVIDERS)) }
}

/**
 * Updates `file` provider by provider. Each provider's new list replaces its old one only when
 * it was fetched, parses as CIDRs, and holds at least half as many ranges; otherwise the old
 * list is kept and the outcome says why. The file is written whole, through a rename.
 */
export async function updateRanges (file: string, sources: Sources = SOURCES, fetcher: Fetcher = get, now = new Date()): Promise<Outcome[]> {
  const base = lastGood(file)
  const jobs: Array<[string, string[], () => Promise<string[]>]> = [
    ['cloudflare', [sources.cloudflareV4, sources.cloudflareV6], async () => [...parseLines(await fetcher(sources.cloudflareV4)), ...parseLines(await fetcher(sources.cloudflareV6))]],
    ['cloudfront', [sources.aws], async () => parseAws(await fetcher(sources.aws))],
    ['fastly', [sources.fastly], async () => parseFastly(await fetcher(sources.fastly))]
  ]
  const outcomes: Outcome[] = []
  const next: RangesFile = { updated: now.toISOString(), providers: { ...base.providers } }
  for (const [name, source, fetchList] of jobs) {
    const old = base.providers[name]?.ranges ?? []
    let reason: string | undefined
    let ranges: string[] = []
    try {
      ranges = await fetchList()
      const why = checkRangesFile({ providers: { [name]: { ranges } } })
      if (why !== null) reason = `the list ${why.replace(/^has /, 'had ')}`
      else if (ranges.length * 2 < old.length) reason = `the list shrank from ${old.length} to ${ranges.length} ranges`
    } catch (err) {
      reason = (err as Error).message
    }
    if (reason === undefined) {
      next.providers[name] = { asOf: now.toISOString().slice(0, 10), source, ranges }
      outcomes.push({ provider: name, status: 'updated', count: ranges.length })
    } else {
      outcomes.push({ provider: name, status: 'kept', count: old.length, reason })
    }
  }
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n')
  renameSync(tmp, file)
  return outcomes
}
