import fs from 'node:fs'
import path from 'node:path'
import { parseCommandLine, type CommandLine } from './args'
import { bindText } from './bind-spec'
import { CliError } from './cli-error'
import { importFile } from './load'
import { flagName, KEYS, resolveSettings, type Key, type Resolved, type Settings } from './settings'

/** Reads a config file: JSON, or a CommonJS/ESM module exporting the settings object (or a function returning it). */
export async function readConfigFile (spec: string, cwd: string): Promise<Record<string, unknown>> {
  const file = path.resolve(cwd, spec)
  let value: unknown
  if (file.endsWith('.json')) {
    let source: string
    try {
      source = fs.readFileSync(file, 'utf8')
    } catch {
      throw new CliError(`--config ${JSON.stringify(spec)}: cannot read ${file}`)
    }
    try {
      value = JSON.parse(source)
    } catch (err) {
      throw new CliError(`--config ${JSON.stringify(spec)}: not valid JSON: ${(err as Error).message}`)
    }
  } else {
    const ns = await importFile(spec, cwd)
    value = ns.default
    if (typeof value === 'function') value = await (value as () => unknown)()
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(`--config ${JSON.stringify(spec)}: must give an object of settings`)
  }
  return checkKeys(value as Record<string, unknown>, (key) => `"${key}" in ${spec}`)
}

/** Refuses unknown settings, naming them in the source's own words. */
export function checkKeys (value: Record<string, unknown>, name: (key: string) => string): Record<string, unknown> {
  for (const key of Object.keys(value)) {
    if (!(KEYS as readonly string[]).includes(key)) throw new CliError(`${name(key)} is not a setting of serve (settings: ${KEYS.join(', ')})`)
  }
  return value
}

export interface Loaded {
  command: CommandLine
  resolved: Resolved | null
}

/** The command line, the config file and the environment, merged into the effective settings. */
export async function loadSettings (argv: string[], env: NodeJS.ProcessEnv, cwd: string, pid: number): Promise<Loaded> {
  const command = parseCommandLine(argv)
  if (command.help || command.version) return { command, resolved: null }
  const file = command.config === null ? {} : await readConfigFile(command.config, cwd)
  const config = command.config
  const resolved = resolveSettings({
    flags: command.flags,
    flagNamer: (key: Key) => command.spelled[key] as string,
    file,
    fileNamer: (key: Key) => `"${key}" in ${config}`,
    env,
    pid
  })
  return { command, resolved }
}

/** The effective settings, one per line, as --check-config prints them. */
export function describeSettings (s: Settings): string {
  const rows: Array<[string, unknown]> = [
    ['module', s.module === null ? '(whoami page)' : s.module + (s.exportName === null ? '' : ':' + s.exportName)],
    ['bind', s.binds.map(bindText).join(' ')],
    ['workers', s.workers === 0 ? '0 (one process)' : s.workers]
  ]
  const skip = new Set(['module', 'exportName', 'binds', 'workers'])
  for (const [key, value] of Object.entries(s)) {
    if (skip.has(key)) continue
    rows.push([key, value])
  }
  return rows.map(([k, v]) => `${flagName(k).slice(2).padEnd(20)} ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n')
}
