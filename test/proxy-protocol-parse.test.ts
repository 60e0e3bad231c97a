import { test } from 'tap'
import { parseHeader, V1_MAX, V2_MAX_LENGTH, type Parsed } from '../lib/proxy-protocol/parse'
import { crc32c } from '../lib/proxy-protocol/tlv'
import { inet, ipv6, tlv, u16, v2, V2_SIG } from './helpers/proxy-protocol'

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

function done (t: Tap.Test, r: Parsed): any {
  if (r.status !== 'done') {
    t.fail(`expected a header, got ${JSON.stringify(r)}`)
    return {}
  }
  return r
}

function reason (r: Parsed): string {
  return r.status === 'invalid' ? r.reason : `(${r.status})`
}

test('v1: TCP4, TCP6 (canonical text), UNKNOWN; the header length excludes what follows', async (t) => {
  const r = done(t, parseHeader(b('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n')))
  t.same(r.header, { version: 1, command: 'PROXY', family: 'TCP4', source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.2', port: 443 }, tlvs: { raw: [] } })
  t.equal(r.length, 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n'.length)
  const r6 = done(t, parseHeader(b('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:192.0.2.9 0 65535\r\n')))
  t.same(r6.header.source, { address: '2001:db8::1', port: 0 })
  t.same(r6.header.destination, { address: '::ffff:192.0.2.9', port: 65535 })
  const u = done(t, parseHeader(b('PROXY UNKNOWN ffff:f...f:ffff whatever\r\n')))
  t.same(u.header, { version: 1, command: 'PROXY', family: 'UNKNOWN', source: null, destination: null, tlvs: { raw: [] } })
  t.equal(done(t, parseHeader(b('PROXY UNKNOWN\r\n'))).length, 15)
  // the longest legal line, 107 bytes with CRLF (UNKNOWN with anything after it)
  const longest = 'PROXY UNKNOWN ' + 'x'.repeat(V1_MAX - 16) + '\r\n'
  t.equal(longest.length, 107)
  t.equal(done(t, parseHeader(b(longest))).length, 107)
})

test('v1: incomplete input asks for more, other input is absent', async (t) => {
  for (const s of ['P', 'PROX', 'PROXY ', 'PROXY TCP4 1.2.3.4', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r']) {
    t.equal(parseHeader(b(s)).status, 'more', s)
  }
  t.equal(parseHeader(Buffer.alloc(0)).status, 'more')
  for (const s of ['GET / HTTP/1.1\r\n', 'PRI * HTTP/2.0\r\n', 'PROXYTCP4', 'proxy TCP4 ', '\x16\x03\x01']) {
    t.equal(parseHeader(b(s)).status, 'absent', JSON.stringify(s))
  }
  t.equal(parseHeader(b('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 2).status, 'absent', 'v1 when only v2 is accepted')
})

test('v1: malformed headers are invalid, with the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /unknown family "TCP5"/],
    ['PROXY ' + 'A'.repeat(50) + '\r\n', /unknown family "A{40}\.\.\."$/],
    ['PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /unknown family ""/],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /5 fields after TCP4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /3 fields after TCP4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /5 fields/],
    ['PROXY TCP4 127.1 5.6.7.8 1 2\r\n', /source "127.1" is not an IPv4 address/],
    ['PROXY TCP4 1.2.3.4 0x7f.0.0.1 1 2\r\n', /destination "0x7f.0.0.1"/],
    ['PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /source "::1" is not an IPv4/],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /source "1.2.3.4" is not an IPv6/],
    ['PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n', /destination "fe80::1%eth0" is not an IPv6/],
    ['PROXY TCP6 ::1 ::g 1 2\r\n', /destination "::g"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port "65536"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n', /destination port "080"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /source port "-1"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n', /destination port "999999"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', /byte 0x0d at offset 30/],
    ['PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n', /byte 0x00 at offset 18 is not printable/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 \xe92\r\n', /byte 0xe9/],
    ['PROXY UNKNOWN ' + 'x'.repeat(92) + '\r\n', /no CRLF within 107 bytes/],
    ['PROXY TCP4 ' + '1'.repeat(200), /no CRLF within 107 bytes/]
  ]
  for (const [input, want] of cases) t.match(reason(parseHeader(b(input))), want, JSON.stringify(input))
  t.match(reason(parseHeader(b('PROXY UNKNOWN ' + 'x'.repeat(200)))), /no CRLF/, 'an endless line is cut at 107 bytes')
})

test('v2: PROXY over IPv4, IPv6, UNIX; UNSPEC and LOCAL keep no source', async (t) => {
  const r4 = done(t, parseHeader(Buffer.concat([v2({ addr: inet('203.0.113.7', '10.0.0.1', 50000, 443) }), b('GET /')])))
  t.same(r4.header, { version: 2, command: 'PROXY', family: 'TCP4', source: { address: '203.0.113.7', port: 50000 }, destination: { address: '10.0.0.1', port: 443 }, tlvs: { raw: [] } })
  t.equal(r4.length, 28)
  const udp = done(t, parseHeader(v2({ fam: 0x12, addr: inet('1.1.1.1', '2.2.2.2', 53, 53) })))
  t.equal(udp.header.family, 'UDP4')
  const src6 = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42]
  const dst6 = [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]
  const r6 = done(t, parseHeader(v2({ fam: 0x21, addr: [...ipv6(src6), ...ipv6(dst6), ...u16(1), ...u16(2)] })))
  t.same([r6.header.family, r6.header.source, r6.header.destination], ['TCP6', { address: '2001:db8::42', port: 1 }, { address: '::ffff:192.0.2.1', port: 2 }])
  t.equal(done(t, parseHeader(v2({ fam: 0x22, addr: Array(36).fill(0) }))).header.source.address, '::')
  const path = (s: string): number[] => [...Buffer.from(s), ...Array(108 - s.length).fill(0)]
  const ru = done(t, parseHeader(v2({ fam: 0x31, addr: [...path('/run/client.sock'), ...path('/run/app.sock')] })))
  t.same([ru.header.family, ru.header.source, ru.header.unix], ['UNIX', null, { source: '/run/client.sock', destination: '/run/app.sock' }])
  const full = 'x'.repeat(108)
  t.same(done(t, parseHeader(v2({ fam: 0x32, addr: [...Buffer.from(full), ...path('')] }))).header.unix, { source: full, destination: '' })
  t.same(done(t, parseHeader(v2({ fam: 0x31, addr: [...path('/a'), ...Buffer.from(full)] }))).header.unix, { source: '/a', destination: full }, 'a path without NUL ends the block')
  const unspec = done(t, parseHeader(v2({ fam: 0x00 })))
  t.same([unspec.header.family, unspec.header.source, unspec.length], ['UNKNOWN', null, 16])
  const local = done(t, parseHeader(v2({ verCmd: 0x20, fam: 0x11, addr: inet('9.9.9.9', '8.8.8.8', 1, 2) })))
  t.same([local.header.command, local.header.family, local.header.source, local.header.destination], ['LOCAL', 'TCP4', null, null])
  const localOdd = done(t, parseHeader(v2({ verCmd: 0x20, fam: 0x77, addr: [1, 2, 3] })))
  t.same([localOdd.header.family, localOdd.length], ['UNKNOWN', 19], 'LOCAL: the protocol block is discarded, family included')
  t.equal(done(t, parseHeader(v2({ verCmd: 0x20, fam: 0x21, addr: [1, 2] }))).length, 18, 'LOCAL with a short block')
})

test('v2: incomplete input asks for more; a broken signature is absent', async (t) => {
  const whole = v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2) })
  for (let n = 1; n < whole.length; n++) t.equal(parseHeader(whole.subarray(0, n)).status, 'more', `${n} bytes`)
  t.equal(parseHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b])).status, 'absent')
  t.equal(parseHeader(b('\r\nGET')).status, 'absent')
  t.equal(parseHeader(whole, 1).status, 'absent', 'v2 when only v1 is accepted')
})

test('v2: malformed headers are invalid, with the reason', async (t) => {
  const cases: Array<[Buffer, RegExp]> = [
    [v2({ verCmd: 0x11, addr: inet('1.2.3.4', '5.6.7.8', 1, 2) }), /version 1 instead of 2/],
    [v2({ verCmd: 0x31 }), /version 3 instead of 2/],
    [v2({ verCmd: 0x22 }), /unknown command 2/],
    [v2({ fam: 0x13, addr: inet('1.2.3.4', '5.6.7.8', 1, 2) }), /unknown family\/transport byte 0x13/],
    [v2({ fam: 0x41 }), /byte 0x41/],
    [v2({ fam: 0x10, addr: inet('1.2.3.4', '5.6.7.8', 1, 2) }), /byte 0x10/],
    [v2({ fam: 0x11, addr: [1, 2, 3, 4] }), /declared length 4 is too short for TCP4 addresses \(12 bytes\)/],
    [v2({ fam: 0x21, addr: Array(12).fill(0) }), /too short for TCP6/],
    [v2({ fam: 0x31, addr: Array(200).fill(0) }), /too short for UNIX/],
    [v2({ length: V2_MAX_LENGTH + 1 }), /declared length 2049 is over the 2048-byte limit/],
    [v2({ length: 65535 }), /65535/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [0x01, 0x00] }), /a truncated TLV/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [0x02, 0x00, 0x09, 0x61] }), /TLV 0x02 is longer than the header/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [...tlv(0x01, 'h2'), ...tlv(0x01, 'http/1.1')] }), /duplicate TLV 0x01/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x20, [1, 0, 0]) }), /SSL TLV is shorter than 5 bytes/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x20, [1, 0, 0, 0, 0, 0x22, 0, 9, 0x41]) }), /TLV 0x22 is longer/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x20, [1, 0, 0, 0, 0, ...tlv(0x22, 'a'), ...tlv(0x22, 'b')]) }), /duplicate SSL sub-TLV 0x22/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x03, [1, 2, 3]) }), /CRC32C TLV is not 4 bytes/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [...tlv(0x03, [0, 0, 0, 0]), ...tlv(0x03, [0, 0, 0, 0])] }), /duplicate TLV 0x03/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x03, [1, 2, 3, 4]) }), /CRC32C checksum does not match/],
    [v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [...tlv(0xea, [1, 0x61]), ...tlv(0xea, [1, 0x62])] }), /duplicate TLV 0xEA/]
  ]
  for (const [input, want] of cases) t.match(reason(parseHeader(input)), want, input.subarray(12).toString('hex'))
})

test('v2: TLVs built byte by byte from the spec and the vendors\' docs', async (t) => {
  const ssl = tlv(0x20, [
    0x07, // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS
    0x00, 0x00, 0x00, 0x00, // verify: 0 = the client certificate was verified
    ...tlv(0x21, 'TLSv1.3'),
    ...tlv(0x22, 'client.example'),
    ...tlv(0x23, 'TLS_AES_256_GCM_SHA384'),
    ...tlv(0x24, 'SHA256'),
    ...tlv(0x25, 'RSA2048'),
    ...tlv(0x2f, 'an unknown sub-TLV')
  ])
  const tlvs = [
    ...tlv(0x01, 'h2'),
    ...tlv(0x02, 'api.example.com'),
    ...tlv(0x04, [0, 0, 0]), // NOOP
    ...tlv(0x05, [0xde, 0xad, 0xbe, 0xef]),
    ...ssl,
    ...tlv(0x30, 'blue'),
    ...tlv(0xea, [0x01, ...Buffer.from('vpce-0123456789abcdef0')]), // AWS: subtype 0x01 + the endpoint ID
    ...tlv(0xea, [0x02, 0x99]), // another AWS subtype: kept raw only
    ...tlv(0xee, [0x01, 0x78, 0x56, 0x34, 0x12]), // Azure: subtype 0x01 + LINKID, uint32 little-endian
    ...tlv(0xe0, [0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab]), // GCP PSC: 8-byte connection ID, big-endian
    ...tlv(0xf0, 'experimental')
  ]
  const r = done(t, parseHeader(v2({ addr: inet('198.51.100.10', '10.1.2.3', 40000, 8443), tlvs })))
  const got = r.header.tlvs
  t.equal(got.alpn, 'h2')
  t.equal(got.authority, 'api.example.com')
  t.same(got.uniqueId, Buffer.from([0xde, 0xad, 0xbe, 0xef]))
  t.same(got.ssl, { client: 7, verify: 0, version: 'TLSv1.3', cn: 'client.example', cipher: 'TLS_AES_256_GCM_SHA384', sigAlg: 'SHA256', keyAlg: 'RSA2048' })
  t.equal(got.netns, 'blue')
  t.equal(got.awsVpceId, 'vpce-0123456789abcdef0')
  t.equal(got.azureLinkId, 0x12345678)
  t.equal(got.gcpPscConnectionId, String(0x0123456789ab))
  t.same(got.raw.map((x: { type: number }) => x.type), [0x01, 0x02, 0x04, 0x05, 0x20, 0x30, 0xea, 0xea, 0xee, 0xe0, 0xf0])
  t.same(got.raw[10].value, Buffer.from('experimental'))
  const big = done(t, parseHeader(v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0xe0, Array(8).fill(0xff)) })))
  t.equal(big.header.tlvs.gcpPscConnectionId, '18446744073709551615', 'a 64-bit ID above 2^53 keeps every digit')
  const odd = done(t, parseHeader(v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: [...tlv(0xee, [0x02, 1, 2, 3, 4]), ...tlv(0xee, [0x01, 1]), ...tlv(0xe0, [1, 2]), ...tlv(0xea, [])] })))
  t.same([odd.header.tlvs.azureLinkId, odd.header.tlvs.gcpPscConnectionId, odd.header.tlvs.awsVpceId, odd.header.tlvs.raw.length], [undefined, undefined, undefined, 4], 'vendor TLVs of another shape stay raw')
  const sslOnly = done(t, parseHeader(v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x20, [0x01, 0, 0, 0, 1]) })))
  t.same(sslOnly.header.tlvs.ssl, { client: 1, verify: 1 })
  // values are copies: the header's buffer (the first HTTP chunk too) is not kept alive
  const input = v2({ addr: inet('1.2.3.4', '5.6.7.8', 1, 2), tlvs: tlv(0x05, [1, 2, 3]) })
  const parsed = done(t, parseHeader(input))
  input.fill(0)
  t.same(parsed.header.tlvs.uniqueId, Buffer.from([1, 2, 3]))
})

test('v2: CRC32C over the whole header with the checksum field as zeros', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'the Castagnoli check value')
  const body = [...inet('1.2.3.4', '5.6.7.8', 1, 2), ...tlv(0x01, 'h2'), ...tlv(0x03, [0, 0, 0, 0])]
  const header = v2({ addr: body })
  const at = header.length - 4
  header.writeUInt32BE(crc32c(header), at)
  t.equal(done(t, parseHeader(header)).header.tlvs.alpn, 'h2')
  header[at] ^= 1
  t.match(reason(parseHeader(header)), /CRC32C checksum does not match/)
  t.equal(V2_SIG.length, 12)
})
