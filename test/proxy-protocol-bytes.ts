// Builds PROXY protocol headers byte by byte from HAProxy's proxy-protocol.txt, for the tests.
// (Named without .test so tap does not run it as a test file.)

export const V2_SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]

export function u16 (n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff]
}

export function tlv (type: number, value: number[] | Buffer | string): number[] {
  const bytes = typeof value === 'string' ? [...Buffer.from(value, 'utf8')] : [...value]
  return [type, ...u16(bytes.length), ...bytes]
}

export function ipv4 (text: string): number[] {
  return text.split('.').map(Number)
}

/** Eight hextets from a full (uncompressed) IPv6 text. */
export function ipv6 (hextets: number[]): number[] {
  return hextets.flatMap((h) => u16(h))
}

export interface V2 {
  verCmd?: number
  fam?: number
  addr?: number[]
  tlvs?: number[]
  length?: number
}

/** A v2 header: signature, version/command, family/transport, length, addresses, TLVs. */
export function v2 ({ verCmd = 0x21, fam = 0x11, addr = [], tlvs = [], length }: V2 = {}): Buffer {
  const body = [...addr, ...tlvs]
  return Buffer.from([...V2_SIG, verCmd, fam, ...u16(length ?? body.length), ...body])
}

export function inet (src: string, dst: string, sport: number, dport: number): number[] {
  return [...ipv4(src), ...ipv4(dst), ...u16(sport), ...u16(dport)]
}
