import type { FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { compileOptions } from './options'
import { attach } from './state'

const plugin: FastifyPluginCallback<Record<string, unknown>> = (fastify, opts, done) => {
  attach(fastify, compileOptions(opts, 'hostRewrite'))
  done()
}

export const hostRewrite = fp(plugin, { fastify: '5.x', name: 'fastify-proxy-fix/host-rewrite' })
export default hostRewrite
