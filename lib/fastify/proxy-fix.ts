import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { registerPlan } from './request-getters'
import type { ProxyFixOptions } from '../../types'

const plugin: FastifyPluginAsync<ProxyFixOptions> = async (fastify, opts) => {
  registerPlan(fastify, opts, 'proxyFix')
}

export const proxyFix = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix' })
export default proxyFix
