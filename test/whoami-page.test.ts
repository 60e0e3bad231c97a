import { test } from 'tap'
import Fastify from 'fastify'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { whoami } from '../lib/server/whoami'

// The page as a person sees it: verdict banner, suggestion ready to copy, warnings with codes, the
// chain client to server; the JSON form carries the same.

async function app (t: Tap.Test, fix: object, settings: object) {
  const f = Fastify()
  await f.register(proxyFix, { ...fix, warnings: true })
  await f.register(whoami, { settings })
  t.teardown(() => f.close())
  return f
}

test('a forgotten proxy: misconfigured, with the --trust to copy', async (t) => {
  const f = await app(t, { trust: '127.0.0.3' }, { trust: '127.0.0.3' })
  const headers = { 'x-forwarded-for': '198.51.100.4', 'x-forwarded-prefix': '/app' }
  const json = (await f.inject({ url: '/x', remoteAddress: '127.0.0.2', headers })).json()
  t.equal(json.verdict, 'misconfigured')
  t.match(json.reason, '127.0.0.2, a local address that is not trusted')
  t.strictSame(json.suggestion.options, { trust: ['127.0.0.3', '127.0.0.2'] })
  t.equal(json.suggestion.flags, '--trust 127.0.0.3,127.0.0.2')
  t.strictSame(json.warnings.map((w: { code: string }) => w.code), ['FPF_W_FORGOTTEN_PROXY', 'FPF_W_LOST_PREFIX'])
  t.equal(json.lostPrefix, '/app')
  t.strictSame(json.hops.map((h: { role: string }) => h.role), ['client', 'ignored'])
  const html = (await f.inject({ url: '/x', remoteAddress: '127.0.0.2', headers: { ...headers, accept: 'text/html' } })).body
  t.match(html, '<section class="banner misconfigured" id="verdict" data-verdict="misconfigured"><h2>Misconfigured</h2>')
  t.match(html, '<pre id="suggest-flags">fastify-proxy-fix serve --trust 127.0.0.3,127.0.0.2</pre>')
  t.match(html, '<code>FPF_W_FORGOTTEN_PROXY</code>')
  t.match(html, '<p class="flag" id="lost-prefix">Lost prefix: /app')
  t.match(html, /<li class="ignored" data-role="ignored"><span class="addr">198\.51\.100\.4<\/span>[\s\S]*<li class="client" data-role="client"><span class="addr">127\.0\.0\.2<\/span><span class="from">socket peer<\/span>[\s\S]*this server/, 'client to server')
  t.notMatch(html, /<script|<link|<img|src=|url\(/, 'no script, no external asset')
  t.match(html, '<meta name="viewport"')
})

test('trusted with a forged entry left of the client: ok, the forged hop shown', async (t) => {
  const f = await app(t, { trust: '127.0.0.2' }, {})
  const res = await f.inject({ url: '/', remoteAddress: '127.0.0.2', headers: { accept: 'text/html', 'x-forwarded-for': '6.6.6.6, 203.0.113.9' } })
  t.match(res.body, 'data-verdict="ok"')
  t.match(res.body, /<li class="forged" data-role="forged"><span class="addr">6\.6\.6\.6<\/span><span class="from">X-Forwarded-For, hop 2<\/span>/)
  t.match(res.body, '<pre id="suggest-flags">fastify-proxy-fix serve --trust 127.0.0.2</pre>', 'no settings given to whoami: the plugin\'s own registration is quoted')
  t.match(res.body, 'None for this request.')
})

test('trust: true: spoofable, and the JSON carries the same verdict', async (t) => {
  const f = await app(t, { trust: true }, { trust: true })
  const json = (await f.inject({ url: '/', remoteAddress: '127.0.0.2', headers: { 'x-forwarded-for': '6.6.6.6' } })).json()
  t.match(json, { verdict: 'spoofable', suggestion: { options: { trust: ['127.0.0.2'] }, flags: '--trust 127.0.0.2' }, corrected: { ip: '6.6.6.6' } })
  t.strictSame(json.warnings.map((w: { code: string }) => w.code), ['FPF_W_TRUST_ALL'])
})

test('allowBy: peer matches allow against the socket peer, not the corrected client', async (t) => {
  const f = Fastify()
  await f.register(proxyFix, { trust: '127.0.0.2' })
  await f.register(whoami, { prefix: '/peer', allow: ['loopback'], allowBy: 'peer' })
  await f.register(whoami, { prefix: '/client', allow: ['loopback'], allowBy: 'client' })
  t.teardown(() => f.close())
  const via = { remoteAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.9' } }
  t.equal((await f.inject({ url: '/peer', ...via })).statusCode, 200, 'the proxy on loopback is the peer')
  t.equal((await f.inject({ url: '/client', ...via })).statusCode, 404, 'the client behind it is not loopback')
  t.equal((await f.inject({ url: '/peer', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '127.0.0.1' } })).statusCode, 404, 'a forged header does not help')
  await t.rejects(Fastify().register(proxyFix).register(whoami, { allowBy: 'socket' as never }).ready(), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"allowBy": "socket"/ })
})
