import { test } from 'tap'
import { start, request, freePort, serving } from './helpers/cli'

test('as on a PaaS: PORT without HOST binds 0.0.0.0 (and says so), WEB_CONCURRENCY workers, FORWARDED_ALLOW_IPS', async (t) => {
  const port = await freePort()
  const run = start(t, ['serve', 'fastify-plugin.js'], { env: { PORT: String(port), WEB_CONCURRENCY: '2', FORWARDED_ALLOW_IPS: '127.0.0.1' } })
  await run.line(new RegExp(`PORT is set and HOST is not: binding 0.0.0.0:${port}`))
  await run.line(/primary \[\d+\]: starting 2 workers on 0.0.0.0:/)
  await run.line(serving)
  for (let i = 0; run.count(serving) < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(run.count(serving), 2, 'two workers')
  const res = await request(`http://127.0.0.1:${port}/hello`, { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.50' } })
  t.match(JSON.parse(res.body), { from: 'fastify', ip: '203.0.113.50' })
  const other = await request(`http://127.0.0.1:${port}/hello`, { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.50' } })
  t.match(JSON.parse(other.body), { ip: '127.0.0.2' }, 'only FORWARDED_ALLOW_IPS is trusted')
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
})

test('--workers: a crashed worker is restarted; SIGTERM drains in-flight requests and exits 0', async (t) => {
  const run = start(t, ['serve', 'fastify-plugin.js', '--workers', '2', '--port', '0', '--access-log', 'off'])
  const url = (await run.line(serving))[1]
  for (let i = 0; run.count(serving) < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const crashed = JSON.parse((await request(url + '/crash')).body).crashing
  await run.line(new RegExp(`worker ${crashed} exited \\(code 1\\); starting another in 100 ms`))
  for (let i = 0; run.count(serving) < 3 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(run.count(serving), 3, 'a new worker started')
  const slow = request(url + '/slow?ms=1000')
  await new Promise((resolve) => setTimeout(resolve, 300))
  run.proc.kill('SIGTERM')
  const res = await slow
  t.equal(res.status, 200, 'the in-flight request finished')
  t.equal(await run.exit, 0)
  t.match(run.out.join('\n'), /SIGTERM: graceful stop[\s\S]*draining[\s\S]*every worker has stopped \(exit 0\)/)
})
