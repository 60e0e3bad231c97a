// The PROXY protocol server tests' app: a Fastify app whose server comes from
// proxyProtocolServer(), with proxyFix, its handler reporting what it sees on its socket, and the
// warning lines it logged.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { proxyProtocolServer, type ProxyProtocolOptions } from '../../lib/proxy-protocol/server'
import { kProxyProtocol } from '../../lib/proxy-protocol/listener'
import { proxyFix } from '../../lib/fastify/proxy-fix'
import { portOf } from './ports'

export const GET = 'GET / HTTP/1.1\r\nHost: app.example\r\n\r\n'
export const GET_CLOSE = 'GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n'
export const V1 = 'PROXY TCP4 203.0.113.5 198.51.100.1 41000 443\r\n'

const ids = new WeakMap<object, number>()
let nextId = 1

// With proxyFix registered (trust: loopback): request.ip starts from the header's source,
// request.proxy.original.ip is the TCP peer, request.proxy.proxyProtocol the socket's object.
export function see (request: FastifyRequest): object {
  const info = (request.raw.socket as any)[kProxyProtocol]
  if (info !== undefined && !ids.has(info)) ids.set(info, nextId++)
  if ((info ?? null) !== request.proxy.proxyProtocol) throw new Error('request.proxy.proxyProtocol is not the socket\'s object')
  return { ip: request.ip, original: request.proxy.original.ip, id: info === undefined ? null : ids.get(info), pp: request.proxy.proxyProtocol }
}

export interface Started { app: FastifyInstance, port: number, lines: string[] }

export async function start (t: Tap.Test, options: ProxyProtocolOptions = {}, fastifyOptions: object = {}, listen: object = { host: '127.0.0.1', port: 0 }): Promise<Started> {
  const lines: string[] = []
  const factory = proxyProtocolServer({ logger: { warn: (obj, msg) => { lines.push(msg) } }, ...options })
  const app = Fastify({ serverFactory: factory, ...fastifyOptions })
  await app.register(proxyFix)
  app.get('/', async (request) => see(request))
  await app.listen(listen)
  t.teardown(() => app.close())
  return { app, port: typeof app.server.address() === 'string' ? 0 : portOf(app.server), lines }
}
