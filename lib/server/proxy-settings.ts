// The proxy side of serve's settings: the plugins' options they give, checked at startup in the
// flag's own name, and who may send a PROXY protocol header.
import { compileOptions } from '../core/options'
import { loadRangesFile } from '../core/ranges-file'
import { compileList, type TrustError } from '../core/trust'
import { bad, CliError } from './cli-error'
import type { Key, Settings } from './settings'
import type { HostRewriteOptions, ProxyFixOptions } from '../../types'

// trust and peers come as given (a flag, a config file): checkPlugins compiles them before use.
type Given = Pick<ProxyFixOptions, 'trust' | 'peers'>

/** The options of proxyFix for these settings. */
export function fixOptions (s: Settings): ProxyFixOptions {
  const opts: ProxyFixOptions = { trust: s.trust as Given['trust'] }
  if (s.peers !== undefined) opts.peers = s.peers as Given['peers']
  if (s.hops !== null) opts.hops = s.hops
  if (s.fields !== null) opts.fields = s.fields
  if (s.forwarded) opts.forwarded = true
  if (s.clientIpHeader !== null) opts.clientIpHeader = s.clientIpHeader
  if (s.rangesFile !== null) opts.rangesFile = s.rangesFile
  if (s.allowedHosts !== null) opts.allowedHosts = s.allowedHosts
  if (s.strict) opts.strict = true
  return opts
}

/** hostRewrite's options: the address trust only (a count or true has no meaning for one header). */
export function rewriteOptions (s: Settings): HostRewriteOptions {
  const opts: HostRewriteOptions = { trust: s.trust as HostRewriteOptions['trust'], header: s.hostHeader as string }
  if (s.peers !== undefined) opts.peers = s.peers as Given['peers']
  if (s.rangesFile !== null) opts.rangesFile = s.rangesFile
  if (s.allowedHosts !== null) opts.allowedHosts = s.allowedHosts
  return opts
}

const OPTION_KEY: Record<string, Key> = { header: 'hostHeader' }

/** Compiles the plugins' options now, so a bad value fails at startup in the flag's own name. */
export function checkPlugins (s: Settings, pick: (key: Key) => [unknown, string] | undefined): void {
  const check = (opts: object, plugin: 'proxyFix' | 'hostRewrite'): void => {
    try {
      compileOptions(opts, plugin)
    } catch (err) {
      // The plugins' option errors read 'Invalid option "name": why': the option becomes the
      // flag (or config key) that set it; a value nothing set came from the environment.
      throw new CliError((err as Error).message.replace(/^Invalid option "([^".]+)(?:\.[^"]+)?": /,
        (_m, option: string) => `${pick((OPTION_KEY[option] ?? option) as Key)?.[1] ?? 'FORWARDED_ALLOW_IPS'}: `))
    }
  }
  check(fixOptions(s), 'proxyFix')
  if (s.hostHeader !== null) check(rewriteOptions(s), 'hostRewrite')
  if (s.proxyProtocol !== null) {
    const from = proxyFrom(s)
    if (from === null) throw new CliError(`${pick('proxyProtocol')?.[1] as string} needs --proxy-allow-from when --trust is not an address list: name the load balancer`)
    // a list taken from --trust was checked as proxyFix's trust above
    if (s.proxyAllowFrom !== null) {
      const name = (pick('proxyAllowFrom') as [unknown, string])[1]
      try {
        compileList(s.proxyAllowFrom, s.rangesFile === null ? undefined : loadRangesFile(s.rangesFile))
      } catch (err) {
        const e = err as TrustError
        bad(name, e.entry, e.message)
      }
    }
  } else if (s.proxyAllowFrom !== null) throw new CliError(`${pick('proxyAllowFrom')?.[1] as string} needs --proxy-protocol`)
}

/** Who may send a PROXY protocol header: --proxy-allow-from, else an address-list --trust; null when neither. */
export function proxyFrom (s: Settings): string | string[] | null {
  if (s.proxyAllowFrom !== null) return s.proxyAllowFrom
  return typeof s.trust === 'string' || Array.isArray(s.trust) ? s.trust as string | string[] : null
}
