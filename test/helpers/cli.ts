// Helpers for the tests that run the built CLI for real, with real signals (npm test builds
// before tap; a missing build is made here).
import type { Test } from 'tap'
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
export { freePort } from './ports'
export { request } from './http'

export const root = path.join(__dirname, '..', '..')
export const cli = path.join(root, 'dist', 'cli.js')
export const fixtures = path.join(root, 'test', 'fixtures')
if (!fs.existsSync(cli)) execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')])

export interface Run {
  proc: ChildProcess
  out: string[]
  err: string[]
  exit: Promise<number | null>
  /** Resolves with the first match of `re` in stdout and stderr. */
  line: (re: RegExp, from?: number) => Promise<RegExpExecArray>
  count: (re: RegExp) => number
}

export interface StartOptions { env?: NodeJS.ProcessEnv, stdio?: StdioOptions, command?: string[] }

export function start (t: Test, args: string[], opts: StartOptions = {}): Run {
  const env = { ...process.env, ...opts.env }
  for (const key of ['PORT', 'HOST', 'WEB_CONCURRENCY', 'FORWARDED_ALLOW_IPS', 'LISTEN_FDS', 'LISTEN_PID']) if (opts.env?.[key] === undefined) delete env[key]
  const command = opts.command ?? [process.execPath, cli]
  const proc = spawn(command[0], [...command.slice(1), ...args], { cwd: fixtures, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], env })
  const out: string[] = []
  const err: string[] = []
  const split = (into: string[]) => {
    let rest = ''
    return (chunk: Buffer): void => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() as string
      into.push(...lines)
    }
  }
  ;(proc.stdout as NodeJS.ReadableStream).on('data', split(out))
  ;(proc.stderr as NodeJS.ReadableStream).on('data', split(err))
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)))
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const all = (): string[] => [...out, ...err]
  const line = async (re: RegExp, from = 0): Promise<RegExpExecArray> => {
    const end = Date.now() + 30000
    for (;;) {
      const lines = all()
      for (let i = from; i < lines.length; i++) {
        const m = re.exec(lines[i])
        if (m !== null) return m
      }
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`no ${re} in: ${all().join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return { proc, out, err, exit, line, count: (re) => all().filter((l) => re.test(l)).length }
}

/** autocannon against url for `seconds`, calling during() once it runs; returns the failures. */
export async function load (url: string, seconds: number, during: () => void): Promise<{ requests: number, failed: number }> {
  const autocannon = require('autocannon')
  const run = autocannon({ url, connections: 20, duration: seconds })
  during()
  const r = await run
  return { requests: r.requests.total, failed: r.errors + r.timeouts + r.non2xx }
}

export const serving = /serving .* on (http:\S+?)(,|$)/
