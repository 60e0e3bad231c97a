import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { invalidOption } from '../core/errors'
import { parseIp } from '../core/ip'
import type { ProxyView } from '../core/view'
import { planHeaders, scopeOptions, viewOf, walkOf } from '../fastify/request-getters'
import type { WalkRecord } from '../core/walk-record'
import { compileList, type Trust } from '../core/trust'
import { advise, type Hop } from './whoami-verdict'
import { renderHtml } from './whoami-page'
import type { WhoamiOptions, WhoamiReport } from '../../types'

export { escapeHtml, renderHtml } from './whoami-page'

const RELEVANT = ['host', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
  'x-forwarded-prefix', 'x-real-ip', 'via']

export type { Hop } from './whoami-verdict'

/** The chain from the socket outwards, each hop labelled as the resolution treated it. */
export function hopsOf (view: ProxyView, record: WalkRecord): Hop[] {
  const original = view.original
  // Behind the PROXY protocol the walk starts from the header's source; the balancer is the socket.
  const source = view.proxyProtocol?.source ?? null
  const hops: Hop[] = [source === null
    ? { hop: 0, address: original.ip ?? 'unix socket', from: 'socket', role: 'client' }
    : { hop: 0, address: source.address, from: 'PROXY protocol', role: 'client' }]
  record.entries.forEach((e, i) => hops.push({ hop: i + 1, address: e.address, from: e.from, role: 'ignored' }))
  // Left of the client, an address a trusted proxy passed on was written by an untrusted party.
  for (const h of hops) h.role = h.hop < record.client ? 'trusted proxy' : h.hop === record.client ? 'client' : view.trusted && parseIp(h.address) !== null ? 'forged' : 'ignored'
  if (source !== null) hops.unshift({ hop: 0, address: original.ip ?? 'unix socket', from: 'socket', role: 'trusted proxy' })
  return hops
}

/** The settings the page quotes: what serve was given, or what the plugin's user says. */
export interface WhoamiSettings {
  trust?: unknown
  peers?: unknown
  hostHeader?: string | null
  allowedHosts?: unknown
  forwarded?: boolean
}

/** The page's JSON: the contract's WhoamiReport. */
export type WhoamiInfo = WhoamiReport

const label = (v: unknown): string => v === undefined ? '(proxyFix default)' : Array.isArray(v) ? v.join(',') : String(v)

export function whoamiInfo (request: FastifyRequest, given: WhoamiSettings): WhoamiInfo {
  // what serve says it set, else what proxyFix was registered with in this scope
  const own = scopeOptions(request)
  const settings: WhoamiSettings = {
    ...given,
    trust: given.trust ?? own.trust,
    peers: given.peers ?? own.peers,
    forwarded: given.forwarded ?? own.forwarded as boolean | undefined,
    allowedHosts: given.allowedHosts ?? own.allowedHosts
  }
  const view = viewOf(request)
  const original = view.original
  const raw = request.raw.headers
  const headers: Record<string, string> = {}
  for (const name of [...RELEVANT, ...planHeaders(request)]) {
    const v = raw[name]
    // Node joins repeated lines of these headers into one string.
    if (v !== undefined) headers[name] = String(v)
  }
  const hops = hopsOf(view, walkOf(request))
  const family = settings.forwarded === true ? 'Forwarded' : 'X-Forwarded-For'
  const peer = original.ip ?? 'a Unix-socket peer'
  const trust = label(settings.trust)
  const counted = typeof settings.trust === 'number'
  const why: string[] = []
  if (!view.trusted) {
    why.push(counted
      ? `The socket peer ${peer} is not in peers (${label(settings.peers)}), so the hop count does not apply and every forwarded header was ignored: the socket's view stands.`
      : `The socket peer ${peer} is not trusted (trust ${trust}), so every forwarded header was ignored: the socket's view stands.`)
  } else {
    why.push(counted
      ? `The socket peer ${peer} is in peers (${label(settings.peers)}), so forwarded headers were read with a hop count of ${trust}.`
      : `The socket peer ${peer} is trusted (trust ${trust}), so forwarded headers were read.`)
    const client = hops.find((h) => h.role === 'client') as Hop
    const list = client.from === 'X-Forwarded-For' || client.from === 'Forwarded'
    if (client.hop > 0 && !list) {
      why.push(`The client-IP header ${client.from}, read through trusted hops, names the client: ${client.address}.`)
    } else if (client.hop > 0) {
      why.push(counted
        ? `A hop count takes ${client.from} entry ${client.hop} from the right, whoever wrote the others: the client is ${client.address}.`
        : `${client.from} was walked from the right while each hop was trusted: the client is ${client.address} (hop ${client.hop}).`)
    } else if (hops.length > 1) {
      why.push(`${family} gave no usable client address, so the socket peer is the client.`)
    }
    const ignored = hops.filter((h) => h.role === 'ignored' || h.role === 'forged').length
    if (ignored > 0) why.push(`${ignored} ${family} value${ignored === 1 ? ' was' : 's were'} left of the client: anyone could have written ${ignored === 1 ? 'it' : 'them'}, so ignored.`)
    if (view.protocol !== original.protocol) why.push(`The scheme is ${view.protocol}, from the proxy's headers.`)
    const hostHeader = settings.hostHeader?.toLowerCase()
    if (view.host !== original.host) why.push(`The host is ${view.host}, from ${hostHeader !== undefined && headers[hostHeader] !== undefined ? settings.hostHeader + ' (hostRewrite)' : "the proxy's headers"}.`)
    if (view.prefix !== '') why.push(`The prefix is ${view.prefix}, from X-Forwarded-Prefix.`)
  }
  if (headers.forwarded !== undefined && settings.forwarded !== true) why.push('The Forwarded header is not read (X-Forwarded-* are).')
  const advice = advise({
    peer: original.ip ?? null,
    trusted: view.trusted,
    hops,
    headers,
    trust: settings.trust,
    peers: settings.peers,
    forwarded: settings.forwarded === true,
    notices: view.notices,
    prefix: view.prefix
  })
  return {
    ...advice,
    pid: process.pid,
    socket: { ip: original.ip ?? null, host: original.host, protocol: original.protocol },
    corrected: {
      ip: view.ip ?? null,
      ips: view.ips,
      host: view.host,
      hostname: view.hostname,
      port: view.port,
      protocol: view.protocol,
      prefix: view.prefix,
      url: view.url(request.url)
    },
    trusted: view.trusted,
    hops,
    headers,
    why,
    config: { trust: settings.trust ?? null, peers: settings.peers ?? null, hostHeader: settings.hostHeader ?? null, allowedHosts: settings.allowedHosts ?? null }
  }
}

/** HTML when the client ranks text/html above application/json (a browser), JSON otherwise. */
export function wantsHtml (accept: string | undefined): boolean {
  if (accept === undefined) return false
  let html = -1
  let json = -1
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0
    if (type === 'text/html') html = Math.max(html, q)
    else if (type === 'application/json') json = Math.max(json, q)
  }
  return html > 0 && html >= json && !(html === json && json > 0)
}

export type { WhoamiOptions }

function compileAllow (allow: unknown): Trust | null {
  if (allow === undefined) return null
  if (typeof allow !== 'string' && !Array.isArray(allow)) invalidOption('allow', allow, 'must be an address list')
  try {
    return compileList(allow)
  } catch (err) {
    return invalidOption('allow', (err as { entry: string }).entry, (err as Error).message)
  }
}

const plugin: FastifyPluginAsync<WhoamiOptions> = async (fastify, opts) => {
  const allow = compileAllow(opts.allow)
  const by = opts.allowBy ?? 'client'
  if (by !== 'client' && by !== 'peer') invalidOption('allowBy', by, "must be 'client' or 'peer'")
  const settings = opts.settings ?? {}
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<string | WhoamiInfo> => {
    if (allow !== null) {
      const view = viewOf(request)
      const ip = by === 'peer' ? view.original.ip : view.ip
      if (!allow.test(ip === undefined ? null : parseIp(ip), 0)) return reply.callNotFound() as unknown as string
    }
    const info = whoamiInfo(request, settings)
    reply.header('vary', 'accept').header('cache-control', 'no-store')
    if (wantsHtml(request.headers.accept)) {
      reply.type('text/html; charset=utf-8')
      return renderHtml(info)
    }
    return info
  }
  fastify.get('/', handler)
  fastify.get('/*', handler)
}

/** The whoami page as a plugin, after proxyFix: register it under a prefix (`{ prefix: '/_whoami', allow: 'loopback' }`). */
export const whoami = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix-whoami', encapsulate: true, dependencies: ['fastify-proxy-fix'] })
