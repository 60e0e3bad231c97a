import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions } from './options'
import { attach } from './state'

const plugin: FastifyPluginAsync<Record<string, unknown>> = async (fastify, opts) => {
  attach(fastify, compileOptions(opts, 'hostRewrite'))
}

export const hostRewrite = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/host-rewrite' })
export default hostRewrite
