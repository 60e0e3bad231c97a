// PROXY protocol v2 TLVs (HAProxy's proxy-protocol.txt, section 2.2), and the vendor TLVs in the
// application range 0xE0-0xEF. Pure: bytes in, decoded values or a reason out.
import type { ProxyProtocolSsl, ProxyProtocolTlvs } from '../../types'

export type SslInfo = ProxyProtocolSsl
export type RawTlv = ProxyProtocolTlvs['raw'][number]
export type Tlvs = ProxyProtocolTlvs

const SSL_FIELDS: Record<number, 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg'> = {
  0x21: 'version', 0x22: 'cn', 0x23: 'cipher', 0x24: 'sigAlg', 0x25: 'keyAlg'
}

function hex (type: number): string {
  return '0x' + type.toString(16).padStart(2, '0').toUpperCase()
}

/** Calls `each(type, start, end)` for every TLV in buf[start, end); returns a reason when they do not tile the range. */
function walk (buf: Buffer, start: number, end: number, each: (type: number, from: number, to: number) => string | null): string | null {
  let off = start
  while (off < end) {
    if (end - off < 3) return 'a truncated TLV at the end of the header'
    const type = buf[off]
    const to = off + 3 + buf.readUInt16BE(off + 1)
    if (to > end) return `TLV ${hex(type)} is longer than the header`
    const why = each(type, off + 3, to)
    if (why !== null) return why
    off = to
  }
  return null
}

function decodeSsl (buf: Buffer, start: number, end: number): SslInfo | string {
  if (end - start < 5) return 'the SSL TLV is shorter than 5 bytes'
  const ssl: SslInfo = { client: buf[start], verify: buf.readUInt32BE(start + 1) }
  const why = walk(buf, start + 5, end, (type, from, to) => {
    const field = SSL_FIELDS[type]
    if (field === undefined) return null
    if (ssl[field] !== undefined) return `duplicate SSL sub-TLV ${hex(type)}`
    ssl[field] = buf.toString('utf8', from, to)
    return null
  })
  return why === null ? ssl : why
}

let CRC_TABLE: Uint32Array | null = null

/** CRC32C (Castagnoli, reflected 0x82F63B78), as PP2_TYPE_CRC32C asks. */
export function crc32c (buf: Buffer, skipFrom = -1, skipTo = -1): number {
  if (CRC_TABLE === null) {
    CRC_TABLE = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      CRC_TABLE[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < buf.length; i++) {
    // the checksum field itself counts as zeros
    const byte = i >= skipFrom && i < skipTo ? 0 : buf[i]
    crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * Decodes the TLVs in header[start, header.length) (`header` is exactly the v2 header).
 * Returns the TLVs or a reason. Unknown types are kept in `raw` only, as the spec asks.
 */
export function decodeTlvs (header: Buffer, start: number): Tlvs | string {
  const tlvs: Tlvs = { raw: [] }
  let crcAt = -1
  const once = (seen: unknown, type: number): string | null => seen === undefined ? null : `duplicate TLV ${hex(type)}`
  const why = walk(header, start, header.length, (type, from, to) => {
    const value = Buffer.from(header.subarray(from, to))
    tlvs.raw.push({ type, value })
    const len = to - from
    let dup: string | null = null
    switch (type) {
      case 0x01:
        dup = once(tlvs.alpn, type)
        tlvs.alpn = value.toString('latin1')
        break
      case 0x02:
        dup = once(tlvs.authority, type)
        tlvs.authority = value.toString('utf8')
        break
      case 0x03:
        if (len !== 4) return 'the CRC32C TLV is not 4 bytes'
        if (crcAt !== -1) return 'duplicate TLV 0x03'
        crcAt = from
        break
      case 0x05:
        dup = once(tlvs.uniqueId, type)
        tlvs.uniqueId = value
        break
      case 0x20: {
        dup = once(tlvs.ssl, type)
        const ssl = decodeSsl(header, from, to)
        if (typeof ssl === 'string') return ssl
        tlvs.ssl = ssl
        break
      }
      case 0x30:
        dup = once(tlvs.netns, type)
        tlvs.netns = value.toString('latin1')
        break
      case 0xea:
        // other subtypes may come: only 0x01 is the endpoint ID
        if (len >= 1 && value[0] === 0x01) {
          dup = once(tlvs.awsVpceId, type)
          tlvs.awsVpceId = value.toString('latin1', 1)
        }
        break
      case 0xee:
        if (len === 5 && value[0] === 0x01) {
          dup = once(tlvs.azureLinkId, type)
          tlvs.azureLinkId = value.readUInt32LE(1)
        }
        break
      case 0xe0:
        if (len === 8) {
          dup = once(tlvs.gcpPscConnectionId, type)
          tlvs.gcpPscConnectionId = value.readBigUInt64BE(0).toString()
        }
        break
    }
    return dup
  })
  if (why !== null) return why
  if (crcAt !== -1 && crc32c(header, crcAt, crcAt + 4) !== header.readUInt32BE(crcAt)) return 'the CRC32C checksum does not match'
  return tlvs
}
