import { test } from 'tap'
import { start, request, freePort, load, serving } from './helpers/cli'

test('--max-requests with jitter: workers are replaced under load, and no request fails', async (t) => {
  const run = start(t, ['serve', 'fastify-plugin.js', '-w', '2', '-p', '0', '--max-requests', '300', '--max-requests-jitter', '100', '--access-log', 'off'])
  const url = (await run.line(serving))[1]
  for (let i = 0; run.count(serving) < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const result = await load(url + '/pid', 4, () => {})
  t.equal(result.failed, 0, `no failed request out of ${result.requests}`)
  t.ok(run.count(/\(--max-requests\): starting its replacement/) >= 1, 'recycled')
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
})

test('--timeout: a worker whose event loop is blocked is killed with SIGKILL and replaced', async (t) => {
  // A fixed port: with port 0, a lone worker's replacement would get a new one.
  const run = start(t, ['serve', 'busy.js', '-w', '1', '-p', String(await freePort()), '--timeout', '1'])
  const url = (await run.line(serving))[1]
  const blocked = JSON.parse((await request(url + '/pid')).body).pid
  request(url + '/block').catch(() => {})
  await run.line(new RegExp(`worker ${blocked} sent no heartbeat for \\d+\\.\\d s \\(--timeout 1\\): killing it \\(SIGKILL\\)`))
  await run.line(new RegExp(`worker ${blocked} exited \\(signal SIGKILL\\); starting another`))
  for (let i = 0; run.count(serving) < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const after = JSON.parse((await request(url + '/pid')).body).pid
  t.not(after, blocked, 'a new worker serves')
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
})
