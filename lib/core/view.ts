import { FST_ERR_PROXY_FIX_MALFORMED_HEADER, requestError, show } from './errors'
import { splitHost, type HostParts } from './field-values'
import type { Plan } from './options'
import type { Peer, ProxyProtocolInfo } from './peer'
import type { OriginalView, ProxyInfo } from '../../types'

export type { OriginalView }

/** What the request looks like after correction. Built by `resolve`, read by the getters. */
export class ProxyView implements ProxyInfo {
  ip: string | undefined
  host: string
  protocol: 'http' | 'https'
  prefix: string
  trusted: boolean
  error: Error | null
  /** Misconfiguration notices (see warnings.ts), as bits; 0 for none. */
  notices: number
  private parts: HostParts | null
  private readonly peer: Peer
  private readonly socketHost: string
  private readonly encrypted: boolean
  /** The peer, then the addresses taken from the headers, nearest first (null: not built yet). */
  private list: string[] | null

  constructor (peer: Peer, host: string, encrypted: boolean) {
    this.ip = peer.address
    this.host = host
    this.protocol = encrypted ? 'https' : 'http'
    this.prefix = ''
    this.trusted = false
    this.error = null
    this.notices = 0
    this.parts = null
    this.peer = peer
    this.socketHost = host
    this.encrypted = encrypted
    this.list = null
  }

  /** The peer first, then every address taken from the headers, the client last. */
  get ips (): string[] {
    return (this.list ??= this.peer.address === undefined ? [] : [this.peer.address])
  }

  /** Records one more address taken from the headers (the walk does, before anyone reads ips). */
  addHop (ip: string): void {
    if (this.list !== null) this.list.push(ip)
    else this.list = this.peer.address === undefined ? [ip] : [this.peer.address, ip]
  }

  // hostname and port are split from the host only when read: most requests never ask.
  get hostname (): string {
    return (this.parts ??= splitHost(this.host)).hostname
  }

  get port (): number | null {
    return (this.parts ??= splitHost(this.host)).port
  }

  /** The PROXY protocol header of the connection, when a PROXY protocol listener read one. */
  get proxyProtocol (): ProxyProtocolInfo | null {
    return this.peer.proxyProtocol
  }

  /** The socket's own view, before any correction (the TCP peer, also behind the PROXY protocol). */
  get original (): OriginalView {
    const parts = splitHost(this.socketHost)
    return {
      ip: this.peer.socketAddress,
      host: this.socketHost,
      hostname: parts.hostname,
      port: parts.port,
      protocol: this.encrypted ? 'https' : 'http'
    }
  }

  /** The absolute external URL of `path`, behind the forwarded scheme, host, port and prefix. */
  url (path = '/'): string {
    let host = this.host
    const port = this.port
    if ((port === 443 && this.protocol === 'https') || (port === 80 && this.protocol === 'http')) host = this.hostname
    return this.protocol + '://' + host + this.prefix + (path.charCodeAt(0) === 47 ? path : '/' + path)
  }

  setHost (parts: HostParts): void {
    this.host = parts.host
    this.parts = parts
  }

  /** Records the first failure; the bad value itself is never used. */
  reject (plan: Plan, name: string, value: string): void {
    if (plan.strict && this.error === null) this.error = requestError(() => new FST_ERR_PROXY_FIX_MALFORMED_HEADER(name, show(value)))
  }
}
