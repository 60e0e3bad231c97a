// The fast path (lib/core/fast-path.ts) and the general walk over an XForwardedSource, run on the
// same input and compared on everything a reader of the view can observe.
import assert from 'node:assert/strict'
import { walkXForwarded } from '../../lib/core/fast-path'
import type { Plan } from '../../lib/core/options'
import { makePeer } from '../../lib/core/peer'
import { walk, type Headers } from '../../lib/core/resolve'
import { XForwardedSource } from '../../lib/core/sources'
import { ProxyView } from '../../lib/core/view'

/** Everything a reader of the view can observe. */
export function observe (v: ProxyView): unknown {
  return {
    ip: v.ip,
    ips: v.ips,
    host: v.host,
    hostname: v.hostname,
    port: v.port,
    protocol: v.protocol,
    prefix: v.prefix,
    url: v.url('/x'),
    trusted: v.trusted,
    error: v.error === null ? null : [(v.error as Error & { code: string }).code, v.error.message],
    notices: v.notices
  }
}

/** Both walks from a peer at `address`; throws unless their views agree, else returns the fast path's. */
export function walkBoth (address: string, host: string, encrypted: boolean, h: Headers, plan: Plan): ProxyView {
  const p = makePeer(address)
  const fast = new ProxyView(p, host, encrypted)
  const general = new ProxyView(p, host, encrypted)
  walkXForwarded(fast, plan, h)
  walk(general, plan, h, new XForwardedSource(h), p, undefined)
  assert.deepEqual(observe(fast), observe(general))
  return fast
}
