import { test } from 'tap'
import { freePort, request, serving, start } from './helpers/cli'
import { missing, nginxHttp, nginxMain, runNginx, which, workDir } from './helpers/proxies'

// serve behind a real nginx (Debian package): the access log names the client nginx saw, a
// loopback alias, and not nginx itself.

const nginx = which('nginx')

test('behind nginx: the access log shows the client from a 127.0.0.x alias', { skip: missing('serve behind nginx', [nginx, 'nginx']) }, async (t) => {
  const dir = workDir(t, 'fpf-nginx-')
  const appPort = await freePort()
  const ngPort = await freePort()
  // nginx connects from 127.0.0.2 (proxy_bind): the only address serve trusts.
  const run = start(t, ['serve', 'express-app.js', '-p', String(appPort), '--trust', '127.0.0.2'])
  await run.line(serving)
  await runNginx(t, nginx as string, dir, nginxMain(dir, nginxHttp(dir, `  server {
    listen 127.0.0.1:${ngPort};
    location / {
      proxy_pass http://127.0.0.1:${appPort};
      proxy_bind 127.0.0.2;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
`)), ngPort)
  const res = await request(`http://127.0.0.1:${ngPort}/via-nginx?x=1`, { localAddress: '127.0.0.7', headers: { 'x-forwarded-for': '6.6.6.6', 'user-agent': 'e2e-client' } })
  t.match(JSON.parse(res.body), { from: 'express', ip: '127.0.0.7', protocol: 'https' })
  await run.line(/"GET \/via-nginx\?x=1 HTTP\/1\.[01]"/)
  const line = run.err.find((l) => l.includes('/via-nginx')) as string
  t.match(line, /^127\.0\.0\.7 - - \[[^\]]+\] "GET \/via-nginx\?x=1 HTTP\/1\.[01]" 200 \d+ "-" "e2e-client" \d+\.\d{3}$/)
  t.notMatch(line, /6\.6\.6\.6|127\.0\.0\.2/, 'neither the spoofed entry nor nginx itself')
  run.proc.kill('SIGTERM')
  t.equal(await run.exit, 0)
})
