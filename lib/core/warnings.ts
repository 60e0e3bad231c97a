// Misconfiguration warnings: what the resolver noticed about a request, logged once per process
// per kind and per peer, with a stable code each (listed with its fix in docs/trust.md).
import type { Plan } from './options'

export const FORGOTTEN_PROXY = 1
export const TRUST_TOO_WIDE = 2
export const BOTH_FAMILIES = 4
export const LOST_PREFIX = 8

interface Logger { warn: (obj: object, msg: string) => void }

const fired = new Map<number, Set<string>>()

function once (kind: number, peer: string): boolean {
  let peers = fired.get(kind)
  if (peers === undefined) fired.set(kind, peers = new Set())
  if (peers.has(peer)) return false
  peers.add(peer)
  return true
}

/** Logs each notice the view carries that has not been logged for this peer yet. */
export function warnOnce (log: Logger, notices: number, peer: string, plan: Plan): void {
  if ((notices & FORGOTTEN_PROXY) !== 0 && once(FORGOTTEN_PROXY, peer)) {
    log.warn({ code: 'FPF_W_FORGOTTEN_PROXY', peer },
      `${plan.plugin}: forwarded headers arrive from ${peer}, a local or private address that is not trusted, so they are ignored. If it is your proxy, trust it: trust: ['${peer}'] (serve --trust ${peer})`)
  }
  if ((notices & TRUST_TOO_WIDE) !== 0 && once(TRUST_TOO_WIDE, peer)) {
    log.warn({ code: 'FPF_W_TRUST_TOO_WIDE', peer },
      `${plan.plugin}: every address in the X-Forwarded-For chain from ${peer} is trusted, so the client is its leftmost entry by default. This usually means the trust list includes client ranges: list only your proxies`)
  }
  if ((notices & BOTH_FAMILIES) !== 0 && once(BOTH_FAMILIES, peer)) {
    const used = plan.forwarded ? 'Forwarded' : 'X-Forwarded-*'
    log.warn({ code: 'FPF_W_BOTH_FAMILIES', peer },
      `${plan.plugin}: ${peer} sends both Forwarded and X-Forwarded-For; only ${used} is read (forwarded: ${String(plan.forwarded)}). Make the proxy send one family, or clear the other, since a client can send it`)
  }
}

/**
 * A mounted app's redirect to a path without the forwarded prefix: behind `location /app/`, the
 * browser would leave the app. Logged once per process and prefix.
 */
export function lostPrefix (log: Logger, prefix: string, location: unknown): void {
  if (typeof location !== 'string' || location.charCodeAt(0) !== 47 || location.charCodeAt(1) === 47) return
  if (location === prefix || location.startsWith(prefix + '/') || location.startsWith(prefix + '?')) return
  if (!once(LOST_PREFIX, prefix)) return
  log.warn({ code: 'FPF_W_LOST_PREFIX', prefix, location },
    `mountApp: the app redirects to ${location}, without the forwarded prefix ${prefix}: build URLs from req.baseUrl behind the X-Forwarded-Prefix it is given, or from request.proxy.url()`)
}

/** For tests: forget what was logged. */
export function resetWarnings (): void {
  fired.clear()
}
