import type { FastifyInstance } from 'fastify'
import type { EventEmitter } from 'node:events'
import { buildApp } from './app'
import { guardListen, loadModule, type Loaded } from './load'
import { clearStaleSocket, drainListeners, Listener, listenOn, readTls, type ServerFactory } from './listen'
import { accessLog } from './logging'
import type { Settings } from './settings'

/** Messages between the primary and a worker (over the cluster IPC channel). */
export type ToPrimary =
  | { fpf: 'ready', urls: string[] }
  | { fpf: 'beat' }
  | { fpf: 'recycle', requests: number }
  | { fpf: 'failed', message: string }
export type ToWorker = { fpf: 'drain' } | { fpf: 'quit' }

/** The worker's end of the IPC channel (cluster.worker in real use). */
export interface Channel {
  send: (message: ToPrimary) => unknown
  on: (event: 'message' | 'disconnect', listener: (message?: unknown) => void) => unknown
}

export interface Runtime {
  stdout: (line: string) => void
  stderr: (line: string) => void
  cwd: string
  /** `process` in real use. */
  signals: Pick<EventEmitter, 'on' | 'removeListener'>
  /** Null: one process, no primary. */
  channel: Channel | null
  random: () => number
  /** An app object given to serve() instead of a module path. */
  loaded?: Loaded
  serverFactory?: ServerFactory
}

export interface Running {
  fastify: FastifyInstance
  listeners: Listener[]
  /** Resolves with the exit code once a drain has ended. */
  done: Promise<number>
  /** Starts a drain (once): graceful, or fast (in-flight requests cut). */
  stop: (how: 'graceful' | 'fast', why: string) => Promise<number>
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'] as const

function label (settings: Settings, loaded: Loaded): string {
  if (loaded.kind === 'whoami') return 'whoami'
  const name = settings.module === null ? 'the app' : settings.module + (settings.exportName === null ? '' : ':' + settings.exportName)
  return `${name} (${loaded.kind === 'plugin' ? 'Fastify plugin' : 'mounted app'})`
}

/** The request count after which this worker asks to be replaced: N plus a random 0..J. */
export function requestLimit (settings: Pick<Settings, 'maxRequests' | 'maxRequestsJitter'>, random: () => number): number {
  if (settings.maxRequests === 0) return 0
  return settings.maxRequests + Math.floor(random() * (settings.maxRequestsJitter + 1))
}

/**
 * Serves in this process (alone, or as a cluster worker): loads the module, builds the app,
 * listens on every bind, then serves until a signal or the primary says to drain.
 */
export async function runServer (settings: Settings, rt: Runtime): Promise<Running> {
  const prefix = `fastify-proxy-fix: [${process.pid}]`
  const channel = rt.channel
  let beat: NodeJS.Timeout | null = null
  if (channel !== null) {
    // The heartbeat comes from this event loop: a blocked loop goes silent and the primary kills it.
    const every = settings.timeout > 0 ? Math.min(1000, settings.timeout * 250) : 1000
    beat = setInterval(() => channel.send({ fpf: 'beat' }), every)
    beat.unref()
    channel.send({ fpf: 'beat' })
  }
  const guard = guardListen(settings.module ?? 'the app', rt.cwd)
  const listeners: Listener[] = []
  let fastify: FastifyInstance | null = null
  const log = accessLog(settings)
  let count = 0
  const limit = channel === null ? 0 : requestLimit(settings, rt.random)
  try {
    const loaded = rt.loaded ?? (settings.module === null ? { kind: 'whoami' as const } : await loadModule(settings.module, settings.exportName, rt.cwd))
    const onResponse = limit === 0
      ? undefined
      : () => { if (++count === limit) channel?.send({ fpf: 'recycle', requests: count }) }
    const built = await buildApp(settings, loaded, { tls: readTls(settings.certfile, settings.keyfile), accessLog: log, serverFactory: rt.serverFactory, onResponse })
    fastify = built.fastify
    for (let i = 0; i < settings.binds.length; i++) {
      const bind = settings.binds[i]
      if (bind.kind === 'unix' && channel === null) await clearStaleSocket(bind.path)
      const listener = new Listener(i === 0 ? built.server : built.makeServer(), bind)
      guard.allow(listener.server)
      listeners.push(listener)
      await listenOn(listener, settings.certfile !== null)
    }
    // A listen() of the app's own, even an async one that failed quietly, ends the server.
    await new Promise((resolve) => setImmediate(resolve))
    const refused = guard.refused()
    if (refused !== null) throw refused
    guard.release()

    const urls = listeners.map((l) => l.url)
    rt.stdout(`${prefix} serving ${label(settings, loaded)} on ${urls.join(', ')}`)
    channel?.send({ fpf: 'ready', urls })

    let finish!: (code: number) => void
    const done = new Promise<number>((resolve) => { finish = resolve })
    let stopping: Promise<number> | null = null
    const app = fastify
    const stop = (how: 'graceful' | 'fast', why: string): Promise<number> => {
      if (stopping !== null) return stopping
      stopping = (async () => {
        const grace = how === 'fast' ? 0 : settings.gracefulTimeout * 1000
        rt.stdout(how === 'fast'
          ? `${prefix} ${why}: fast stop, closing every connection`
          : `${prefix} ${why}: draining (at most ${settings.gracefulTimeout} s)`)
        built.state.draining = true
        const deadline = Date.now() + grace
        const clean = await drainListeners(listeners, Math.min(1000, grace), deadline)
        // The app's onClose hooks (database pools ...) get what is left of the grace period.
        const closed = await Promise.race([app.close().then(() => true, () => false), sleepUntil(deadline + (how === 'fast' ? 1000 : 0))])
        for (const s of SIGNALS) rt.signals.removeListener(s, handlers[s])
        if (beat !== null) clearInterval(beat)
        log?.flush()
        const ok = how === 'fast' || (clean && closed)
        if (!ok) rt.stderr(`${prefix} the graceful timeout (${settings.gracefulTimeout} s) ended the drain: ${clean ? 'the app\'s onClose hooks were still running' : 'connections were still open'}`)
        else rt.stdout(`${prefix} stopped`)
        finish(ok ? 0 : 1)
        return ok ? 0 : 1
      })()
      return stopping
    }
    const refuse = (signal: string, what: string) => (): void => {
      if (channel === null) rt.stdout(`${prefix} ${signal}: ${what} needs --workers (a primary to start and stop workers): ignored`)
    }
    const handlers: Record<typeof SIGNALS[number], () => void> = {
      SIGTERM: () => { stop('graceful', 'SIGTERM') },
      SIGINT: () => { stop('graceful', 'SIGINT') },
      SIGQUIT: () => { stop('fast', 'SIGQUIT') },
      SIGHUP: refuse('SIGHUP', 'a rolling reload'),
      SIGTTIN: refuse('SIGTTIN', 'adding a worker'),
      SIGTTOU: refuse('SIGTTOU', 'removing a worker'),
      SIGUSR1: () => {
        if (log !== null) log.reopen()
        if (channel === null) rt.stdout(`${prefix} SIGUSR1: reopened the log files`)
      }
    }
    for (const s of SIGNALS) rt.signals.on(s, handlers[s])
    channel?.on('message', (message) => {
      const m = message as ToWorker
      if (m?.fpf === 'drain') stop('graceful', 'asked by the primary')
      else if (m?.fpf === 'quit') stop('fast', 'asked by the primary')
    })
    // The primary is gone: nobody will send a drain.
    channel?.on('disconnect', () => { stop('graceful', 'the primary is gone') })
    return { fastify, listeners, done, stop }
  } catch (err) {
    guard.release()
    if (beat !== null) clearInterval(beat)
    for (const l of listeners) l.closeAll()
    for (const l of listeners) l.stopAccepting()
    if (fastify !== null) await fastify.close()
    log?.flush()
    throw err
  }
}

function sleepUntil (deadline: number): Promise<boolean> {
  return new Promise((resolve) => { setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())).unref() })
}
