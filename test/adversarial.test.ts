// The adversarial battery: table-driven attacks on proxyFix, hostRewrite and mountApp, through
// real plugin registrations. Every row states its expected result. Rows named after an advisory
// use that advisory's own inputs (see the table in docs/hardening.md).
// What is left here: the registrations refused as unsafe (CVE-2024-29415, CVE-2023-42282,
// GHSA-3wf5-7852-vcfq); the request attacks are in test/security/, one file per bypass class.
import { test } from 'tap'
import Fastify from 'fastify'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { hostRewrite } from '../lib/fastify/host-rewrite'
import { mountApp } from '../lib/mount/mount-app'
import { count, done, type Json } from './helpers/battery'

test('registration refuses unsafe or ambiguous options', async (t) => {
  const cases: Array<[string, unknown, Json, string]> = [
    ['trust "127.1" (CVE-2024-29415)', proxyFix, { trust: '127.1' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "012.1.2.3" (CVE-2023-42282)', proxyFix, { trust: '012.1.2.3' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "0x7f.0.0.1"', proxyFix, { trust: '0x7f.0.0.1' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust with a zone', proxyFix, { trust: 'fe80::1%eth0' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "10.0.0.0/33"', proxyFix, { trust: '10.0.0.0/33' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust "localhost"', proxyFix, { trust: 'localhost' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['trust 1.5', proxyFix, { trust: 1.5 }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['hostRewrite trust true', hostRewrite, { header: 'x-fhost', trust: true }, 'FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED'],
    ['hostRewrite header Host', hostRewrite, { header: 'host' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['allowedHosts with userinfo', proxyFix, { allowedHosts: ['user@example.com'] }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['GHSA-3wf5-7852-vcfq mountApp array prefix', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: ['/a', '/b'] }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['GHSA-3wf5-7852-vcfq mountApp RegExp prefix', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: /^\/admin/ }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['mountApp encoded prefix /%61dmin', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: '/%61dmin' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION'],
    ['mountApp pattern prefix /:id', mountApp, { app: (_q: unknown, _s: unknown, _n: unknown) => {}, prefix: '/:id' }, 'FST_ERR_PROXY_FIX_INVALID_OPTION']
  ]
  count(cases.length)
  for (const [name, plugin, opts, code] of cases) {
    const app = Fastify()
    const err = await app.register(plugin as any, opts).ready().then(() => null, (e: Error & { code?: string }) => e)
    t.equal(err?.code, code, name)
    await app.close().catch(() => {})
  }
  const both = Fastify({ trustProxy: true })
  const err = await both.register(proxyFix).ready().then(() => null, (e: Error & { code?: string }) => e)
  t.equal(err?.code, 'FST_ERR_PROXY_FIX_TRUST_PROXY_CONFLICT', 'proxyFix with Fastify trustProxy')
  count(1)
})

done(15, 'adversarial options')
