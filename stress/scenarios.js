'use strict'

// The adversarial set the load test rotates through. Each scenario builds a request for a
// distinct client n and states what the server must answer: the status, and for 200 the client
// IP and Host it must have resolved. The peer is always 127.0.0.1, a trusted proxy (loopback),
// so one keep-alive connection carries requests for many different clients.

const PEER = '127.0.0.1'
const HOST = 'internal:3000'

/** A distinct client address per request, in 198.18.0.0/15 (benchmarking range). */
function client (n) {
  return `198.${18 + ((n >>> 16) & 1)}.${(n >>> 8) & 255}.${n & 255}`
}

const junk = 'x'.repeat(64) + ', '
const SCENARIOS = [
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': client(n) }, ip: client(n), host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `6.6.6.6, ${client(n)}`, 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, pub.example' }, ip: client(n), host: 'pub.example' }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `${client(n)}, 127.0.0.2`, 'x-forwarded-host': 'pub.example, internal.example' }, ip: client(n), host: 'pub.example' }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `${client(n)}, proxy` }, ip: PEER, host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `127.1, 0x7f.0.0.1, ${client(n)}` }, ip: client(n), host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `::fFFf:${client(n)}` }, ip: `::ffff:${client(n)}`, host: HOST }),
  () => ({ path: '/echo', headers: {}, ip: PEER, host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': client(n), 'x-forwarded-host': 'evil.com:fake@legitimate.com' }, ip: client(n), host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': client(n), 'x-fhost': `h${n % 1000}.example:8443` }, ip: client(n), host: `h${n % 1000}.example:8443` }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': client(n), 'x-fhost': 'a.example, b.example' }, ip: client(n), host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': client(n), forwarded: 'for=6.6.6.6;host=evil.example' }, ip: client(n), host: HOST }),
  (n) => ({ path: `/legacy/x?n=${n}`, headers: { 'x-forwarded-for': `junk, ${client(n)}`, 'x-forwarded-host': 'pub.example' }, ip: client(n), host: 'pub.example' }),
  (n) => ({ path: '/%6cegacy/a%2Fb', headers: { 'x-forwarded-for': client(n) }, ip: client(n), host: HOST }),
  () => ({ path: '/%zz', headers: {}, status: 400 }),
  () => ({ path: '//legacy', headers: {}, status: 404 }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': Array.from({ length: 40 }, () => '127.0.0.5').join(', ') + ', ' + client(n) }, ip: client(n), host: HOST }),
  (n) => ({ path: '/echo', headers: { 'x-forwarded-for': `[2001:db8::${(n & 0xffff).toString(16)}]:443` }, ip: (n & 0xffff) === 0 ? '2001:db8::' : `2001:db8::${(n & 0xffff).toString(16)}`, host: HOST }),
  (n) => ({ path: '/legacy/deep', headers: { 'x-forwarded-for': junk.repeat(100) + client(n), 'x-forwarded-proto': 'gopher' }, ip: client(n), host: HOST })
]

function scenario (n) {
  const s = SCENARIOS[n % SCENARIOS.length](n)
  return { status: 200, ...s, headers: { host: HOST, ...s.headers, 'x-expect': String(n) } }
}

module.exports = { scenario, SCENARIOS, client, PEER, HOST }
