// PROXY protocol header parser (HAProxy's proxy-protocol.txt, v1 section 2.1, v2 section 2.2).
// Pure: the bytes received so far in, and out either "more", "absent" (the bytes do not start
// like a header), "invalid" with a reason, or the header and its length. No net, no Fastify.
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../core/ip'
import { decodeTlvs } from './tlv'
import type { ProxyProtocolEndpoint, ProxyProtocolFamily, ProxyProtocolInfo } from '../../types'

export type Endpoint = ProxyProtocolEndpoint
export type Family = ProxyProtocolFamily
/** The header as parsed; the listener adds the TCP peer. */
export type ProxyHeader = Omit<ProxyProtocolInfo, 'peer'>

export type Parsed =
  | { status: 'more' }
  | { status: 'absent' }
  | { status: 'invalid', reason: string }
  | { status: 'done', header: ProxyHeader, length: number }

/** Accepted versions: 1, 2 or both (3). */
export type Accept = 1 | 2 | 3

/** v1: "the maximum line length the receiver must support is 107 bytes including the CRLF". */
export const V1_MAX = 107
/** v2: the largest declared length accepted (the spec allows 65535; real senders stay far below). */
export const V2_MAX_LENGTH = 2048

const MORE: Parsed = { status: 'more' }
const ABSENT: Parsed = { status: 'absent' }
const V1_SIG = Buffer.from('PROXY ', 'latin1')
const V2_SIG = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1')

function invalid (reason: string): Parsed {
  return { status: 'invalid', reason }
}

/** -1 when `sig` matches buf's start as far as both go, else the first mismatching index. */
function mismatch (buf: Buffer, sig: Buffer): number {
  const n = buf.length < sig.length ? buf.length : sig.length
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return i
  return -1
}

export function parseHeader (buf: Buffer, accept: Accept = 3): Parsed {
  if (buf.length === 0) return MORE
  if ((accept & 2) !== 0 && buf[0] === 0x0d) {
    if (mismatch(buf, V2_SIG) !== -1) return ABSENT
    return buf.length < 16 ? MORE : parseV2(buf)
  }
  if ((accept & 1) !== 0 && buf[0] === 0x50) {
    if (mismatch(buf, V1_SIG) !== -1) return ABSENT
    return parseV1(buf)
  }
  return ABSENT
}

function port (s: string): number {
  // decimal 0..65535 without leading zeros
  if (!/^(0|[1-9]\d{0,4})$/.test(s)) return -1
  const n = Number(s)
  return n > 65535 ? -1 : n
}

function show (s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s)
}

function parseV1 (buf: Buffer): Parsed {
  const n = buf.length < V1_MAX ? buf.length : V1_MAX
  let eol = -1
  for (let i = V1_SIG.length; i < n; i++) {
    const c = buf[i]
    if (c === 0x0a) { eol = i; break }
    if (c === 0x0d && (i + 1 >= buf.length || buf[i + 1] === 0x0a)) continue
    if (c < 0x20 || c > 0x7e) return invalid(`v1: byte 0x${c.toString(16).padStart(2, '0')} at offset ${i} is not printable ASCII`)
  }
  if (eol === -1) return buf.length >= V1_MAX ? invalid(`v1: no CRLF within ${V1_MAX} bytes`) : MORE
  if (buf[eol - 1] !== 0x0d) return invalid('v1: the line ends in LF without CR')
  const line = buf.toString('latin1', 0, eol - 1)
  const parts = line.split(' ')
  const family = parts[1]
  if (family === 'UNKNOWN') {
    // "the receiver must ignore anything presented before the CRLF"
    return { status: 'done', header: { version: 1, command: 'PROXY', family: 'UNKNOWN', source: null, destination: null, tlvs: { raw: [] } }, length: eol + 1 }
  }
  if (family !== 'TCP4' && family !== 'TCP6') return invalid(`v1: unknown family ${show(family)}`)
  if (parts.length !== 6) return invalid(`v1: ${parts.length - 2} fields after ${family} instead of 4 (single spaces only)`)
  const addr = family === 'TCP4' ? v4Text : v6Text
  const src = addr(parts[2])
  const dst = addr(parts[3])
  if (src === null) return invalid(`v1: source ${show(parts[2])} is not an ${family === 'TCP4' ? 'IPv4' : 'IPv6'} address`)
  if (dst === null) return invalid(`v1: destination ${show(parts[3])} is not an ${family === 'TCP4' ? 'IPv4' : 'IPv6'} address`)
  const sport = port(parts[4])
  const dport = port(parts[5])
  if (sport === -1) return invalid(`v1: source port ${show(parts[4])} is not a port (0-65535)`)
  if (dport === -1) return invalid(`v1: destination port ${show(parts[5])} is not a port (0-65535)`)
  return {
    status: 'done',
    header: { version: 1, command: 'PROXY', family, source: { address: src, port: sport }, destination: { address: dst, port: dport }, tlvs: { raw: [] } },
    length: eol + 1
  }
}

function v4Text (s: string): string | null {
  const v = parseIPv4(s, 0, s.length)
  return v === -1 ? null : formatIPv4(v)
}

function v6Text (s: string): string | null {
  if (!s.includes(':')) return null
  const p = parseIPv6(s, 0, s.length)
  return p === null ? null : formatIPv6(p)
}

// v2 protocol byte: family (high nibble) and transport (low nibble); other values "must be rejected"
const FAMILIES: Record<number, [Family, number]> = {
  0x00: ['UNKNOWN', 0],
  0x11: ['TCP4', 12],
  0x12: ['UDP4', 12],
  0x21: ['TCP6', 36],
  0x22: ['UDP6', 36],
  0x31: ['UNIX', 216],
  0x32: ['UNIX_DGRAM', 216]
}

function v6At (buf: Buffer, off: number): string {
  const p = new Uint16Array(8)
  for (let i = 0; i < 8; i++) p[i] = buf.readUInt16BE(off + 2 * i)
  return formatIPv6(p)
}

function pathAt (buf: Buffer, off: number): string {
  let end = buf.indexOf(0, off)
  if (end === -1 || end > off + 108) end = off + 108
  return buf.toString('utf8', off, end)
}

function parseV2 (buf: Buffer): Parsed {
  const verCmd = buf[12]
  if (verCmd >> 4 !== 2) return invalid(`v2: version ${verCmd >> 4} instead of 2`)
  const cmd = verCmd & 0x0f
  if (cmd > 1) return invalid(`v2: unknown command ${cmd}`)
  const fam = FAMILIES[buf[13]]
  // LOCAL: "the receiver must ... discard the protocol block including the family"
  if (fam === undefined && cmd === 1) return invalid(`v2: unknown family/transport byte 0x${buf[13].toString(16).padStart(2, '0')}`)
  const len = buf.readUInt16BE(14)
  if (len > V2_MAX_LENGTH) return invalid(`v2: declared length ${len} is over the ${V2_MAX_LENGTH}-byte limit`)
  const family: Family = fam === undefined ? 'UNKNOWN' : fam[0]
  const addrLen = fam === undefined ? 0 : fam[1]
  if (len < addrLen && cmd === 1) return invalid(`v2: declared length ${len} is too short for ${family} addresses (${addrLen} bytes)`)
  const total = 16 + len
  if (buf.length < total) return MORE
  const header = buf.subarray(0, total)
  // LOCAL with an unknown family or a short block: where TLVs would start is unknown, skip it all
  const tlvs = decodeTlvs(header, fam === undefined || len < addrLen ? total : 16 + addrLen)
  if (typeof tlvs === 'string') return invalid('v2: ' + tlvs)
  const out: { -readonly [K in keyof ProxyHeader]: ProxyHeader[K] } = { version: 2, command: cmd === 1 ? 'PROXY' : 'LOCAL', family, source: null, destination: null, tlvs }
  if (cmd === 1) {
    if (addrLen === 12) {
      out.source = { address: formatIPv4(buf.readUInt32BE(16)), port: buf.readUInt16BE(24) }
      out.destination = { address: formatIPv4(buf.readUInt32BE(20)), port: buf.readUInt16BE(26) }
    } else if (addrLen === 36) {
      out.source = { address: v6At(buf, 16), port: buf.readUInt16BE(48) }
      out.destination = { address: v6At(buf, 32), port: buf.readUInt16BE(50) }
    } else if (addrLen === 216) {
      out.unix = { source: pathAt(buf, 16), destination: pathAt(buf, 124) }
    }
  }
  return { status: 'done', header: out, length: total }
}
