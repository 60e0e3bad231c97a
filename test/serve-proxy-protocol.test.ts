// HAProxy 2.6 (send-proxy-v2, and send-proxy for v1) in front of `serve --proxy-protocol`: the
// client connects from a 127.0.0.x alias and whoami shows that address.
import { test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { cli } from './helpers/cli'
import { call } from './helpers/http'
import { freePort, waitListening } from './helpers/ports'
import { missing, runProxy, which, workDir } from './helpers/proxies'

const haproxy = which('haproxy')
const skip = missing('serve --proxy-protocol behind HAProxy', [haproxy, 'haproxy'])

test('HAProxy send-proxy / send-proxy-v2 in front of serve --proxy-protocol', { skip }, async (t) => {
  for (const [version, option] of [['v2', 'send-proxy-v2'], ['v1', 'send-proxy'], ['auto', 'send-proxy-v2']] as const) {
    const appPort = await freePort()
    const serve = spawn(process.execPath, [cli, 'serve', '--port', String(appPort), '--proxy-protocol', version, '--proxy-allow-from', '127.0.0.3', '--trust', '10.0.0.0/8', '--access-log', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise((resolve) => serve.on('close', resolve))
    t.teardown(async () => { serve.kill('SIGTERM'); await exited })
    const front = await freePort()
    const dir = workDir(t, 'fpf-serve-pp-')
    const conf = path.join(dir, 'haproxy.cfg')
    fs.writeFileSync(conf, [
      'global', '  maxconn 100',
      'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s',
      'listen front', `  bind 127.0.0.1:${front}`, `  server app 127.0.0.1:${appPort} ${option} source 127.0.0.3`, ''
    ].join('\n'))
    await waitListening(appPort, { name: 'serve' })
    await runProxy(t, 'haproxy', haproxy as string, ['-db', '-f', conf], front)
    const reply = await call(`http://127.0.0.1:${front}/`, '127.0.0.7', { accept: 'application/json', 'x-forwarded-for': '6.6.6.6' })
    t.equal(reply.status, 200, `${version}: answered`)
    t.equal(reply.body.corrected.ip, '127.0.0.7', `${version}: whoami shows the client's alias from the PROXY header, not its forged X-Forwarded-For`)
    t.equal(reply.body.socket.ip, '127.0.0.3', `${version}: and HAProxy as the TCP peer`)
    t.match(reply.body.hops, [{ address: '127.0.0.3', from: 'socket', role: 'trusted proxy' }, { address: '127.0.0.7', from: 'PROXY protocol', role: 'client' }, { address: '6.6.6.6', from: 'X-Forwarded-For', role: 'ignored' }], `${version}: the chain shows the PROXY hop`)
    const direct = await call(`http://127.0.0.1:${appPort}/`, '127.0.0.5', { accept: 'application/json' }).catch((err: Error) => err)
    t.ok(direct instanceof Error, `${version}: straight to serve from outside --proxy-allow-from: closed without a response`)
  }
})
