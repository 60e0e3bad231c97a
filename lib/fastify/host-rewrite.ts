import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions, planNotices } from '../core/options'
import { attach } from './request-getters'
import type { HostRewriteOptions } from '../../types'

const plugin: FastifyPluginAsync<HostRewriteOptions> = async (fastify, opts) => {
  const plan = compileOptions(opts, 'hostRewrite')
  attach(fastify, plan)
  for (const [level, code, message] of planNotices(plan)) fastify.log[level](code, message)
}

export const hostRewrite = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/host-rewrite' })
export default hostRewrite
