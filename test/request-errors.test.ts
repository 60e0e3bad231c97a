// A request's 400 carries no stack trace: it answers the client and is cheap to build, so a
// flood of malformed 16 KiB headers costs no stack capture each.
import { test } from 'tap'
import Fastify from 'fastify'
import { compileOptions } from '../lib/core/options'
import { resolve } from '../lib/core/resolve'
import { proxyFix } from '../lib/fastify/proxy-fix'
import { raw } from './helpers/raw-http'

test('malformed, not allowed and duplicate-Host errors: no stack frames, the limit restored', async (t) => {
  const limit = Error.stackTraceLimit
  const strict = compileOptions({ trust: true, strict: true, forwarded: true }, 'proxyFix')
  const malformed = resolve('127.0.0.1', false, { forwarded: '"'.repeat(16384) }, strict, undefined).error as Error
  t.equal((malformed as Error & { code: string }).code, 'FST_ERR_PROXY_FIX_MALFORMED_HEADER')
  t.notMatch(malformed.stack, /\n\s+at /, 'no frames')
  const hosts = compileOptions({ trust: true, allowedHosts: ['example.com'] }, 'proxyFix')
  const refused = resolve('127.0.0.1', false, { host: 'evil.test' }, hosts, undefined).error as Error
  t.equal((refused as Error & { code: string }).code, 'FST_ERR_PROXY_FIX_HOST_NOT_ALLOWED')
  t.notMatch(refused.stack, /\n\s+at /)
  t.equal(Error.stackTraceLimit, limit, 'Error.stackTraceLimit is put back')
  t.match(new Error('x').stack, /\n\s+at /, 'other errors keep their stacks')

  const app = Fastify()
  await app.register(proxyFix, { trust: 'loopback', allowedHosts: ['example.com'] })
  app.get('/', async () => 'ok')
  app.setErrorHandler((err, _req, reply) => { reply.code(400).send({ code: (err as Error & { code: string }).code, frames: /\n\s+at /.test(err.stack ?? '') }) })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const port = Number(new URL(address).port)
  const res = await raw(port, 'GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.test\r\nConnection: close\r\n\r\n')
  t.match(res, /^HTTP\/1\.1 400/)
  t.match(res, /"code":"FST_ERR_PROXY_FIX_DUPLICATE_HOST","frames":false/)
})
