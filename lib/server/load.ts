import type { FastifyPluginAsync } from 'fastify'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MountableApp, MountHandler } from '../mount/mount-app'
import { CliError } from './cli-error'

/** What a module gave: an app to mount, or a Fastify plugin to register. */
export type Loaded =
  | { kind: 'mount', app: MountableApp }
  | { kind: 'plugin', plugin: FastifyPluginAsync }
  | { kind: 'whoami' }

const META = [Symbol.for('plugin-meta'), Symbol.for('skip-override'), Symbol.for('fastify.display-name')]

export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'function') return `a function of ${value.length} parameter${value.length === 1 ? '' : 's'}`
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function isAsync (fn: Function): boolean {
  return fn.constructor.name === 'AsyncFunction'
}

/**
 * Tells what an export is:
 * - an object or function with a `handle` method (Express, Connect, express.Router) ⇒ mounted;
 * - a function carrying fastify-plugin metadata, or an `async` function of at most 2 parameters
 *   (`async (fastify, opts) => {}`) ⇒ a Fastify plugin;
 * - any other function of 2 or 3 parameters ⇒ a Connect handler `(req, res[, next])`.
 * A callback-style plugin `(fastify, opts, done)` looks exactly like `(req, res, next)`: wrap it
 * with fastify-plugin or export it as `plugin`.
 */
export function classify (value: unknown): Loaded | null {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return null
  const record = value as Record<string | symbol, unknown>
  if (typeof record.handle === 'function') return { kind: 'mount', app: value as { handle: MountHandler } }
  if (typeof value !== 'function') return null
  if (META.some((s) => record[s] !== undefined) || (isAsync(value) && value.length <= 2)) {
    return { kind: 'plugin', plugin: value as FastifyPluginAsync }
  }
  if (value.length === 2 || value.length === 3) return { kind: 'mount', app: value as MountHandler }
  return null
}

// tsc compiles import() to require() for CommonJS output, which cannot load ESM: keep a real one.
// eslint-disable-next-line no-new-func
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>

// This package's own frames: the build, or the sources when stacks are source-mapped.
const OWN_DIRS = [path.join(__dirname, '..'), path.join(__dirname, '..', '..', 'lib')].map((d) => d + path.sep)

/** `file:line` of the first frame in the user's code (not Node's, not a dependency's, not ours), relative to cwd. */
export function whereIn (stack: unknown, cwd: string): string | null {
  if (typeof stack !== 'string') return null
  const re = /(?:^|[\s(])(?:file:\/\/)?(\/[^\s():]+):(\d+)/gm
  for (let m = re.exec(stack); m !== null; m = re.exec(stack)) {
    const file = decodeURIComponent(m[1])
    if (file.includes('/node_modules/') || OWN_DIRS.some((d) => file.startsWith(d))) continue
    return `${path.relative(cwd, file) || file}:${m[2]}`
  }
  return null
}

/** An import that failed: the file, its first message line and where in the user's code. */
export function loadError (spec: string, err: unknown, cwd: string): CliError {
  if (err instanceof CliError) return err
  const e = err as { message?: unknown, stack?: unknown }
  const first = String(typeof e?.message === 'string' ? e.message : err).split('\n')[0]
  const where = whereIn(e?.stack, cwd)
  return new CliError(`cannot load ${spec}: ${first}${where === null ? '' : ` (${where})`}`)
}

/** Loads a file for its namespace (CommonJS or ESM), relative to cwd. */
export async function importFile (spec: string, cwd: string): Promise<Record<string, unknown>> {
  const file = path.resolve(cwd, spec)
  if (!fs.existsSync(file)) throw new CliError(`cannot find ${spec} (looked for ${file})`)
  try {
    return await importModule(pathToFileURL(file).href)
  } catch (err) {
    throw loadError(spec, err, cwd)
  }
}

/** Loads a module and picks the app: the named export, a `plugin`, the default, or `app`. */
export async function loadModule (spec: string, exportName: string | null, cwd: string): Promise<Loaded> {
  const ns = await importFile(spec, cwd)
  let main = ns.default as Record<string, unknown> | undefined
  // A CommonJS module compiled from ESM (exports.default with __esModule).
  if (main !== null && typeof main === 'object' && main.__esModule === true && 'default' in main) main = main.default as Record<string, unknown>
  const named = (name: string): unknown => ns[name] ?? (main !== null && typeof main === 'object' ? main[name] : undefined)
  if (exportName !== null) {
    const value = named(exportName)
    const found = classify(value)
    if (found === null) throw new CliError(`${spec}:${exportName} is not an app: expected an Express or Connect app, a (req, res, next) function or a Fastify plugin (found ${value === undefined ? 'no such export' : describe(value)})`)
    return found
  }
  const plugin = named('plugin')
  if (typeof plugin === 'function') return { kind: 'plugin', plugin: plugin as FastifyPluginAsync }
  const found = classify(main) ?? classify(named('app'))
  if (found === null) {
    throw new CliError(`${spec} does not export an app: expected an Express or Connect app, a (req, res, next) function or a Fastify plugin as the default export or as "app" (found ${describe(main)})`)
  }
  return found
}

/** Thrown into a module that calls listen() itself while being served. */
export class OwnListenError extends CliError {}

export interface ListenGuard {
  /** Servers allowed to listen: serve's own. */
  allow: (server: object) => void
  /** The first refused listen() call, as a one-line error. */
  refused: () => OwnListenError | null
  release: () => void
}

/**
 * While the module loads and until serve listens, any other listen() is refused: a listener of the
 * app's own would bypass proxyFix. The caller's file and line come from the stack.
 */
export function guardListen (spec: string, cwd: string): ListenGuard {
  const proto = net.Server.prototype as unknown as { listen: (...args: unknown[]) => unknown }
  const original = proto.listen
  const allowed = new WeakSet<object>()
  let first: OwnListenError | null = null
  proto.listen = function (this: object, ...args: unknown[]) {
    if (allowed.has(this)) return original.apply(this, args)
    const where = whereIn(new Error().stack, cwd)
    const err = new OwnListenError(`${spec} calls listen()${where === null ? '' : ` at ${where}`} while being served: export the app (module.exports = app, or a Fastify plugin) and do not call listen(); serve binds the addresses itself, behind proxyFix`)
    first ??= err
    throw err
  }
  // An async listen (fastify.listen()) rejects with the error above: it is reported once, by serve.
  const swallow = (reason: unknown): void => {
    if (!(reason instanceof OwnListenError)) throw reason
  }
  process.on('unhandledRejection', swallow)
  return {
    allow: (server) => { allowed.add(server) },
    refused: () => first,
    release: () => {
      proto.listen = original
      process.removeListener('unhandledRejection', swallow)
    }
  }
}
