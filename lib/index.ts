import { proxyFix } from './proxy-fix'
import { mountApp } from './mount-app'
import { optionsSchema } from './options'
import { resolve } from './resolve'
import * as errors from './errors'

// Fastify style: the module is the default plugin, with named and `.default` exports, so both
// require() and ESM named imports (through cjs-module-lexer) work.
module.exports = proxyFix
module.exports.default = proxyFix
module.exports.proxyFix = proxyFix
module.exports.mountApp = mountApp
module.exports.optionsSchema = optionsSchema
module.exports.resolve = resolve
module.exports.errors = errors
