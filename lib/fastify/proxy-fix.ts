import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions, planNotices } from '../core/options'
import { attach } from './request-getters'
import type { ProxyFixOptions } from '../../types'

const plugin: FastifyPluginAsync<ProxyFixOptions> = async (fastify, opts) => {
  const plan = compileOptions(opts, 'proxyFix')
  attach(fastify, plan)
  for (const [level, code, message] of planNotices(plan)) fastify.log[level](code, message)
}

export const proxyFix = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix' })
export default proxyFix
