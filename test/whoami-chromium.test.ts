import { setTimeout as fileTimeout, test } from 'tap'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { freePort, serving, start } from './helpers/cli'
import { nginxHttp, nginxMain, runNginx, which, workDir } from './helpers/proxies'

// The whoami page in a real browser (Debian's chromium, headless) behind a real nginx that
// connects from 127.0.0.2: one case each for trusted, untrusted and spoofed. The assertions are on
// the DOM Chromium rendered. The screenshots (phone and desktop) go to FPF_SCREENSHOTS when set
// (the closing note's), else to a temporary directory.

const nginx = which('nginx')
const chromium = which('chromium')
const skip = chromium === null
  ? 'chromium is not installed (apt-get install chromium; .ci/run does)'
  : nginx === null ? 'nginx is not installed (apt-get install nginx; .ci/run does)' : false
if (skip !== false) console.log(`# whoami in Chromium skipped: ${skip}`)
const shots = process.env.FPF_SCREENSHOTS
// Three browser runs per case take longer than tap's 60 s per file (package.json): the file's own limit.
fileTimeout(600_000)

async function startNginx (t: Tap.Test, dir: string, appPort: number, xff: string): Promise<number> {
  const port = await freePort()
  await runNginx(t, nginx as string, dir, nginxMain(dir, nginxHttp(dir, `  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${appPort};
      proxy_bind 127.0.0.2;
      proxy_set_header X-Forwarded-For "${xff}";
      proxy_set_header X-Forwarded-Proto https;
    }
  }
`)), port)
  return port
}

function browse (dir: string, args: string[]): Promise<string> {
  const profile = fs.mkdtempSync(path.join(dir, 'chromium-'))
  return new Promise((resolve, reject) => {
    execFile(chromium as string, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout) => err === null ? resolve(stdout) : reject(err))
  })
}

interface Case { name: string, trust: string, xff: string, verdict: string, flags: RegExp, more: RegExp[] }

const cases: Case[] = [
  { name: 'trusted', trust: '127.0.0.2', xff: '$proxy_add_x_forwarded_for', verdict: 'ok', flags: /--trust 127\.0\.0\.2</, more: [/<span class="addr">127\.0\.0\.1<\/span><span class="from">X-Forwarded-For, hop 1<\/span><span class="role">client/] },
  { name: 'untrusted', trust: '', xff: '$proxy_add_x_forwarded_for', verdict: 'misconfigured', flags: /fastify-proxy-fix serve --trust 127\.0\.0\.2</, more: [/FPF_W_FORGOTTEN_PROXY/] },
  { name: 'spoofed', trust: 'true', xff: '6.6.6.6, $proxy_add_x_forwarded_for', verdict: 'spoofable', flags: /--trust 127\.0\.0\.2</, more: [/FPF_W_TRUST_ALL/, /<th>ip<\/th><td>6\.6\.6\.6<\/td>/] }
]

for (const c of cases) {
  test(`whoami in Chromium behind nginx: ${c.name}`, { skip, timeout: 180_000 }, async (t) => {
    const dir = workDir(t, 'fpf-whoami-')
    const appPort = await freePort()
    const run = start(t, ['serve', '-p', String(appPort), '--trust', c.trust, '--log-level', 'warn'])
    t.teardown(() => { run.proc.kill('SIGTERM') })
    await run.line(serving)
    const port = await startNginx(t, dir, appPort, c.xff)
    const url = `http://127.0.0.1:${port}/_whoami`
    const dom = await browse(dir, ['--dump-dom', url])
    t.match(dom, `data-verdict="${c.verdict}"`, 'the verdict banner')
    t.match(dom, /<pre id="suggest-flags">fastify-proxy-fix serve[^<]*<\/pre>/, 'the serve flags to copy')
    t.match(dom, c.flags, 'the suggestion')
    t.match(dom, /<pre id="suggest-options">\{/, 'the plugin options to copy')
    for (const re of c.more) t.match(dom, re)
    t.match(dom, /this server/, 'the chain ends at the server')
    for (const [label, size] of [['phone', '412,900'], ['desktop', '1280,900']]) {
      const file = path.join(shots ?? dir, `whoami-${c.name}-${label}.png`)
      await browse(dir, [`--screenshot=${file}`, `--window-size=${size}`, '--hide-scrollbars', url])
      t.ok(fs.statSync(file).size > 1000, `screenshot ${path.basename(file)}`)
    }
  })
}
