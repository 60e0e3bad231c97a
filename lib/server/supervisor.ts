import type { EventEmitter } from 'node:events'
import { bindText } from './bind-spec'
import { checkBind } from './listen'
import type { Settings } from './settings'
import type { ToPrimary, ToWorker } from './worker'

export interface WorkerLike {
  id: number
  process: { pid?: number, kill: (signal?: NodeJS.Signals) => unknown }
  send: (message: ToWorker) => unknown
  on: (event: 'message' | 'error', listener: (message: unknown) => void) => unknown
}

export interface ClusterLike {
  /** Starts a worker with these settings (the real one passes them in the environment). */
  fork: (settings: Settings) => WorkerLike
  on: (event: 'exit', listener: (worker: WorkerLike, code: number | null, signal: string | null) => void) => unknown
}

export interface PrimaryIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
  /** `process` in real use. */
  signals: Pick<EventEmitter, 'on' | 'removeListener'>
  cluster: ClusterLike
  now: () => number
}

export interface RestartPolicy {
  /** Crashes counted within this window. */
  windowMs: number
  /** More crashes than this within the window: give up. */
  maxCrashes: number
  baseDelayMs: number
  maxDelayMs: number
}

export const RESTART: RestartPolicy = { windowMs: 60_000, maxCrashes: 10, baseDelayMs: 100, maxDelayMs: 5_000 }

/** The delay before restarting after a crash at `now`, or null for a restart storm. Prunes `crashes`. */
export function restartDelay (crashes: number[], now: number, policy: RestartPolicy = RESTART): number | null {
  crashes.push(now)
  while (crashes[0] <= now - policy.windowMs) crashes.shift()
  if (crashes.length > policy.maxCrashes) return null
  return Math.min(policy.baseDelayMs * 2 ** (crashes.length - 1), policy.maxDelayMs)
}

interface Slot {
  worker: WorkerLike
  pid: number
  state: 'starting' | 'ready' | 'draining'
  lastBeat: number
  /** The worker this one replaces once ready (reload, recycle). */
  replaces: Slot | null
  replacement: Slot | null
  failure: string | null
}

/** The heartbeat limit of a worker still loading the app, when --timeout is shorter. */
export const STARTUP_S = 10

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'] as const

export interface Primary {
  /** Resolves with the exit code once every worker has exited. */
  done: Promise<number>
  /** Stops like TERM (graceful) or QUIT (fast). */
  stop: (how: 'graceful' | 'fast') => void
}

/**
 * The pre-fork primary. It never loads the app: it starts workers, watches their heartbeat,
 * replaces crashed, blocked and recycled workers, and turns signals into rolling changes.
 */
export async function runPrimary (settings: Settings, io: PrimaryIo, policy: RestartPolicy = RESTART): Promise<Primary> {
  // What would make every worker fail is checked once, here.
  for (const bind of settings.binds) await checkBind(bind)
  const me = `fastify-proxy-fix: primary [${process.pid}]`
  const slots = new Map<number, Slot>()
  const crashes: number[] = []
  let target = settings.workers
  let everReady = false
  let stopping: 'graceful' | 'fast' | null = null
  let code = 0
  let finish!: (code: number) => void
  const done = new Promise<number>((resolve) => { finish = resolve })
  const timers = new Set<NodeJS.Timeout>()
  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => { timers.delete(t); fn() }, ms)
    timers.add(t)
  }

  const fork = (replaces: Slot | null): void => {
    const worker = io.cluster.fork(settings)
    const slot: Slot = { worker, pid: worker.process.pid as number, state: 'starting', lastBeat: io.now(), replaces, replacement: null, failure: null }
    if (replaces !== null) replaces.replacement = slot
    slots.set(worker.id, slot)
    worker.on('message', (message) => onMessage(slot, message as ToPrimary))
    // A worker that is exiting has closed its channel: a message to it fails with EPIPE, harmlessly.
    worker.on('error', () => {})
  }
  const drain = (slot: Slot): void => {
    slot.state = 'draining'
    slot.worker.send({ fpf: 'drain' })
    // The worker ends its own drain at the graceful timeout; this is for one that cannot.
    later(() => {
      if (!slots.has(slot.worker.id)) return
      io.stderr(`${me}: worker ${slot.pid} still running ${settings.gracefulTimeout + 5} s after its drain began: killing it (SIGKILL)`)
      slot.worker.process.kill('SIGKILL')
    }, (settings.gracefulTimeout + 5) * 1000)
  }
  const onMessage = (slot: Slot, m: ToPrimary): void => {
    if (m === null || typeof m !== 'object') return
    if (m.fpf === 'beat') slot.lastBeat = io.now()
    else if (m.fpf === 'failed') slot.failure = m.message
    else if (m.fpf === 'ready') {
      slot.lastBeat = io.now()
      everReady = true
      if (slot.state !== 'starting') return
      slot.state = 'ready'
      const old = slot.replaces
      if (stopping !== null) drain(slot)
      else if (old !== null && slots.has(old.worker.id) && old.state === 'ready') {
        io.stdout(`${me}: worker ${slot.pid} is ready: draining worker ${old.pid}, which it replaces`)
        drain(old)
      }
    } else if (m.fpf === 'recycle') {
      if (stopping !== null || slot.state !== 'ready' || slot.replacement !== null) return
      io.stdout(`${me}: worker ${slot.pid} served ${m.requests} requests (--max-requests): starting its replacement`)
      fork(slot)
    }
  }
  const end = (): void => {
    for (const s of SIGNALS) io.signals.removeListener(s, handlers[s])
    clearInterval(heartbeat)
    for (const t of timers) clearTimeout(t)
    io.stdout(`${me}: every worker has stopped (exit ${code})`)
    finish(code)
  }
  const stop = (how: 'graceful' | 'fast'): void => {
    if (stopping !== null && (stopping === 'fast' || how === 'graceful')) return
    stopping = how
    for (const slot of slots.values()) {
      if (how === 'fast') {
        slot.worker.send({ fpf: 'quit' })
        later(() => { if (slots.has(slot.worker.id)) slot.worker.process.kill('SIGKILL') }, 2000)
      } else if (slot.state === 'starting') {
        // Not listening yet: it drains as soon as it is ready.
      } else if (slot.state === 'ready') {
        drain(slot)
      }
    }
    if (slots.size === 0) end()
  }
  io.cluster.on('exit', (worker, exitCode, signal) => {
    const slot = slots.get(worker.id)
    if (slot === undefined) return
    slots.delete(worker.id)
    if (slot.replaces !== null) slot.replaces.replacement = null
    if (slot.replacement !== null) slot.replacement.replaces = null
    const how = signal !== null ? `signal ${signal}` : `code ${exitCode}`
    if (stopping !== null) {
      if (exitCode !== 0 && stopping === 'graceful') code = 1
      if (slots.size === 0) end()
      return
    }
    if (slot.state === 'draining') return
    if (slot.state === 'starting' && !everReady) {
      // The app cannot start: say why once, and end the server.
      io.stderr(slot.failure ?? `${me}: worker ${slot.pid} exited (${how}) before any worker was ready`)
      code = 1
      stopping = 'fast'
      for (const other of slots.values()) other.worker.process.kill('SIGKILL')
      if (slots.size === 0) end()
      return
    }
    if (slot.state === 'starting' && slot.replaces !== null) {
      io.stderr(`${me}: the fresh worker ${slot.pid} failed (${slot.failure ?? how}): worker ${slot.replaces.pid} keeps serving`)
      return
    }
    const delay = restartDelay(crashes, io.now(), policy)
    if (delay === null) {
      io.stderr(`${me}: workers exited more than ${policy.maxCrashes} times in ${policy.windowMs / 1000} s: giving up`)
      code = 1
      stop('graceful')
      return
    }
    io.stderr(`${me}: worker ${slot.pid} exited (${slot.failure ?? how}); starting another in ${delay} ms`)
    later(() => { if (stopping === null) fork(null) }, delay)
  })

  const live = (): Slot[] => [...slots.values()].filter((s) => s.state !== 'draining')
  const handlers: Record<typeof SIGNALS[number], () => void> = {
    SIGTERM: () => { io.stdout(`${me}: SIGTERM: graceful stop`); stop('graceful') },
    SIGINT: () => { io.stdout(`${me}: SIGINT: graceful stop`); stop('graceful') },
    SIGQUIT: () => { io.stdout(`${me}: SIGQUIT: fast stop`); stop('fast') },
    SIGHUP: () => {
      if (stopping !== null) return
      const old = live().filter((s) => s.state === 'ready' && s.replacement === null)
      if (old.length === 0) {
        io.stdout(`${me}: SIGHUP: ignored: the fresh workers of a reload are still starting`)
        return
      }
      io.stdout(`${me}: SIGHUP: rolling reload: starting ${old.length} fresh worker${old.length === 1 ? '' : 's'}, then draining the old ones`)
      for (const slot of old) fork(slot)
    },
    SIGTTIN: () => {
      if (stopping !== null) return
      target++
      io.stdout(`${me}: SIGTTIN: one worker more (${target})`)
      fork(null)
    },
    SIGTTOU: () => {
      if (stopping !== null) return
      const ready = live().filter((s) => s.state === 'ready')
      if (target <= 1 || ready.length === 0) {
        io.stdout(`${me}: SIGTTOU: ignored, ${target} worker${target === 1 ? ' is' : 's are'} the least`)
        return
      }
      target--
      io.stdout(`${me}: SIGTTOU: one worker fewer (${target}): draining worker ${ready[0].pid}`)
      drain(ready[0])
    },
    SIGUSR1: () => {
      io.stdout(`${me}: SIGUSR1: workers reopen their log files`)
      for (const slot of slots.values()) slot.worker.process.kill('SIGUSR1')
    }
  }
  for (const s of SIGNALS) io.signals.on(s, handlers[s])
  // Node's worker.kill() cannot stop a blocked event loop: silence is the sign, SIGKILL the cure.
  const heartbeat = setInterval(() => {
    if (settings.timeout === 0) return
    const now = io.now()
    for (const slot of slots.values()) {
      // Loading an app blocks on require() for a while: a starting worker gets at least STARTUP_S.
      const limit = slot.state === 'starting' ? Math.max(settings.timeout, STARTUP_S) : settings.timeout
      if (now - slot.lastBeat <= limit * 1000) continue
      io.stderr(`${me}: worker ${slot.pid} sent no heartbeat for ${((now - slot.lastBeat) / 1000).toFixed(1)} s (--timeout ${settings.timeout}${slot.state === 'starting' ? `, at least ${STARTUP_S} s while starting` : ''}): killing it (SIGKILL)`)
      slot.lastBeat = Infinity
      slot.worker.process.kill('SIGKILL')
    }
  }, settings.timeout > 0 ? Math.min(500, settings.timeout * 250) : 1000)
  heartbeat.unref()
  io.stdout(`${me}: starting ${target} worker${target === 1 ? '' : 's'} on ${settings.binds.map(bindText).join(', ')}`)
  for (let i = 0; i < target; i++) fork(null)
  return { done, stop }
}
