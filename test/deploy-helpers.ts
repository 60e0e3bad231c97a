// Helpers for test/deploy-recipes.test.ts: find a proxy binary, start it in the foreground on a
// free loopback port, and call through it from a chosen loopback address.
// (Named without .test so tap does not run it as a test file.)
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'

/** FPF_E2E_DISABLE=nginx,apache2 hides installed proxies (to test the skips). */
const disabled = new Set((process.env.FPF_E2E_DISABLE ?? '').split(',').map((s) => s.trim()))

export function which (name: string): string | null {
  if (disabled.has(name)) return null
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

/** The skip reason for a missing binary, or false when it is there. */
export function missing (bin: string | null, name: string, pkg: string): string | false {
  if (bin !== null) return false
  return `${name} not installed (or listed in FPF_E2E_DISABLE): apt-get install ${pkg} (.ci/run does)`
}

export async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** Starts a proxy in the foreground, stops it on teardown, and waits until `port` accepts connections. */
export async function run (t: Tap.Test, name: string, bin: string, args: string[], port: number, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  let log = ''
  proc.stdout?.on('data', (c) => { log += c })
  proc.stderr?.on('data', (c) => { log += c })
  const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()))
  t.teardown(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  const end = Date.now() + 15000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}: ${log}`)
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1')
      c.once('connect', () => { c.destroy(); resolve(true) })
      c.once('error', () => resolve(false))
    })
    if (up) return proc
    if (Date.now() > end) throw new Error(`${name} did not listen on ${port}: ${log}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface Reply { status: number, body: Record<string, any> }

/** One request from `localAddress`, with exactly these headers; the reply parsed as JSON. */
export function call (url: string, localAddress: string, headers: Record<string, string>): Promise<Reply> {
  const lib = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { localAddress, headers, agent: false, rejectUnauthorized: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode as number, body: JSON.parse(body) })
        } catch {
          reject(new Error(`${res.statusCode}: ${body}`))
        }
      })
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('request timed out')))
    req.end()
  })
}
