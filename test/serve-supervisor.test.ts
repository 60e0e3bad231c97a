import { test } from 'tap'
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { RESTART, restartDelay, runPrimary, type ClusterLike, type PrimaryIo, type WorkerLike } from '../lib/server/supervisor'
import { resolveSettings, type Settings } from '../lib/server/settings'
import type { ToPrimary, ToWorker } from '../lib/server/worker'

function settings (over: Record<string, unknown> = {}): Settings {
  return resolveSettings({ flags: {}, flagNamer: (k) => k, file: { port: 0, workers: 2, ...over }, fileNamer: (k) => k, env: {}, pid: 1 }).settings
}

class FakeWorker extends EventEmitter implements WorkerLike {
  static next = 1
  id = FakeWorker.next++
  sent: ToWorker[] = []
  signals: string[] = []
  process = { pid: 1000 + this.id, kill: (signal?: NodeJS.Signals) => { this.signals.push(signal as string) } }
  send (message: ToWorker): void { this.sent.push(message) }
  tell (message: ToPrimary): void { this.emit('message', message) }
}

interface Fake {
  io: PrimaryIo
  out: string[]
  err: string[]
  workers: FakeWorker[]
  signals: EventEmitter
  cluster: EventEmitter
  exit: (w: FakeWorker, code: number | null, signal?: string | null) => void
  clock: { now: number }
}

function fake (): Fake {
  const out: string[] = []
  const err: string[] = []
  const workers: FakeWorker[] = []
  const signals = new EventEmitter()
  const emitter = new EventEmitter()
  const clock = { now: 0 }
  const cluster: ClusterLike = {
    fork: () => { const w = new FakeWorker(); workers.push(w); return w },
    on: (event, listener) => emitter.on(event, listener)
  }
  return {
    io: { stdout: (l) => { out.push(l) }, stderr: (l) => { err.push(l) }, signals, cluster, now: () => clock.now },
    out,
    err,
    workers,
    signals,
    cluster: emitter,
    exit: (w, code, signal = null) => { emitter.emit('exit', w, code, signal) },
    clock
  }
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

test('restartDelay: exponential backoff, and a storm gives up', async (t) => {
  const crashes: number[] = []
  const policy = { windowMs: 1000, maxCrashes: 3, baseDelayMs: 10, maxDelayMs: 25 }
  t.equal(restartDelay(crashes, 0, policy), 10)
  t.equal(restartDelay(crashes, 1, policy), 20)
  t.equal(restartDelay(crashes, 2, policy), 25)
  t.equal(restartDelay(crashes, 3, policy), null)
  t.equal(restartDelay(crashes, 5000, policy), 10, 'old crashes leave the window')
  t.equal(RESTART.maxCrashes, 10)
})

test('a failure before any worker was ready ends the server with that error, exit 1', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings(), f.io)
  t.equal(f.workers.length, 2)
  t.match(f.out[0], /primary \[\d+\]: starting 2 workers on 127.0.0.1:0/)
  f.workers[0].tell({ fpf: 'beat' })
  f.workers[0].emit('error', new Error('write EPIPE'))
  f.workers[0].tell({ fpf: 'failed', message: 'fastify-proxy-fix: cannot load app.js: boom (app.js:3)' })
  f.exit(f.workers[0], 1)
  t.strictSame(f.err, ['fastify-proxy-fix: cannot load app.js: boom (app.js:3)'])
  t.strictSame(f.workers[1].signals, ['SIGKILL'], 'the other starting worker is killed')
  f.exit(f.workers[1], null, 'SIGKILL')
  t.equal(await primary.done, 1)
  t.match(f.out.at(-1), /every worker has stopped \(exit 1\)/)

  // Without a message: the exit itself is reported.
  const g = fake()
  const p2 = await runPrimary(settings({ workers: 1 }), g.io)
  g.exit(g.workers[0], null, 'SIGKILL')
  t.match(g.err[0], /worker \d+ exited \(signal SIGKILL\) before any worker was ready/)
  t.equal(await p2.done, 1)
})

test('crashes after startup are restarted with backoff; a storm stops the server', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings({ workers: 1 }), f.io, { windowMs: 60_000, maxCrashes: 2, baseDelayMs: 1, maxDelayMs: 5 })
  f.workers[0].tell({ fpf: 'ready', urls: ['http://x'] })
  f.workers[0].tell(null as never)
  f.exit(f.workers[0], 1)
  t.match(f.err[0], /worker \d+ exited \(code 1\); starting another in 1 ms/)
  await tick(20)
  t.equal(f.workers.length, 2, 'restarted')
  f.workers[1].tell({ fpf: 'failed', message: 'listen EADDRINUSE' })
  f.exit(f.workers[1], 1)
  t.match(f.err[1], /exited \(listen EADDRINUSE\); starting another in 2 ms/)
  await tick(20)
  f.exit(f.workers[2], 1)
  t.match(f.err[2], /exited more than 2 times in 60 s: giving up/)
  t.equal(await primary.done, 1)
  f.exit(new FakeWorker(), 0)
})

test('SIGHUP: fresh workers first, then the old ones drain; a failed fresh worker leaves the old one serving', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings(), f.io)
  const [a, b] = f.workers
  a.tell({ fpf: 'ready', urls: [] })
  f.signals.emit('SIGHUP')
  t.match(f.out.at(-1), /SIGHUP: rolling reload: starting 1 fresh worker, then draining the old ones/)
  b.tell({ fpf: 'ready', urls: [] })
  f.signals.emit('SIGHUP')
  t.match(f.out.at(-1), /starting 1 fresh worker/)
  f.signals.emit('SIGHUP')
  t.match(f.out.at(-1), /SIGHUP: ignored: the fresh workers of a reload are still starting/)
  const [c, d] = f.workers.slice(2)
  t.strictSame(a.sent, [], 'the old worker serves until its replacement is ready')
  c.tell({ fpf: 'ready', urls: [] })
  t.strictSame(a.sent, [{ fpf: 'drain' }])
  t.match(f.out.at(-1), new RegExp(`worker ${c.process.pid} is ready: draining worker ${a.process.pid}`))
  f.exit(a, 0)
  t.equal(f.err.length, 0, 'a drained worker is not restarted')
  d.tell({ fpf: 'failed', message: 'cannot load app.js: SyntaxError' })
  f.exit(d, 1)
  f.signals.emit('SIGHUP')
  const e = f.workers[4]
  f.exit(e, null, 'SIGKILL')
  t.match(f.err[1], /the fresh worker \d+ failed \(signal SIGKILL\)/)
  t.match(f.err[0], new RegExp(`the fresh worker ${d.process.pid} failed \\(cannot load app.js: SyntaxError\\): worker ${b.process.pid} keeps serving`))
  t.strictSame(b.sent, [])
  c.tell({ fpf: 'ready', urls: [] })
  primary.stop('graceful')
  f.exit(b, 0)
  f.exit(c, 0)
  f.exit(f.workers[5], 0)
  t.equal(await primary.done, 0)

  const g = fake()
  const p2 = await runPrimary(settings(), g.io)
  for (const w of g.workers) w.tell({ fpf: 'ready', urls: [] })
  g.signals.emit('SIGHUP')
  t.match(g.out.at(-1), /starting 2 fresh workers/)
  p2.stop('fast')
  for (const w of g.workers) g.exit(w, 0)
  t.equal(await p2.done, 0)
})

test('--max-requests: the replacement starts first; TTIN, TTOU, USR1; TERM drains everything', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings({ maxRequests: 10 }), f.io)
  const [a, b] = f.workers
  a.tell({ fpf: 'ready', urls: [] })
  b.tell({ fpf: 'ready', urls: [] })
  a.tell({ fpf: 'recycle', requests: 12 })
  a.tell({ fpf: 'recycle', requests: 12 })
  t.equal(f.workers.length, 3, 'one replacement only')
  t.match(f.out.at(-1), new RegExp(`worker ${a.process.pid} served 12 requests \\(--max-requests\\): starting its replacement`))
  f.workers[2].tell({ fpf: 'ready', urls: [] })
  t.strictSame(a.sent, [{ fpf: 'drain' }])
  f.exit(a, 0)

  f.signals.emit('SIGTTIN')
  t.match(f.out.at(-1), /SIGTTIN: one worker more \(3\)/)
  t.equal(f.workers.length, 4)
  f.workers[3].tell({ fpf: 'ready', urls: [] })
  f.signals.emit('SIGTTOU')
  t.match(f.out.at(-1), new RegExp(`SIGTTOU: one worker fewer \\(2\\): draining worker ${b.process.pid}`))
  f.exit(b, 0)
  f.signals.emit('SIGTTOU')
  f.exit(f.workers[2], 0)
  f.signals.emit('SIGTTOU')
  t.match(f.out.at(-1), /SIGTTOU: ignored, 1 worker is the least/)
  f.signals.emit('SIGUSR1')
  t.match(f.out.at(-1), /SIGUSR1: workers reopen their log files/)
  t.strictSame(f.workers[3].signals, ['SIGUSR1'])

  f.signals.emit('SIGTTIN')
  const starting = f.workers[4]
  f.signals.emit('SIGTERM')
  t.match(f.out.at(-1), /SIGTERM: graceful stop/)
  f.signals.emit('SIGINT')
  f.signals.emit('SIGHUP')
  f.signals.emit('SIGTTIN')
  f.signals.emit('SIGTTOU')
  t.strictSame(f.workers[3].sent, [{ fpf: 'drain' }])
  t.strictSame(starting.sent, [], 'a starting worker drains once ready')
  starting.tell({ fpf: 'ready', urls: [] })
  t.strictSame(starting.sent, [{ fpf: 'drain' }])
  starting.tell({ fpf: 'recycle', requests: 1 })
  f.exit(f.workers[3], 0)
  f.exit(starting, 1)
  t.equal(await primary.done, 1, 'a worker that failed its drain makes the exit non-zero')
  t.equal(f.signals.listenerCount('SIGTERM'), 0, 'signal handlers removed')
})

test('SIGQUIT: fast stop, SIGKILL for a worker that does not go; SIGINT stops too', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings({ workers: 1 }), f.io)
  const [a] = f.workers
  a.tell({ fpf: 'ready', urls: [] })
  f.signals.emit('SIGINT')
  t.match(f.out.at(-1), /SIGINT: graceful stop/)
  f.signals.emit('SIGQUIT')
  t.match(f.out.at(-1), /SIGQUIT: fast stop/)
  t.strictSame(a.sent, [{ fpf: 'drain' }, { fpf: 'quit' }])
  f.signals.emit('SIGQUIT')
  await tick(2100)
  t.strictSame(a.signals, ['SIGKILL'])
  f.exit(a, null, 'SIGKILL')
  t.equal(await primary.done, 0)
})

test('a drain that outlives the graceful timeout is ended with SIGKILL', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings({ workers: 2, gracefulTimeout: 0.1 }), f.io)
  const [a, b] = f.workers
  a.tell({ fpf: 'ready', urls: [] })
  b.tell({ fpf: 'ready', urls: [] })
  f.signals.emit('SIGTTOU')
  t.match(f.out.at(-1), /SIGTTOU: one worker fewer \(1\)/)
  f.exit(a, 0)
  f.signals.emit('SIGTTIN')
  f.signals.emit('SIGTTIN')
  f.signals.emit('SIGTTOU')
  t.match(f.out.at(-1), /SIGTTOU: one worker fewer \(2\)/, 'the ready one drains')
  f.signals.emit('SIGTTOU')
  t.match(f.out.at(-1), /SIGTTOU: ignored, 2 workers are the least/, 'none ready: nothing to drain')
  f.exit(b, 0)
  const [c, d] = f.workers.slice(2)
  primary.stop('graceful')
  f.exit(c, 0)
  f.exit(d, 0)
  const primary2 = await runPrimary(settings({ workers: 2, gracefulTimeout: 0.1 }), f.io)
  const [e, e2] = f.workers.slice(4)
  e.tell({ fpf: 'ready', urls: [] })
  e2.tell({ fpf: 'ready', urls: [] })
  primary2.stop('graceful')
  f.exit(e2, 0)
  await tick(5300)
  t.match(f.err.at(-1), /still running 5.1 s after its drain began: killing it \(SIGKILL\)/)
  t.strictSame(e.signals, ['SIGKILL'])
  t.strictSame(a.signals, [], 'a worker that left in time is not killed')
  f.exit(e, null, 'SIGKILL')
  t.equal(await primary2.done, 1)
  t.equal(await primary.done, 0)
})

test('--timeout: a silent worker is killed with SIGKILL and replaced', async (t) => {
  const f = fake()
  const primary = await runPrimary(settings({ workers: 1, timeout: 0.2 }), f.io)
  const [a] = f.workers
  f.clock.now = 9000
  await tick(120)
  t.strictSame(a.signals, [], 'a starting worker gets 10 s')
  f.clock.now = 10100
  await tick(120)
  t.strictSame(a.signals, ['SIGKILL'], 'then it is killed')
  t.match(f.err.at(-1), /sent no heartbeat for 10.1 s \(--timeout 0.2, at least 10 s while starting\)/)
  f.exit(a, null, 'SIGKILL')
  t.equal(await primary.done, 1, 'a worker never ready ends the server')
  f.err.length = 0
  const p1 = await runPrimary(settings({ workers: 1, timeout: 0.2 }), f.io)
  const w = f.workers[1]
  w.tell({ fpf: 'ready', urls: [] })
  f.clock.now = 10200
  w.tell({ fpf: 'beat' })
  await tick(120)
  t.strictSame(w.signals, [], 'beating: alive')
  f.clock.now = 10500
  await tick(120)
  t.strictSame(w.signals, ['SIGKILL'])
  t.match(f.err[0], /worker \d+ sent no heartbeat for 0.3 s \(--timeout 0.2\): killing it \(SIGKILL\)/)
  await tick(120)
  t.strictSame(w.signals, ['SIGKILL'], 'killed once')
  f.exit(w, null, 'SIGKILL')
  t.match(f.err[1], /exited \(signal SIGKILL\); starting another/)
  await tick(150)
  t.equal(f.workers.length, 3)
  p1.stop('graceful')
  f.exit(f.workers[2], 0)
  t.equal(await p1.done, 0)

  // --timeout 0: no heartbeat check.
  const g = fake()
  const p2 = await runPrimary(settings({ workers: 1, timeout: 0 }), g.io)
  g.clock.now = 1e9
  await tick(1100)
  t.strictSame(g.workers[0].signals, [])
  p2.stop('graceful')
  g.exit(g.workers[0], 0)
  await p2.done
})

test('the primary checks the binds before forking: a taken port is one error', async (t) => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as net.AddressInfo).port
  await t.rejects(runPrimary(settings({ port }), fake().io), { message: `127.0.0.1:${port} is already in use (EADDRINUSE): is another server running?` })
})
