'use strict'

// A small keep-alive HTTP/1.1 load client on raw sockets. Every response of a variant has the same
// size (fixed body, fixed-width Date), so the client counts bytes instead of parsing: it costs the
// load CPU little, and it checks each response's status line. At most one request is in flight per
// connection; the pacer (pace.js) decides when the next one goes.
const net = require('node:net')

const HOST = '127.0.0.1'

function requestBytes (spec) {
  let head = `GET ${spec.path} HTTP/1.1\r\nHost: bench.internal\r\n`
  for (const [k, v] of Object.entries(spec.headers)) head += `${k}: ${v}\r\n`
  return Buffer.from(head + '\r\n', 'latin1')
}

const proxyLine = (i) => `PROXY TCP4 198.51.100.${(i % 250) + 1} 127.0.0.1 ${50000 + i} 80\r\n`

/** One request on a fresh connection: { status, size, body }. Refuses chunked or unsized replies. */
function fetchOnce (port, spec) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST)
    let data = Buffer.alloc(0)
    const timer = setTimeout(() => s.destroy(new Error('no answer within 5 s')), 5000)
    s.on('data', (c) => {
      data = Buffer.concat([data, c])
      const text = data.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end === -1) return
      const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))
      if (m === null) return s.destroy(new Error(`${spec.path}: a reply without Content-Length: ${text.slice(0, end)}`))
      const size = end + 4 + Number(m[1])
      if (data.length < size) return
      clearTimeout(timer)
      s.destroy()
      resolve({ status: Number(text.slice(9, 12)), size, body: text.slice(end + 4, size) })
    })
    s.on('error', (err) => { clearTimeout(timer); reject(err) })
    s.write((spec.proxyProtocol ? proxyLine(0) : '') + requestBytes(spec).toString('latin1'))
  })
}

/**
 * `count` keep-alive connections to one server. `send()` issues a request on an idle connection
 * (false when none is idle); `onResponse` runs after each complete response.
 */
class Pool {
  constructor (port, spec, size, count) {
    this.request = requestBytes(spec)
    this.size = size
    this.idle = []
    this.conns = []
    this.inFlight = 0
    this.responses = 0
    this.error = null
    this.onResponse = () => {}
    this.ready = Promise.all(Array.from({ length: count }, (_, i) => this.open(port, spec, i)))
  }

  open (port, spec, i) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, HOST)
      s.setNoDelay(true)
      s.got = 0
      s.on('connect', () => {
        if (spec.proxyProtocol) s.write(proxyLine(i))
        this.idle.push(s)
        resolve()
      })
      s.on('data', (c) => this.data(s, c))
      s.on('error', (err) => { this.fail(err); reject(err) })
      s.on('close', () => { if (!this.closing) this.fail(new Error('the server closed a keep-alive connection')) })
      this.conns.push(s)
    })
  }

  data (s, c) {
    // "HTTP/1.1 200": the status digits are bytes 9..11 of a response's first chunk
    if (s.got === 0 && (c.length < 12 || c[9] !== 0x32 || c[10] !== 0x30 || c[11] !== 0x30)) {
      return this.fail(new Error(`a response was not 200: ${c.toString('latin1', 0, 60)}`))
    }
    s.got += c.length
    if (s.got < this.size) return
    if (s.got > this.size) return this.fail(new Error(`a response was ${s.got} bytes, expected ${this.size}`))
    s.got = 0
    this.inFlight--
    this.responses++
    this.idle.push(s)
    this.onResponse()
  }

  send () {
    const s = this.idle.shift() // round robin: every connection stays in use
    if (s === undefined) return false
    this.inFlight++
    s.write(this.request)
    return true
  }

  fail (err) {
    if (this.error === null) this.error = err
    this.onResponse()
  }

  close () {
    this.closing = true
    for (const s of this.conns) s.destroy()
  }
}

module.exports = { fetchOnce, Pool }
