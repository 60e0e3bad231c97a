// Property tests with fast-check. 10,000 runs per property when CI is set, 1,000 locally.
// fc.assert reports the seed and the counterexample path on failure: rerun one with
// FC_SEED=<seed> FC_PATH=<path> npx tap test/properties.test.ts
import { test } from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import http from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import proxyaddr from 'proxy-addr'
import { compileOptions, type Plan } from '../lib/core/options'
import { resolve, type Headers } from '../lib/core/resolve'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { mountApp } from '../lib/mount/mount-app'
import { params, RUNS } from './helpers/fast-check'

const INJECT_RUNS = Math.max(100, Math.floor(RUNS / 4))

/** Runs fc.assert (which throws with the seed and path on failure) and records the run count. */
async function property (t: Tap.Test, name: string, prop: fc.IProperty<any> | fc.IAsyncProperty<any>, numRuns = RUNS): Promise<void> {
  const start = process.hrtime.bigint()
  let error: unknown = null
  try {
    await fc.assert(prop as fc.IAsyncProperty<any>, params(numRuns) as fc.Parameters<any>)
  } catch (err) {
    error = err
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (error !== null) t.fail(`${name}: ${(error as Error).message}`)
  else t.pass(`${name}: ${numRuns} runs`)
  t.comment(`${name}: ${numRuns} runs in ${Math.round(ms)} ms`)
}

// ---- generators ----

const hex = fc.integer({ min: 0, max: 0xffff })
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'))

/** RFC 5952 text of eight hextets, written here independently of lib/core/ip.ts. */
function rfc5952 (p: number[]): string {
  if (p.slice(0, 5).every((x) => x === 0) && p[5] === 0xffff) return `::ffff:${p[6] >> 8}.${p[6] & 255}.${p[7] >> 8}.${p[7] & 255}`
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (p[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && p[j] === 0) j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j
  }
  const h = p.map((x) => x.toString(16))
  if (best === -1) return h.join(':')
  return h.slice(0, best).join(':') + '::' + h.slice(best + bestLen).join(':')
}

/** Canonical IPv6, biased towards zero runs so that compression is exercised. */
const v6 = fc.array(fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: hex }), { minLength: 8, maxLength: 8 }).map(rfc5952)
const canonicalIp = fc.oneof(v4, v6, v4.map((a) => '::ffff:' + a))

/** Non-canonical spellings and junk: what a hostile client puts in a header. */
const junkNode = fc.oneof(
  fc.constantFrom('127.1', '0177.0.0.1', '0x7f.0.0.1', '012.1.2.3', '::fFFf:127.0.0.1', 'unknown', '_obf', 'proxy', '', ' ',
    '[::1]:80', '1.2.3.4:80', 'fe80::1%eth0', '[fe80::1%25eth0]', '2001:DB8::1', '1.2.3.4.5', '256.0.0.1', '"1.2.3.4"', '[1.2.3.4]', '::', '::ffff:0.0.0.0'),
  canonicalIp,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 })
)
const headerText = fc.oneof(
  fc.array(junkNode, { maxLength: 6 }).map((a) => a.join(', ')),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('https', 'HTTP', 'wss', 'a.example:8443', '[::1]:8443', 'evil.com:fake@legit.com', '/app/', '//evil', '/a/%2e%2e', '443', '0', '99999',
    'for=1.2.3.4;proto=https;host=a.example', 'for="[2001:db8::1]:4711"', 'for="', 'for=a;for=b', 'for=unknown, for=10.0.0.2')
)
const headerValue = fc.oneof({ weight: 5, arbitrary: headerText }, { weight: 1, arbitrary: fc.array(headerText, { minLength: 1, maxLength: 3 }) })
const NAMES = ['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'forwarded', 'x-real-ip', 'x-fhost', ':authority'] as const
const headers: fc.Arbitrary<Headers> = fc.dictionary(fc.constantFrom(...NAMES), headerValue, { maxKeys: NAMES.length }) as fc.Arbitrary<Headers>

/** Valid but non-canonical spellings of an address: case, ports, brackets, zones, full form. */
const spelled = fc.tuple(canonicalIp, fc.nat(5)).map(([ip, how]) => {
  const v6 = ip.includes(':')
  switch (how) {
    case 0: return ip.toUpperCase()
    case 1: return v6 ? `[${ip}]:443` : `${ip}:8080`
    case 2: return v6 ? `[${ip.toUpperCase()}]` : ip
    case 3: return v6 && !ip.includes('.') ? `${ip}%eth0` : ip
    case 4: return v6 && !ip.includes('.') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1).split(':').map((h) => h.padStart(4, '0')).join(':') : ip
    default: return ip
  }
})

const TRUST = ['10.0.0.0/8', 'fd00::/8', '127.0.0.1']
const isTrusted = proxyaddr.compile(TRUST)
const trustedPeer = fc.oneof(fc.constantFrom('10.0.0.1', '10.9.8.7', '::ffff:10.0.0.1', 'fd00::1', '127.0.0.1'), fc.nat(0xffffff).map((n) => `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`))
const untrustedPeer = canonicalIp.filter((a) => !isTrusted(a, 0))

const PLANS: Array<[string, Plan | undefined, Plan | undefined]> = [
  ['list', compileOptions({ trust: TRUST }, 'proxyFix'), undefined],
  ['list strict', compileOptions({ trust: TRUST, strict: true }, 'proxyFix'), undefined],
  ['function', compileOptions({ trust: (a: string) => isTrusted(a, 0), strict: true }, 'proxyFix'), undefined],
  ['forwarded', compileOptions({ trust: TRUST, forwarded: true }, 'proxyFix'), undefined],
  ['forwarded strict', compileOptions({ trust: TRUST, forwarded: true, strict: true }, 'proxyFix'), undefined],
  ['client-IP header', compileOptions({ trust: TRUST, clientIpHeader: 'x-real-ip' }, 'proxyFix'), undefined],
  ['fields', compileOptions({ trust: TRUST, fields: ['for', 'prefix'] }, 'proxyFix'), undefined],
  ['hostRewrite', undefined, compileOptions({ header: 'x-fhost', trust: TRUST, strict: true }, 'hostRewrite')],
  ['both', compileOptions({ trust: TRUST }, 'proxyFix'), compileOptions({ header: 'x-fhost', trust: TRUST }, 'hostRewrite')]
]
const COUNT_PLANS: Array<[string, Plan | undefined, Plan | undefined]> = [
  ['count 2', compileOptions({ trust: 2, strict: true }, 'proxyFix'), undefined],
  ['count hops', compileOptions({ trust: 3, hops: { proto: 1, host: 2, prefix: 0 } }, 'proxyFix'), undefined],
  ['allowedHosts', compileOptions({ trust: TRUST, allowedHosts: ['.example', 'legit.com'] }, 'proxyFix'), compileOptions({ header: 'x-fhost', trust: TRUST, allowedHosts: '.example' }, 'hostRewrite')],
  ['trust all', compileOptions({ trust: true }, 'proxyFix'), undefined]
]
const plan = fc.constantFrom(...PLANS)
const anyPlan = fc.constantFrom(...PLANS, ...COUNT_PLANS)

/** A valid IP text is canonical when re-reading it gives itself back. */
function isCanonicalIp (ip: string): boolean {
  const family = net.isIP(ip)
  if (family === 0) return false
  if (family === 4) return ip === ip.split('.').map(Number).join('.')
  // Write it back through the resolver, from a trust-everything peer: the same text comes out.
  const again = resolve('127.0.0.1', false, { 'x-forwarded-for': ip }, ALL, undefined).ip
  if (again !== ip) return false
  // And RFC 5952 by an independent route (WHATWG keeps no dotted form: skip IPv4-mapped).
  return ip.startsWith('::ffff:') && ip.includes('.') ? true : new URL(`http://[${ip}]/`).hostname === `[${ip}]`
}
const ALL = compileOptions({ trust: true }, 'proxyFix')

test('from an untrusted peer, every output equals the socket\'s own view', async (t) => {
  await property(t, 'untrusted peer', fc.property(untrustedPeer, fc.boolean(), headers, plan, (peer, encrypted, h, [, fix, rewrite]) => {
    const v = resolve(peer, encrypted, h, fix, rewrite)
    const o = v.original
    return v.ip === peer && v.ips.length === 1 && v.ips[0] === peer && v.protocol === o.protocol && v.host === o.host &&
      v.hostname === o.hostname && v.port === o.port && v.prefix === '' && v.trusted === false && v.error === null &&
      o.ip === peer && o.protocol === (encrypted ? 'https' : 'http')
  }))
})

test('the output IP is always a valid, canonical IP, or the peer', async (t) => {
  let forwarded = 0
  // arbitrary headers, and chains of valid spellings (from a trusted peer half the time)
  const chains = fc.record({
    'x-forwarded-for': fc.array(fc.oneof(spelled, trustedPeer, junkNode), { minLength: 1, maxLength: 5 }).map((a) => a.join(', ')),
    forwarded: fc.array(spelled, { minLength: 1, maxLength: 3 }).map((a) => a.map((x) => `for="${x}"`).join(', ')),
    'x-real-ip': spelled
  }) as fc.Arbitrary<Headers>
  await property(t, 'canonical ip', fc.property(fc.oneof(trustedPeer, untrustedPeer), fc.oneof(headers, chains), anyPlan, (peer, h, [, fix, rewrite]) => {
    const v = resolve(peer, false, h, fix, rewrite)
    if (v.ip !== peer) forwarded++
    if (v.ip !== peer && !isCanonicalIp(v.ip as string)) return false
    // every hop in ips is an address too, the peer first
    return v.ips[0] === peer && v.ips.slice(1).every(isCanonicalIp)
  }))
  t.ok(forwarded > 0, `not vacuous: ${forwarded} runs resolved a forwarded address`)
})

test('prepending anything to X-Forwarded-For never changes the result when the walk stops before it', async (t) => {
  // A chain as trusted proxies append it: the client (untrusted), then trusted hops; the other
  // X-Forwarded-* lists have one entry per hop, and the client prepends whatever it likes.
  const chain = fc.tuple(untrustedPeer, fc.array(trustedPeer, { maxLength: 4 }))
  const junkList = fc.array(fc.oneof(junkNode, fc.string({ maxLength: 20 })), { minLength: 1, maxLength: 5 }).map((a) => a.join(','))
  const perHop = fc.constantFrom('https', 'http', 'wss')
  await property(t, 'prepend', fc.property(trustedPeer, chain, junkList, junkList, junkList, fc.array(perHop, { minLength: 5, maxLength: 5 }), fc.constantFrom(...PLANS.filter(([n, fix]) => fix !== undefined && !n.startsWith('forwarded') && n !== 'client-IP header')),
    (peer, [client, hops], junk, junkProto, junkHost, protos, [, fix, rewrite]) => {
      const n = hops.length + 1
      const xff = [client, ...hops].join(', ')
      const proto = protos.slice(0, n).join(', ')
      const host = Array.from({ length: n }, (_, i) => `h${i}.example:${8000 + i}`).join(', ')
      const honest: Headers = { host: 'internal', 'x-forwarded-for': xff, 'x-forwarded-proto': proto, 'x-forwarded-host': host }
      const forged: Headers = { host: 'internal', 'x-forwarded-for': `${junk}, ${xff}`, 'x-forwarded-proto': `${junkProto}, ${proto}`, 'x-forwarded-host': `${junkHost},${host}` }
      const a = resolve(peer, false, honest, fix, rewrite)
      const b = resolve(peer, false, forged, fix, rewrite)
      return a.ip === client && a.ip === b.ip && JSON.stringify(a.ips) === JSON.stringify(b.ips) && a.protocol === b.protocol &&
        a.host === b.host && a.prefix === b.prefix && (a.error === null) === (b.error === null)
    }))
})

test('prepending anything to Forwarded never changes the result when the walk stops before it', async (t) => {
  // The same for RFC 7239: a client's own (possibly broken) Forwarded, passed through by a proxy
  // that appends its element, never hides the elements the proxies added.
  const node = (ip: string): string => ip.includes(':') ? `"[${ip}]"` : ip
  const junk = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('for="', 'x="', 'for=a;for=b', '"', ';', '=', 'for=unknown', 'for=127.0.0.1', 'a=b;c="d'),
    fc.array(junkNode, { maxLength: 4 }).map((a) => a.map((x) => 'for=' + x).join(', ')))
  const fwd = PLANS.filter(([n]) => n === 'forwarded')
  await property(t, 'prepend Forwarded', fc.property(trustedPeer, untrustedPeer, fc.array(trustedPeer, { maxLength: 4 }), junk, fc.array(fc.constantFrom('https', 'http'), { minLength: 5, maxLength: 5 }), fc.constantFrom(...fwd),
    (peer, client, hops, prefix, protos, [, fix]) => {
      const header = [client, ...hops].map((ip, i) => `for=${node(ip)};proto=${protos[i]};host=h${i}.example`).join(', ')
      const a = resolve(peer, false, { host: 'internal', forwarded: header }, fix, undefined)
      const b = resolve(peer, false, { host: 'internal', forwarded: `${prefix}, ${header}` }, fix, undefined)
      return a.ip === client && a.ip === b.ip && JSON.stringify(a.ips) === JSON.stringify(b.ips) && a.protocol === b.protocol && a.host === b.host
    }))
})

test('no input makes resolve() throw', async (t) => {
  await property(t, 'resolve never throws', fc.property(fc.oneof(trustedPeer, untrustedPeer, fc.constant(undefined), fc.string({ maxLength: 10 })), fc.boolean(), headers, anyPlan,
    (peer, encrypted, h, [, fix, rewrite]) => {
      const v = resolve(peer, encrypted, h, fix, rewrite)
      // read everything a request can read
      const read = [v.hostname, v.port, v.original, v.url('/x'), v.url('y')]
      return read.length === 5 && typeof v.host === 'string' && (v.protocol === 'http' || v.protocol === 'https') && Array.isArray(v.ips) &&
        (v.error === null || (v.error as Error & { statusCode: number }).statusCode === 400)
    }))
})

// Header values light-my-request and Node accept: visible ASCII, space and tab.
const wireValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.array(junkNode.filter((s) => /^[\x20-\x7e]*$/.test(s)), { maxLength: 5 }).map((a) => a.join(', ')),
  fc.constantFrom('evil.com:fake@legit.com', 'a.example, b.example', '/app/', 'for="', 'https, http', '\t1.2.3.4\t')
)
const WIRE_NAMES = NAMES.filter((n) => n !== ':authority')
const wireHeaders = fc.dictionary(fc.constantFrom(...WIRE_NAMES), wireValue, { maxKeys: WIRE_NAMES.length })
const PATHS = ['/', '/legacy', '/legacy/x?y=1', '/%6cegacy/a%2Fb', '/legacy;a=b', '//legacy//x', '/legacy/%zz', '/Legacy/', '/native']
const path = fc.oneof(fc.constantFrom(...PATHS), fc.webPath().map((p) => '/legacy' + p), fc.webPath().map((p) => p === '' ? '/' : p),
  fc.webQueryParameters().map((q) => '/legacy/q?' + q))

test('no input makes a plugin throw or answer 500 (inject)', async (t) => {
  const errors: unknown[] = []
  const apps: FastifyInstance[] = []
  for (const strict of [false, true]) {
    const f = Fastify({ routerOptions: { ignoreDuplicateSlashes: strict, useSemicolonDelimiter: strict, caseSensitive: !strict } })
    await f.register(proxyFix, { trust: TRUST, strict, allowedHosts: strict ? ['.example', 'localhost'] : undefined })
    await f.register(hostRewrite, { header: 'x-fhost', trust: TRUST, strict })
    await f.register(mountApp, {
      prefix: '/legacy',
      app: (req: http.IncomingMessage, res: http.ServerResponse) => {
        const r = req as any
        res.end(JSON.stringify({ ip: r.ip, ips: r.ips, protocol: r.protocol, hostname: r.hostname, host: req.headers.host }))
      }
    })
    f.get('/native', async (req) => ({ ip: req.ip, host: req.host, hostname: req.hostname, port: req.port, protocol: req.protocol, url: req.proxy.url('/'), original: req.proxy.original }))
    f.setErrorHandler((err, _req, reply) => {
      if ((err as { statusCode?: number }).statusCode === undefined || ((err as { statusCode: number }).statusCode >= 500)) errors.push(err)
      reply.send(err)
    })
    await f.ready()
    apps.push(f)
  }
  const onError = (err: unknown): void => { errors.push(err) }
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  t.teardown(() => {
    process.removeListener('uncaughtException', onError)
    process.removeListener('unhandledRejection', onError)
  })
  await property(t, 'inject never 500', fc.asyncProperty(fc.constantFrom(...apps), fc.oneof(trustedPeer, untrustedPeer), path, wireHeaders, fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS'),
    async (f, peer, url, h, method) => {
      const res = await f.inject({ method: method as 'GET', url, remoteAddress: peer, headers: h })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} ${res.body}`)
      return errors.length === 0
    }), INJECT_RUNS)
  t.same(errors, [], 'no 5xx error, no uncaught exception, no unhandled rejection')
  for (const f of apps) await f.close()
})

test('on well-formed input, the client IP agrees with proxy-addr under the same trust', async (t) => {
  const pool = fc.oneof({ weight: 2, arbitrary: trustedPeer }, { weight: 1, arbitrary: canonicalIp })
  // Ranges that cover ::ffff:0:0/96 are left out on purpose: proxy-addr matches an IPv4 address
  // against them (as its mapped form), this package matches IPv4 against IPv4 ranges only.
  const trustLists: string[][] = [TRUST, ['loopback', 'uniquelocal'], ['10.0.0.0/8', '::ffff:10.0.0.0/104'], ['0.0.0.0/1', '128.0.0.0/1'], ['2000::/3', '10.0.0.1']]
  const compiled = trustLists.map((list) => ({ fix: compileOptions({ trust: list }, 'proxyFix'), pa: proxyaddr.compile(list) }))
  await property(t, 'agrees with proxy-addr', fc.property(pool, fc.array(pool, { maxLength: 12 }), fc.constantFrom(...compiled), fc.constantFrom(', ', ',', ' ,  '),
    (peer, chain, { fix, pa }, sep) => {
      const h = chain.length === 0 ? {} : { 'x-forwarded-for': chain.join(sep) }
      const v = resolve(peer, false, h, fix, undefined)
      const req = { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers: h } as unknown as http.IncomingMessage
      const all = proxyaddr.all(req, pa)
      return v.ip === all[all.length - 1] && JSON.stringify(v.ips) === JSON.stringify(all)
    }))
})
