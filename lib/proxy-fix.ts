import type { FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions } from './options'
import { attach } from './state'

const plugin: FastifyPluginCallback<Record<string, unknown>> = (fastify, opts, done) => {
  const plan = compileOptions(opts, 'proxyFix')
  attach(fastify, plan)
  if (plan.trust.kind === 'all') {
    fastify.log.warn('proxyFix: trust is true, so every peer is trusted and any client can forge its IP, scheme and host')
  }
  done()
}

export const proxyFix = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix' })
export default proxyFix
