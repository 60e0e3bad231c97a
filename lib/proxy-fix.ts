import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions } from './options'
import { attach } from './state'

const plugin: FastifyPluginAsync<Record<string, unknown>> = async (fastify, opts) => {
  const plan = compileOptions(opts, 'proxyFix')
  attach(fastify, plan)
  if (plan.trust.kind === 'all') {
    fastify.log.warn('proxyFix: trust is true, so every peer is trusted and any client can forge its IP, scheme and host')
  }
}

export const proxyFix = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix' })
export default proxyFix
