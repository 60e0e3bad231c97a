// The adversarial battery's machinery: plugin setups by name, each app built once, and rows
// that state the request (peer, headers) and the expected result, checked through app.inject.
// Every test/security file that uses it counts its rows and closes its apps with `done`.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { hostRewrite } from '../../lib/fastify/host-rewrite'

export type Json = Record<string, unknown>
export type Headers = Record<string, string | string[]>

export const TRUSTED = '10.0.0.1'
export const UNTRUSTED = '203.0.113.9'
export const HOST = 'app.example'

// Plugin setups, by name, so rows stay readable and each app is built once.
export const SETUPS: Record<string, Array<[unknown, Json]>> = {
  list: [[proxyFix, { trust: ['10.0.0.0/8'] }]],
  one: [[proxyFix, { trust: '10.0.0.1' }]],
  loopback: [[proxyFix, {}]],
  count1: [[proxyFix, { trust: 1 }]],
  count1Unchecked: [[proxyFix, { trust: 1, peers: true }]],
  fn: [[proxyFix, { trust: (a: string) => a === '10.0.0.1' }]],
  all: [[proxyFix, { trust: true }]],
  strict: [[proxyFix, { trust: ['10.0.0.0/8'], strict: true }]],
  fwd: [[proxyFix, { trust: ['10.0.0.0/8'], forwarded: true }]],
  fwdStrict: [[proxyFix, { trust: ['10.0.0.0/8'], forwarded: true, strict: true }]],
  realIp: [[proxyFix, { trust: ['10.0.0.0/8'], clientIpHeader: 'x-real-ip' }]],
  realIpStrict: [[proxyFix, { trust: ['10.0.0.0/8'], clientIpHeader: 'x-real-ip', strict: true }]],
  allowed: [[proxyFix, { trust: ['10.0.0.0/8'], allowedHosts: ['.example.com', 'app.example'] }]],
  rewrite: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'] }]],
  rewriteStrict: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'], strict: true }]],
  rewriteAllowed: [[hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'], allowedHosts: ['.example.com', 'app.example'] }]],
  both: [[proxyFix, { trust: ['10.0.0.0/8'] }], [hostRewrite, { header: 'x-fhost', trust: ['10.0.0.0/8'] }]]
}

export interface Row {
  name: string
  setup: keyof typeof SETUPS
  peer?: string
  headers: Headers
  /** `status` and `code` for a refused request; otherwise any of the request's corrected fields. */
  want: Json
}

const apps = new Map<string, FastifyInstance>()

async function appFor (setup: string): Promise<FastifyInstance> {
  let app = apps.get(setup)
  if (app === undefined) {
    app = Fastify()
    for (const [plugin, opts] of SETUPS[setup]) await app.register(plugin as any, opts)
    app.get('/', async (req) => ({
      ip: req.ip,
      ips: req.ips,
      protocol: req.protocol,
      host: req.host,
      hostname: req.hostname,
      port: req.port,
      prefix: req.proxy.prefix,
      trusted: req.proxy.trusted,
      url: req.proxy.url('/r')
    }))
    await app.ready()
    apps.set(setup, app)
  }
  return app
}

export async function check (t: Tap.Test, rows: Row[]): Promise<void> {
  for (const row of rows) {
    const app = await appFor(row.setup)
    const res = await app.inject({ url: '/', remoteAddress: row.peer ?? TRUSTED, headers: { host: HOST, ...row.headers } })
    const body = res.json()
    const got: Json = {}
    for (const k of Object.keys(row.want)) got[k] = k === 'status' ? res.statusCode : body[k]
    t.strictSame(got, row.want, `${row.setup}: ${row.name}`)
  }
}

let rowCount = 0
/** Counts the rows a file checks (its `done` test asserts the count). */
export function rows (list: Row[]): Row[] {
  rowCount += list.length
  return list
}

/** Adds rows checked some other way (mount paths, option refusals) to the count. */
export function count (n: number): void {
  rowCount += n
}

/** The file's last test: its rows are all there (at least `min`), and its apps are closed. */
export function done (min: number, what: string): void {
  test('row count', async (t) => {
    for (const app of apps.values()) await app.close()
    t.comment(`${what} rows: ${rowCount}`)
    t.ok(rowCount >= min, `at least ${min} rows (${rowCount})`)
  })
}

export const SPOOF = { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '8443', 'x-forwarded-prefix': '/evil' }
export const SOCKET_VIEW = { ip: UNTRUSTED, ips: [UNTRUSTED], protocol: 'http', host: HOST, hostname: HOST, port: null, prefix: '', trusted: false }
