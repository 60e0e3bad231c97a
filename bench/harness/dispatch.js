'use strict'

// Requests without sockets: each one is an IncomingMessage handed straight to the server's
// 'request' event, and its response is written into a sink. What is left is the JavaScript a
// server runs per request (routing, hooks, the app, the proxy work): no kernel socket work and no
// HTTP parsing, which every server pays alike and which dilutes the paired rows' ratios.
const http = require('node:http')
const net = require('node:net')
const { Writable } = require('node:stream')

const PEER = '127.0.0.1'

function fakeSocket () {
  const s = new net.Socket()
  Object.defineProperty(s, 'remoteAddress', { value: PEER })
  Object.defineProperty(s, 'remotePort', { value: 50000 })
  return s
}

const sink = () => new Writable({ write (c, e, cb) { cb() }, writev (c, cb) { cb() } })

/** The request or response class the server was created with (Node keeps it under a symbol). */
function classOf (server, name, fallback) {
  const key = Object.getOwnPropertySymbols(server).find((k) => k.description === name)
  return key === undefined ? fallback : server[key]
}

/** A function that runs `n` requests of `spec` through `server` and resolves the CPU µs they took. */
function dispatcher (server, spec) {
  // as the server itself would make them (expressHttpOptions gives it classes of its own)
  const Request = classOf(server, 'IncomingMessage', http.IncomingMessage)
  const Response = classOf(server, 'ServerResponse', http.ServerResponse)
  const socket = fakeSocket()
  // as a real connection would: the server (and proxyFix's peer capture) see it arrive once
  server.emit('connection', socket)
  const headers = { host: 'bench.internal', ...spec.headers }
  const rawHeaders = Object.entries(headers).flat()
  let done = 0
  let failed = null
  const finished = function () {
    done++
    if (this.statusCode !== 200 && failed === null) failed = new Error(`${spec.path}: a response was ${this.statusCode}`)
  }
  function one () {
    const req = new Request(socket)
    req.method = 'GET'
    req.url = spec.path
    req.httpVersion = '1.1'
    req.httpVersionMajor = 1
    req.httpVersionMinor = 1
    req.headers = { ...headers }
    req.rawHeaders = rawHeaders
    req.complete = true
    req.push(null)
    const res = new Response(req)
    res.assignSocket(sink())
    res.on('finish', finished)
    server.emit('request', req, res)
  }
  return async function run (n) {
    const t0 = process.cpuUsage()
    const target = done + n
    for (let i = 0; i < n; i++) {
      one()
      // let responses that wait on the event loop finish, as a connection's turn would
      if (i % 64 === 63) await new Promise(setImmediate)
    }
    // the responses finish on later turns of the event loop (done and failed change meanwhile)
    for (;;) {
      if (done >= target || failed !== null) break
      await new Promise(setImmediate)
    }
    if (failed !== null) throw failed
    const t = process.cpuUsage(t0)
    return t.user + t.system
  }
}

module.exports = { dispatcher }
