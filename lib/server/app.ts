import type { WhoamiOptions } from '../../types'
import Fastify, { type FastifyInstance } from 'fastify'
import type net from 'node:net'
import { hostRewrite } from '../fastify/host-rewrite'
import { mountApp } from '../mount/mount-app'
import { expressHttpOptions } from '../mount/express-server'
import { isExpressApp } from '../mount/express-send'
import { proxyFix } from '../fastify/proxy-fix'
import type { Loaded } from './load'
import type { AccessLog } from './logging'
import { appLogger, quietController } from './logging'
import { defaultFactory, type Handler, type ServerFactory, type Tls } from './listen'
import { fixOptions, proxyFrom, rewriteOptions } from './proxy-settings'
import type { Settings } from './settings'
import { withProxyProtocol } from '../proxy-protocol/server'
import { whoami } from './whoami'

export interface Built {
  fastify: FastifyInstance
  /** Fastify's request handler, for the servers of further binds. */
  handler: Handler
  /** The server Fastify was given (the first bind's). */
  server: net.Server
  /** Makes another server around the same handler. */
  makeServer: () => net.Server
  /** Once set, health answers 503 and every response closes its connection. */
  state: { draining: boolean }
}

export interface BuildOptions {
  tls: Tls | null
  accessLog: AccessLog | null
  serverFactory?: ServerFactory
  /** Called after each response (the worker counts them for --max-requests). */
  onResponse?: () => void
}

/** The Fastify instance: proxyFix, hostRewrite, health, the access log, then the app, the plugin or whoami. */
export async function buildApp (settings: Settings, loaded: Loaded, opts: BuildOptions): Promise<Built> {
  // a mounted Express app gets its requests born with its own prototypes (see expressHttpOptions)
  const express = loaded.kind === 'mount' && isExpressApp(loaded.app)
  const factory = opts.serverFactory ?? defaultFactory(settings.keepAlive * 1000, express ? expressHttpOptions(loaded.app) : undefined)
  const factoryOpts = opts.tls === null ? {} : { https: opts.tls, http2: settings.http2 }
  let handler: Handler | null = null
  let server: net.Server | null = null
  const state = { draining: false }
  // --proxy-protocol: the reader goes in front of every server, before any connection listener
  const pp = settings.proxyProtocol
  const from = proxyFrom(settings) as string | string[]
  const wrap = (s: net.Server): net.Server => pp === null
    ? s
    : withProxyProtocol(s, { from, version: pp, logger: { warn: (obj, msg) => fastify.log.warn(obj, msg) } })
  const fastify = Fastify({
    serverFactory: (h: unknown) => {
      handler = h as unknown as Handler
      server = wrap(factory(handler, factoryOpts))
      return server as never
    },
    http2: settings.http2 && opts.tls !== null ? true : undefined,
    logger: appLogger(settings),
    logController: quietController(),
    return503OnClosing: false
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance
  fastify.addHook('onRequest', (request, reply, done) => {
    // While draining, each keep-alive client learns with its next response to reconnect elsewhere.
    if (state.draining && request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
    done()
  })
  if (opts.accessLog !== null) fastify.addHook('onResponse', opts.accessLog.hook)
  const counter = opts.onResponse
  if (counter !== undefined) fastify.addHook('onResponse', (_req, _reply, done) => { counter(); done() })
  if (settings.health !== null) {
    fastify.get(settings.health, async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      if (state.draining) return reply.code(503).send({ status: 'draining' })
      return { status: 'ok' }
    })
  }
  await fastify.register(proxyFix, fixOptions(settings))
  if (settings.hostHeader !== null) await fastify.register(hostRewrite, rewriteOptions(settings))
  const prefix = settings.prefix === '/' ? undefined : settings.prefix
  if (loaded.kind === 'mount') await fastify.register(mountApp, { app: loaded.app, prefix })
  else if (loaded.kind === 'plugin') await fastify.register(loaded.plugin, { prefix })
  // the page quotes the settings as given; checkPlugins compiled them at startup
  else await fastify.register(whoami, { prefix, settings: settings as WhoamiOptions['settings'] })
  await fastify.ready()
  const h = handler as unknown as Handler
  return { fastify, handler: h, server: server as unknown as net.Server, makeServer: () => wrap(factory(h, factoryOpts)), state }
}
