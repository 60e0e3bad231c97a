import type { Served, ServeOptions } from '../../types'
import { rangesCommand } from './ranges-command'
import cluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import path from 'node:path'
import { HELP } from './args'
import { bindText } from './bind-spec'
import { CliError, errorLine } from './cli-error'
import { checkKeys, describeSettings, loadSettings } from './config'
import { classify, guardListen, loadModule, type Loaded } from './load'
import { readTls, type ServerFactory } from './listen'
import { flagName, resolveSettings, type Settings } from './settings'
import { runPrimary, type ClusterLike, type WorkerLike } from './supervisor'
import { runServer, type Channel, type Runtime } from './worker'

export const ENV_SETTINGS = 'FASTIFY_PROXY_FIX_SERVE'

export interface MainIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
  cwd: string
  env: NodeJS.ProcessEnv
  signals: Pick<EventEmitter, 'on' | 'removeListener'>
  cluster: () => ClusterLike
}

export function version (): string {
  return (require(path.join(__dirname, '..', '..', 'package.json')) as { version: string }).version
}

/** Node's cluster, running workers from worker-main (never the primary's own entry point). */
export function realCluster (): ClusterLike {
  cluster.setupPrimary({ exec: path.join(__dirname, 'worker-main' + path.extname(__filename)), args: [] })
  return {
    fork: (settings) => cluster.fork({ [ENV_SETTINGS]: JSON.stringify(settings) }) as unknown as WorkerLike,
    on: (event, listener) => cluster.on(event, listener as never)
  }
}

/** --check-config: everything a start would check, without listening. */
async function checkAll (settings: Settings, cwd: string): Promise<void> {
  readTls(settings.certfile, settings.keyfile)
  if (settings.module === null) return
  const guard = guardListen(settings.module, cwd)
  try {
    await loadModule(settings.module, settings.exportName, cwd)
    await new Promise((resolve) => setImmediate(resolve))
    const refused = guard.refused()
    if (refused !== null) throw refused
  } finally {
    guard.release()
  }
}

/** The CLI: returns the exit code. Every failure is one line on stderr. */
export async function main (argv: string[], io: MainIo): Promise<number> {
  try {
    if (argv[0] === 'ranges') return await rangesCommand(argv.slice(1), io)
    const { command, resolved } = await loadSettings(argv, io.env, io.cwd, process.pid)
    if (command.help) {
      io.stdout(HELP)
      return 0
    }
    if (resolved === null) {
      io.stdout(`fastify-proxy-fix ${version()}`)
      return 0
    }
    const { settings, notes } = resolved
    if (command.checkConfig) {
      await checkAll(settings, io.cwd)
      io.stdout(describeSettings(settings))
      return 0
    }
    // Socket activation is for this process only: workers and the app's children must not see it.
    delete io.env.LISTEN_FDS
    delete io.env.LISTEN_PID
    for (const note of notes) io.stdout(`fastify-proxy-fix: ${note}`)
    if (settings.workers > 0) {
      const primary = await runPrimary(settings, { ...io, cluster: io.cluster(), now: Date.now })
      return await primary.done
    }
    const running = await runServer(settings, { ...io, channel: null, random: Math.random })
    return await running.done
  } catch (err) {
    io.stderr(errorLine(err))
    return 1
  }
}

/** A cluster worker: its settings come from the primary, its failures go back to it as one line. */
export async function workerMain (env: NodeJS.ProcessEnv, rt: Omit<Runtime, 'channel'> & { channel: Channel }): Promise<number> {
  try {
    const settings = JSON.parse(env[ENV_SETTINGS] as string) as Settings
    const running = await runServer(settings, rt)
    return await running.done
  } catch (err) {
    const line = errorLine(err)
    await new Promise<void>((resolve) => { rt.channel.send({ fpf: 'failed', message: line }); setImmediate(resolve) })
    return 1
  }
}

export type { Served }

/** Writes one line to a stream (stdout, stderr). */
export function lineWriter (stream: { write: (text: string) => unknown }): (line: string) => void {
  return (line) => { stream.write(line.endsWith('\n') ? line : line + '\n') }
}

export interface ServeInternals {
  env?: NodeJS.ProcessEnv
  signals?: Pick<EventEmitter, 'on' | 'removeListener'>
  cluster?: () => ClusterLike
  stdout?: (line: string) => void
  stderr?: (line: string) => void
  exit?: (code: number) => void
}

/**
 * The programmatic `serve`: the CLI's settings as an object. `app` is a module path (required
 * with workers: each worker loads it) or the app itself.
 */
export async function serve (options: ServeOptions, internals: ServeInternals = {}): Promise<Served> {
  if (options === null || typeof options !== 'object') throw new CliError('serve() needs an options object')
  const { app, serverFactory, signals: handleSignals, ...rest } = options
  checkKeys(rest, (key) => `serve option "${key}"`)
  let loaded: Loaded | undefined
  if (app !== undefined && typeof app !== 'string') {
    const found = classify(app)
    if (found === null) throw new CliError('serve option "app" must be a module path, an Express or Connect app, a (req, res, next) function or a Fastify plugin')
    loaded = found
  }
  if (serverFactory !== undefined && typeof serverFactory !== 'function') throw new CliError('serve option "serverFactory" must be a function')
  const { settings, notes } = resolveSettings({
    flags: {},
    flagNamer: flagName,
    file: typeof app === 'string' ? { ...rest, app } : rest,
    fileNamer: (key) => `serve option "${key}"`,
    env: internals.env ?? process.env,
    pid: process.pid
  })
  const stdout = internals.stdout ?? lineWriter(process.stdout)
  const stderr = internals.stderr ?? lineWriter(process.stderr)
  const signals = internals.signals ?? (handleSignals === false ? new EventEmitter() : process)
  const exit = internals.exit ?? process.exit.bind(process)
  for (const note of notes) stdout(`fastify-proxy-fix: ${note}`)
  let served: Served
  if (settings.workers > 0) {
    if (loaded !== undefined) throw new CliError('serve option "workers" needs "app" as a module path: each worker loads it')
    if (typeof settings.trust === 'function') throw new CliError('serve option "trust" cannot be a function with "workers": workers get their settings as JSON')
    const primary = await runPrimary(settings, { stdout, stderr, signals, cluster: (internals.cluster ?? realCluster)(), now: Date.now })
    served = { addresses: settings.binds.map(bindText), close: () => { primary.stop('graceful'); return primary.done }, done: primary.done }
  } else {
    const running = await runServer(settings, { stdout, stderr, cwd: process.cwd(), signals, channel: null, random: Math.random, loaded, serverFactory: serverFactory as ServerFactory | undefined })
    served = { addresses: running.listeners.map((l) => l.url), close: () => running.stop('graceful', 'close()'), done: running.done }
  }
  // As the CLI does: once a signal has drained the server, the process ends, whatever the app holds.
  if (handleSignals !== false) served.done.then(exit, exit)
  return served
}
