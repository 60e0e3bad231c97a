import { test } from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freePort, request, serving, start } from './cli-helpers'

// serve behind a real nginx (Debian package): the access log names the client nginx saw, a
// loopback alias, and not nginx itself.

function which (name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

const nginx = (process.env.FPF_E2E_DISABLE ?? '').split(',').includes('nginx') ? null : which('nginx')

test('behind nginx: the access log shows the client from a 127.0.0.x alias', { skip: nginx === null ? 'nginx is not installed (apt-get install nginx; .ci/run does)' : false }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpf-nginx-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const appPort = await freePort()
  const ngPort = await freePort()
  // nginx connects from 127.0.0.2 (proxy_bind): the only address serve trusts.
  const run = start(t, ['serve', 'express-app.js', '-p', String(appPort), '--trust', '127.0.0.2'])
  await run.line(serving)
  const conf = path.join(dir, 'nginx.conf')
  fs.writeFileSync(conf, `daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${ngPort};
    location / {
      proxy_pass http://127.0.0.1:${appPort};
      proxy_bind 127.0.0.2;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
`)
  const proc = spawn(nginx as string, ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'ignore' })
  const exited = new Promise((resolve) => proc.on('close', resolve))
  t.teardown(async () => { proc.kill('SIGTERM'); await exited })
  for (let i = 0; i < 300; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(ngPort, '127.0.0.1')
      c.once('connect', () => { c.destroy(); resolve(true) })
      c.once('error', () => resolve(false))
    })
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const res = await request(`http://127.0.0.1:${ngPort}/via-nginx?x=1`, { localAddress: '127.0.0.7', headers: { 'x-forwarded-for': '6.6.6.6', 'user-agent': 'e2e-client' } })
  t.match(JSON.parse(res.body), { from: 'express', ip: '127.0.0.7', protocol: 'https' })
  await run.line(/"GET \/via-nginx\?x=1 HTTP\/1\.[01]"/)
  const line = run.err.find((l) => l.includes('/via-nginx')) as string
  t.match(line, /^127\.0\.0\.7 - - \[[^\]]+\] "GET \/via-nginx\?x=1 HTTP\/1\.[01]" 200 \d+ "-" "e2e-client" \d+\.\d{3}$/)
  t.notMatch(line, /6\.6\.6\.6|127\.0\.0\.2/, 'neither the spoofed entry nor nginx itself')
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
})
