import net from 'node:net'
import { CliError } from './cli-error'

/** One address to listen on. */
export type Bind =
  | { kind: 'tcp', host: string, port: number }
  | { kind: 'unix', path: string }
  | { kind: 'fd', fd: number }

/**
 * gunicorn's bind forms: `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (all interfaces),
 * `unix:PATH`, `fd://N`. A bare host without a port is refused: the port is never guessed.
 */
export function parseBind (name: string, spec: unknown): Bind {
  const fail = (why: string): never => { throw new CliError(`${name} ${JSON.stringify(spec)}: ${why}`) }
  if (typeof spec !== 'string' || spec === '') return fail('must be HOST:PORT, [V6]:PORT, unix:PATH or fd://N')
  if (spec.startsWith('unix:')) {
    const file = spec.slice(5)
    if (file === '') fail('needs a path after unix:')
    return { kind: 'unix', path: file }
  }
  if (spec.startsWith('fd://')) {
    const fd = spec.slice(5)
    if (!/^\d+$/.test(fd) || Number(fd) < 3 || Number(fd) > 65535) fail('needs a file descriptor number of 3 or more after fd://')
    return { kind: 'fd', fd: Number(fd) }
  }
  let host: string
  let port: string
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(spec)
  if (v6 !== null) {
    if (net.isIPv6(v6[1]) === false) fail(`${v6[1]} is not an IPv6 address`)
    host = v6[1]
    port = v6[2]
  } else if (/^\d+$/.test(spec)) {
    host = '0.0.0.0'
    port = spec
  } else {
    const i = spec.lastIndexOf(':')
    if (i === -1 || spec.indexOf(':') !== i) fail('must be HOST:PORT, [V6]:PORT, unix:PATH or fd://N (an IPv6 address goes in brackets)')
    host = i === 0 ? '0.0.0.0' : spec.slice(0, i)
    port = spec.slice(i + 1)
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) fail('the port must be an integer from 0 to 65535')
  return { kind: 'tcp', host, port: Number(port) }
}

/** How a bind reads in logs and in --check-config. */
export function bindText (b: Bind): string {
  if (b.kind === 'unix') return `unix:${b.path}`
  if (b.kind === 'fd') return `fd://${b.fd}`
  return net.isIPv6(b.host) ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`
}
