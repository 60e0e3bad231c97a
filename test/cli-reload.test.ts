import { test } from 'tap'
import { start, load, serving } from './helpers/cli'

test('SIGHUP under load: fresh workers, then the old ones drain, and no request fails; TTIN, TTOU, USR1, QUIT', async (t) => {
  const run = start(t, ['serve', 'fastify-plugin.js', '-w', '2', '-p', '0', '--access-log', 'off'])
  const url = (await run.line(serving))[1]
  for (let i = 0; run.count(serving) < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const result = await load(url + '/pid', 4, () => { setTimeout(() => run.proc.kill('SIGHUP'), 500) })
  await run.line(/SIGHUP: rolling reload: starting 2 fresh workers, then draining the old ones/)
  t.equal(result.failed, 0, `no failed request out of ${result.requests}`)
  for (let i = 0; run.count(/which it replaces/) < 2 && i < 1000; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(run.count(/which it replaces/), 2, 'both old workers replaced')
  run.proc.kill('SIGTTIN')
  await run.line(/SIGTTIN: one worker more \(3\)/)
  for (let i = 0; run.count(serving) < 5 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  run.proc.kill('SIGTTOU')
  await run.line(/SIGTTOU: one worker fewer \(2\): draining worker \d+/)
  run.proc.kill('SIGUSR1')
  await run.line(/SIGUSR1: workers reopen their log files/)
  run.proc.kill('SIGQUIT')
  await run.line(/SIGQUIT: fast stop/)
  t.equal(await run.exit, 0, [...run.out, ...run.err].join('\n'))
})
