// Provider presets, the ranges file and its update, against a loopback server in the providers' formats.
import { test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compileList } from '../lib/core/trust'
import { parseIp, type Ip } from '../lib/core/ip'
import { compileOptions } from '../lib/core/options'
import { PROVIDERS } from '../lib/core/provider-ranges'
import { loadRangesFile } from '../lib/core/ranges-file'
import { parseAws, parseFastly, parseLines, updateRanges, type Sources } from '../lib/server/ranges-update'

const ip = (a: string): Ip => parseIp(a) as Ip

test('provider presets match their published ranges, and nothing else', async (t) => {
  const table: Array<[string, string[], string[]]> = [
    ['cloudflare', ['173.245.48.1', '104.16.0.1', '104.27.255.255', '131.0.75.255', '2606:4700::6810:1', '2c0f:f248::1'], ['104.28.0.0', '8.8.8.8', '2001:db8::1']],
    ['cloudfront', ['130.176.88.1', '24.110.128.1', '2600:9000:1000::1', '2600:9000:6000::1'], ['52.94.0.1', '2600:9001::1']],
    ['fastly', ['23.235.32.1', '151.101.0.1', '199.232.255.255', '2a04:4e40::1'], ['146.75.255.255', '2a04:4e41::1']],
    ['gcp-lb', ['35.191.0.1', '130.211.3.255', '2600:2d00:1:b029::1', '2600:2d00:1:1::1'], ['130.211.4.0', '35.192.0.1']]
  ]
  for (const [name, inside, outside] of table) {
    const trust = compileList(name.toUpperCase())
    for (const a of inside) t.ok(trust.test(ip(a), 0), `${name}: ${a}`)
    for (const a of outside) t.notOk(trust.test(ip(a), 0), `${name}: not ${a}`)
    t.match(PROVIDERS[name].asOf, /^\d{4}-\d{2}-\d{2}$/, `${name}: dated`)
    t.ok(PROVIDERS[name].source[0].startsWith('https://'), `${name}: its source`)
  }
  for (const bad of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    t.throws(() => compileOptions({ trust: [bad] }, 'proxyFix'), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION' }, `${bad} is not a name`)
  }
})

test('rangesFile: the presets from a file, checked at registration', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fpf-ranges-'))
  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify({ updated: '2026-12-01T00:00:00Z', providers: { cloudflare: { asOf: '2026-12-01', source: [], ranges: ['192.0.2.0/24'] } } }))
  const plan = compileOptions({ trust: ['cloudflare', 'fastly'], rangesFile: good }, 'proxyFix')
  t.ok(plan.trust.test(ip('192.0.2.9'), 0), "the file's cloudflare")
  t.notOk(plan.trust.test(ip('173.245.48.1'), 0), 'replaces the snapshot for that provider')
  t.ok(plan.trust.test(ip('151.101.0.1'), 0), 'and the others keep the snapshot')
  t.same(loadRangesFile(good).cloudflare, ['192.0.2.0/24'])
  const bad: Array<[string, unknown, RegExp]> = [
    ['missing', join(dir, 'none.json'), /"rangesFile": ".*none.json" can not be read as JSON \(ENOENT/],
    ['not JSON', 'text', /can not be read as JSON/],
    ['an array', [], /is not an object/],
    ['no providers', {}, /has no "providers" object/],
    ['no list', { providers: { cloudflare: { ranges: [] } } }, /has no list of CIDR ranges for "cloudflare"/],
    ['not a CIDR', { providers: { cloudflare: { ranges: ['1.2.3.4'] } } }, /has no list of CIDR ranges/],
    ['a bad CIDR', { providers: { fastly: { ranges: ['300.1.1.0/24'] } } }, /has "300.1.1.0\/24" for "fastly", which is not a CIDR range/],
    ['a null provider', { providers: { fastly: null } }, /has no list/]
  ]
  for (const [name, content, message] of bad) {
    let path = content as string
    if (name !== 'missing') {
      path = join(dir, name.replace(/ /g, '-') + '.json')
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
    }
    t.throws(() => compileOptions({ trust: 'cloudflare', rangesFile: path }, 'proxyFix'), { code: 'FST_ERR_PROXY_FIX_INVALID_OPTION', message }, name)
  }
  t.throws(() => compileOptions({ rangesFile: '' }, 'proxyFix'), { message: /"rangesFile": "" must be the path of a file written by/ })
})

test('the providers\' formats', async (t) => {
  t.same(parseLines('173.245.48.0/20\n103.21.244.0/22'), ['173.245.48.0/20', '103.21.244.0/22'], 'no newline after the last line')
  t.same(parseLines('\n a/1 \r\n\n'), ['a/1'])
  t.same(parseAws(JSON.stringify({ syncToken: '1', createDate: 'x', prefixes: [{ ip_prefix: '130.176.88.0/21', service: 'CLOUDFRONT_ORIGIN_FACING' }, { ip_prefix: '52.94.0.0/22', service: 'AMAZON' }, { ip_prefix: '13.32.0.0/15', service: 'CLOUDFRONT' }], ipv6_prefixes: [{ ipv6_prefix: '2600:9000:1000::/36', service: 'CLOUDFRONT_ORIGIN_FACING' }] })), ['130.176.88.0/21', '2600:9000:1000::/36'], 'CLOUDFRONT_ORIGIN_FACING only, not CLOUDFRONT')
  t.throws(() => parseAws('{}'), /no prefixes/)
  t.same(parseFastly('{"addresses":["23.235.32.0/20"],"ipv6_addresses":["2a04:4e40::/32"]}'), ['23.235.32.0/20', '2a04:4e40::/32'])
  t.throws(() => parseFastly('{"addresses":[]}'), /no addresses/)
})

test('ranges --update: fetched from the providers\' formats; a failed, broken or shrunken list never replaces the last good one', async (t) => {
  const bodies: Record<string, { status: number, body: string }> = {}
  const server = http.createServer((req, res) => {
    const b = bodies[req.url as string] ?? { status: 404, body: '' }
    res.writeHead(b.status).end(b.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const sources: Sources = { cloudflareV4: `${base}/ips-v4`, cloudflareV6: `${base}/ips-v6`, aws: `${base}/ip-ranges.json`, fastly: `${base}/public-ip-list` }
  const aws = (n: number): string => JSON.stringify({ syncToken: '1', createDate: '2026-12-01-00-00-00', prefixes: Array.from({ length: n }, (_, i) => ({ ip_prefix: `130.176.${i}.0/24`, region: 'GLOBAL', service: 'CLOUDFRONT_ORIGIN_FACING', network_border_group: 'GLOBAL' })), ipv6_prefixes: [] })
  const cf4 = PROVIDERS.cloudflare.ranges.filter((r) => !r.includes(':'))
  const cf6 = PROVIDERS.cloudflare.ranges.filter((r) => r.includes(':'))
  bodies['/ips-v4'] = { status: 200, body: [...cf4, '192.0.2.0/24'].join('\n') }
  bodies['/ips-v6'] = { status: 200, body: cf6.join('\n') + '\n' }
  bodies['/ip-ranges.json'] = { status: 200, body: aws(40) }
  bodies['/public-ip-list'] = { status: 200, body: JSON.stringify({ addresses: PROVIDERS.fastly.ranges.filter((r) => !r.includes(':')), ipv6_addresses: ['2a04:4e40::/32'] }) }
  const dir = mkdtempSync(join(tmpdir(), 'fpf-update-'))
  const file = join(dir, 'ranges.json')
  const now = new Date('2026-12-01T12:00:00Z')

  const first = await updateRanges(file, sources, undefined, now)
  t.strictSame(first.map((o) => [o.provider, o.status, o.count]), [['cloudflare', 'updated', cf4.length + 1 + cf6.length], ['cloudfront', 'updated', 40], ['fastly', 'updated', PROVIDERS.fastly.ranges.length - 1]])
  const written = JSON.parse(readFileSync(file, 'utf8'))
  t.equal(written.updated, '2026-12-01T12:00:00.000Z')
  t.strictSame(written.providers.cloudflare, { asOf: '2026-12-01', source: [sources.cloudflareV4, sources.cloudflareV6], ranges: [...cf4, '192.0.2.0/24', ...cf6] })
  t.same(written.providers['gcp-lb'].ranges, PROVIDERS['gcp-lb'].ranges, 'gcp-lb has no machine-readable list: the snapshot is kept')
  t.ok(compileOptions({ trust: 'cloudfront', rangesFile: file }, 'proxyFix').trust.test(ip('130.176.39.1'), 0), 'the file loads as rangesFile')

  bodies['/ips-v4'] = { status: 500, body: 'Internal Server Error' }
  bodies['/ip-ranges.json'] = { status: 200, body: aws(19) }
  bodies['/public-ip-list'] = { status: 200, body: '<html>Just a moment...</html>' }
  const second = await updateRanges(file, sources, undefined, now)
  t.match(second, [
    { provider: 'cloudflare', status: 'kept', count: cf4.length + 1 + cf6.length, reason: /answered 500/ },
    { provider: 'cloudfront', status: 'kept', count: 40, reason: 'the list shrank from 40 to 19 ranges' },
    { provider: 'fastly', status: 'kept', reason: /JSON/ }
  ])
  t.strictSame(JSON.parse(readFileSync(file, 'utf8')).providers, written.providers, 'every last good list kept')

  bodies['/ips-v4'] = { status: 200, body: '<!DOCTYPE html>\n<title>challenge</title>' }
  const third = await updateRanges(file, sources, undefined, now)
  t.match(third[0], { status: 'kept', reason: /the list had no list of CIDR ranges/ })
  bodies['/ips-v4'] = { status: 200, body: '192.0.2.0/24\n10.0.0.300/8' }
  t.match((await updateRanges(file, sources, undefined, now))[0], { status: 'kept', reason: /"10.0.0.300\/8" for "cloudflare", which is not a CIDR range/ })
  t.strictSame(readdirSync(dir), ['ranges.json'], 'written through a rename: no temporary file left')

  writeFileSync(file, JSON.stringify({ updated: '', providers: { cloudflare: written.providers.cloudflare } }))
  bodies['/ips-v4'] = { status: 200, body: cf4.join('\n') }
  const partial = await updateRanges(file, sources, undefined, now)
  t.match(partial.map((o) => o.status), ['updated', 'updated', 'kept'], 'a provider missing from the file has no last good list to shrink from')

  writeFileSync(file, '{ broken')
  const fresh = await updateRanges(file, { ...sources, cloudflareV4: `${base}/missing` }, undefined, now)
  t.match(fresh[0], { provider: 'cloudflare', status: 'kept', count: PROVIDERS.cloudflare.ranges.length }, 'a broken file: the package snapshot is the last good list')
})
