import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { registerPlan } from './request-getters'
import type { HostRewriteOptions } from '../../types'

const plugin: FastifyPluginAsync<HostRewriteOptions> = async (fastify, opts) => {
  registerPlan(fastify, opts, 'hostRewrite')
}

export const hostRewrite = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/host-rewrite' })
export default hostRewrite
