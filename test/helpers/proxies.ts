// Real proxies for the end-to-end tests (nginx, HAProxy, Caddy, Apache httpd from Debian
// packages): find the binary, say why a test is skipped, run it in the foreground on loopback
// until the test ends, and the self-signed certificate the TLS ones need.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { waitListening } from './ports'

/** FPF_E2E_DISABLE=nginx,apache2 hides installed programs (to run without them, or test the skips). */
const disabled = new Set((process.env.FPF_E2E_DISABLE ?? '').split(',').map((s) => s.trim()))

/** The path of an executable on PATH or in an sbin directory; null when absent or disabled. */
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

/**
 * The skip reason when any of `needs` ([binary path or null, Debian package]) is absent, else
 * false; printed once as a TAP comment so a skipped run says why.
 */
export function missing (label: string, ...needs: Array<[string | null, string]>): string | false {
  const absent = needs.filter(([bin]) => bin === null).map(([, pkg]) => pkg)
  if (absent.length === 0) return false
  const reason = `${label}: not installed (or listed in FPF_E2E_DISABLE): apt-get install ${absent.join(' ')} (.ci/run does)`
  console.log(`# skipped: ${reason}`)
  return reason
}

/**
 * Starts `bin` in the foreground, stops it (SIGTERM, then SIGKILL after 5 s) on teardown, and
 * waits until every port in `ports` accepts connections; throws with its output if it exits first.
 */
export async function runProxy (t: Tap.Test, name: string, bin: string, args: string[], ports: number | number[], env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
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
  const dead = (): string | null => proc.exitCode === null ? null : `${name} exited with ${proc.exitCode}: ${log}`
  for (const port of [ports].flat()) {
    await waitListening(port, { name, dead }).catch((err: Error) => { throw new Error(`${err.message}: ${log}`) })
  }
  return proc
}

/** nginx's main configuration around `body` (http or stream blocks), with every file in `dir`. */
export function nginxMain (dir: string, body: string, { errorLog = 'error.log', connections = 64, modules = [] as string[] } = {}): string {
  return `${modules.map((m) => `load_module ${m};\n`).join('')}daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/${errorLog} warn;
events { worker_connections ${connections}; }
${body}`
}

/** An nginx http block around `servers`, its temporary files in `dir`. */
export function nginxHttp (dir: string, servers: string): string {
  return `http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}}
`
}

/** Writes `conf` to dir/nginx.conf and runs nginx with it until the test ends. */
export async function runNginx (t: Tap.Test, bin: string, dir: string, conf: string, ports: number | number[], errorLog = 'error.log'): Promise<ChildProcess> {
  const file = path.join(dir, 'nginx.conf')
  fs.writeFileSync(file, conf)
  return await runProxy(t, 'nginx', bin, ['-p', dir, '-c', file, '-e', path.join(dir, errorLog)], ports)
}

/** A self-signed certificate for `cn`, made with openssl in `dir`: the key and cert file paths. */
export function selfSigned (openssl: string, dir: string, cn = 'localhost'): { key: string, cert: string } {
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${cn}`, '-days', '1'], { stdio: 'ignore' })
  return { key, cert }
}

/** A temporary directory for a proxy's files, removed when the test ends. */
export function workDir (t: Tap.Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}
