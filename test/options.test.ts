import { test } from 'tap'
import Ajv from 'ajv'
import { compileOptions, compileRouteOptions, planNotices } from '../lib/core/options'
import { optionsSchema } from '../lib/core/options-schema'
import { show } from '../lib/core/errors'

const BAD: Array<[string, Record<string, unknown> | unknown, string, RegExp]> = [
  // [case, options, plugin, message must match]
  ['not an object', 'loopback', 'proxyFix', /"proxyFix": "loopback" options must be an object/],
  ['null', null, 'proxyFix', /options must be an object/],
  ['array', [], 'proxyFix', /options must be an object/],
  ['unknown key', { trsut: 'loopback' }, 'proxyFix', /"trsut": "loopback" is not an option of proxyFix/],
  ['header on proxyFix', { header: 'x-fhost' }, 'proxyFix', /"header"/],
  ['bad CIDR', { trust: ['10.0.0.0/33'] }, 'proxyFix', /"trust": "10.0.0.0\/33" has an invalid prefix length/],
  ['bad address', { trust: '10.0.0.300' }, 'proxyFix', /"trust": "10.0.0.300" is not an IP address/],
  ['bad netmask', { trust: '10.0.0.0/255.0.255.0' }, 'proxyFix', /invalid prefix length or netmask/],
  ['IPv6 netmask', { trust: '::1/ffff::' }, 'proxyFix', /invalid prefix length or netmask/],
  ['zone in a trust entry', { trust: 'fe80::1%eth0' }, 'proxyFix', /is not an IP address/],
  ['a list of empty entries', { trust: ' , ' }, 'proxyFix', /names no address/],
  ['peers empty', { trust: 2, peers: [] }, 'proxyFix', /"peers": \[\] must be an address list/],
  ['peers false', { trust: 2, peers: false }, 'proxyFix', /"peers": false must be an address list/],
  ['peers bad entry', { trust: 2, peers: ['10.0.0.0/8', 'proxy'] }, 'proxyFix', /"peers": "proxy" is not an IP address/],
  ['peers number', { trust: 2, peers: 1 }, 'proxyFix', /"peers": 1 must be/],
  ['tied header with a count', { trust: 2, clientIpHeader: { 'cf-connecting-ip': ['loopback'] } }, 'proxyFix', /"clientIpHeader": .* tied to edges needs an address or function trust/],
  ['tied headers empty', { clientIpHeader: {} }, 'proxyFix', /"clientIpHeader": \{\} names no header/],
  ['tied header bad name', { clientIpHeader: { 'a b': ['loopback'] } }, 'proxyFix', /"clientIpHeader": "a b" is not a header name/],
  ['tied header no ranges', { clientIpHeader: { 'cf-connecting-ip': [] } }, 'proxyFix', /"clientIpHeader.cf-connecting-ip": \[\] must list the addresses/],
  ['tied header number', { clientIpHeader: { 'cf-connecting-ip': 5 } }, 'proxyFix', /"clientIpHeader.cf-connecting-ip": 5 must list/],
  ['tied header bad range', { clientIpHeader: { 'cf-connecting-ip': ['cloudflair'] } }, 'proxyFix', /"clientIpHeader.cf-connecting-ip": "cloudflair" is not an IP address/],
  ['clientIpHeader array', { clientIpHeader: ['x'] }, 'proxyFix', /"clientIpHeader": \["x"\] is not a header name/],
  ['non-string item', { trust: [1] }, 'proxyFix', /"trust": "1" is not a string/],
  ['negative count', { trust: -1 }, 'proxyFix', /"trust": -1 is not a hop count/],
  ['fractional count', { trust: 1.5 }, 'proxyFix', /is not a hop count/],
  ['huge count', { trust: 33 }, 'proxyFix', /is not a hop count/],
  ['object trust', { trust: { a: 1 } }, 'proxyFix', /"trust": \{"a":1\} must be an address list/],
  ['hops without a count', { hops: { for: 1 } }, 'proxyFix', /"hops": \{"for":1\} needs a numeric trust/],
  ['hops not an object', { trust: 1, hops: 3 }, 'proxyFix', /"hops": 3 must be an object/],
  ['hops unknown field', { trust: 1, hops: { addr: 1 } }, 'proxyFix', /"hops.addr": 1 is not a field/],
  ['hops bad count', { trust: 1, hops: { for: -2 } }, 'proxyFix', /"hops.for": -2 is not a hop count/],
  ['fields with a count', { trust: 1, fields: ['for'] }, 'proxyFix', /"fields": \["for"\] does not go with a numeric trust/],
  ['fields not a list', { fields: 5 }, 'proxyFix', /"fields": 5 must be a list/],
  ['fields unknown', { fields: ['for', 'path'] }, 'proxyFix', /"fields": "path" is not a field/],
  ['forwarded not boolean', { forwarded: 'yes' }, 'proxyFix', /"forwarded": "yes" must be true or false/],
  ['strict not boolean', { strict: 1 }, 'proxyFix', /"strict": 1 must be true or false/],
  ['clientIpHeader bad', { clientIpHeader: 'x real ip' }, 'proxyFix', /"clientIpHeader": "x real ip" is not a header name/],
  ['allowedHosts empty', { allowedHosts: [] }, 'proxyFix', /"allowedHosts": \[\] must be a non-empty list/],
  ['allowedHosts object', { allowedHosts: {} }, 'proxyFix', /must be a non-empty list/],
  ['allowedHosts item', { allowedHosts: [3] }, 'proxyFix', /"allowedHosts": 3 is not a string/],
  ['allowedHosts userinfo', { allowedHosts: ['a@b.com'] }, 'proxyFix', /"allowedHosts": "a@b.com" is not a host name/],
  ['allowedHosts with a port', { allowedHosts: ['a.com:80'] }, 'proxyFix', /is not a host name/],
  ['hostRewrite without header', { trust: 'loopback' }, 'hostRewrite', /"header": undefined must be a header name/],
  ['hostRewrite bad header', { header: 'x fhost' }, 'hostRewrite', /"header": "x fhost" must be a header name/],
  ['hostRewrite Host header', { header: 'Host' }, 'hostRewrite', /not Host itself/]
]

test('bad options fail at registration with a coded error naming option and value', async (t) => {
  for (const [name, opts, plugin, message] of BAD) {
    t.throws(() => compileOptions(opts, plugin as 'proxyFix'), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message }, name)
  }
  t.throws(() => compileOptions({ header: 'x-fhost', trust: true }, 'hostRewrite'),
    { code: 'FST_ERR_PROXY_FIX_TRUST_ALL_REFUSED', message: /"trust": true is refused by hostRewrite/ })
})

test('good options compile', async (t) => {
  const p = compileOptions({ trust: 2, hops: { host: 0, prefix: 1 } }, 'proxyFix')
  t.strictSame([p.for, p.proto, p.host, p.port, p.prefix], [2, 2, 0, 2, 1])
  const f = compileOptions({ fields: 'for, proto' }, 'proxyFix')
  t.strictSame([f.for, f.proto, f.host, f.port, f.prefix], [1, 1, 0, 0, 0])
  t.equal(compileOptions({ clientIpHeader: 'CF-Connecting-IP' }, 'proxyFix').clientIpHeader, 'cf-connecting-ip')
  t.equal(compileOptions({ header: 'X-FHost' }, 'hostRewrite').header, 'x-fhost')
  t.equal(compileOptions({ strict: true }, 'proxyFix').guard, true, 'strict needs the 400 guard')
  t.equal(compileOptions({ strict: true, trust: false }, 'proxyFix').guard, false, 'nothing to reject with trust off')
  t.equal(compileOptions({}, 'proxyFix').guard, false, 'no guard by default: the hot path has no hook')
  t.equal(compileOptions({ app: () => {}, prefix: '/x' }, 'mountApp').plugin, 'mountApp')
})

test('route overrides', async (t) => {
  const base = compileOptions({ trust: ['10.0.0.0/8'], fields: ['for'], allowedHosts: ['a.example'] }, 'proxyFix')
  const off = compileRouteOptions(base, false)
  t.equal(off.trust.kind, 'off')
  t.equal(off.allowedHosts, null)
  t.equal(compileRouteOptions(base, { strict: true }).proto, 0, 'fields kept when trust is not overridden')
  t.equal(compileRouteOptions(base, { trust: 'loopback' }).proto, 0, 'fields kept with another address trust')
  const counted = compileRouteOptions(base, { trust: 2 })
  t.equal(counted.trust.kind, 'count', 'a numeric trust drops the base fields')
  const hopsBase = compileOptions({ trust: 2, hops: { host: 0 } }, 'proxyFix')
  t.equal(compileRouteOptions(hopsBase, { trust: 'loopback' }).host, 1, 'an address trust drops the base hops')
  t.equal(compileRouteOptions(hopsBase, { trust: 3 }).host, 0, 'hops kept with another count')
  t.throws(() => compileRouteOptions(base, true), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message: /"config.proxyFix": true must be false or an options object/ })
  t.throws(() => compileRouteOptions(base, { trust: 'nope' }), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION' })
})

test('optionsSchema agrees with the validator on JSON-expressible options', async (t) => {
  const ajv = new Ajv({ strict: false })
  const validate = ajv.compile(optionsSchema)
  const good = [{}, { trust: false }, { trust: 2, hops: { for: 1 } }, { trust: ['loopback', '10.0.0.0/8'] }, { trust: 'loopback' },
    { fields: ['for'] }, { forwarded: true, strict: true }, { clientIpHeader: 'x-real-ip' }, { allowedHosts: ['.a.example'] },
    { trust: [] }, { trust: '' }, { trust: 2, peers: true }, { trust: 2, peers: ['10.0.0.0/8', 'unix'] }, { trust: 2, peers: 'loopback' }, { clientIpHeader: { 'cf-connecting-ip': ['10.0.0.0/8'] } }]
  for (const o of good) {
    t.ok(validate(o), `schema accepts ${JSON.stringify(o)}`)
    t.doesNotThrow(() => compileOptions(o, 'proxyFix'), `validator accepts ${JSON.stringify(o)}`)
  }
  const bad = [{ trsut: 1 }, { trust: -1 }, { trust: 1.5 }, { peers: [] }, { peers: false }, { clientIpHeader: {} }, { clientIpHeader: { x: [] } }, { hops: { addr: 1 } }, { fields: ['path'] }, { forwarded: 'yes' }, { clientIpHeader: 'a b' }, { trust: {} }]
  for (const o of bad) {
    t.notOk(validate(o), `schema refuses ${JSON.stringify(o)}`)
    t.throws(() => compileOptions(o, 'proxyFix'), `validator refuses ${JSON.stringify(o)}`)
  }
})

test('an empty trust trusts nothing (an unset environment variable), and says so once', async (t) => {
  for (const trust of [[], '', '  ']) {
    const plan = compileOptions({ trust }, 'proxyFix')
    t.equal(plan.trust.kind, 'off', JSON.stringify(trust))
    t.strictSame(planNotices(plan), [['info', { code: 'FPF_TRUST_EMPTY' }, "proxyFix: trust is empty, so no proxy is trusted and the socket's own values stand"]])
  }
  t.strictSame(planNotices(compileOptions({}, 'proxyFix')), [], 'the default says nothing')
  t.match(planNotices(compileOptions({ trust: true }, 'proxyFix')), [['warn', { code: 'FPF_W_TRUST_ALL' }, /trust is true/]])
  t.match(planNotices(compileOptions({ trust: 2, peers: true }, 'proxyFix')), [['warn', { code: 'FPF_W_UNCHECKED_COUNT' }, /peers is true, so the hop count is believed from any peer/]])
  t.strictSame(planNotices(compileOptions({ trust: true, warnings: false }, 'proxyFix')), [], 'warnings: false silences the warnings')
  t.strictSame(planNotices(compileOptions({ trust: [], warnings: false }, 'proxyFix')).length, 1, 'but not the info line')
  t.strictSame(planNotices(compileOptions({ trust: 2 }, 'proxyFix')), [], 'a count with its default peers says nothing')
  t.strictSame(planNotices(compileOptions({ trust: ['10.0.0.1'], peers: true }, 'proxyFix')), [], 'peers is ignored without a count')
})

test('show() keeps error messages short and printable', async (t) => {
  t.equal(show('x'.repeat(200)).length, 80)
  t.equal(show(() => 1), 'a function')
  t.equal(show(undefined), 'undefined')
  t.equal(show(Symbol('s')), 'Symbol(s)')
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  t.equal(show(cyclic), '[object Object]')
})
