import { proxyFix } from './fastify/proxy-fix'
import { hostRewrite } from './fastify/host-rewrite'
import { mountApp } from './mount/mount-app'
import { expressHttpOptions } from './mount/express-server'
import { optionsSchema } from './core/options-schema'
import { serve } from './server/index'
import { whoami } from './server/whoami'
import { proxyProtocolServer, withProxyProtocol } from './proxy-protocol/server'
import { kProxyProtocol } from './proxy-protocol/listener'

// Fastify style: the module is the default plugin, with named and `.default` exports, so both
// require() and ESM named imports (through cjs-module-lexer) work.
module.exports = proxyFix
module.exports.default = proxyFix
module.exports.proxyFix = proxyFix
module.exports.hostRewrite = hostRewrite
module.exports.mountApp = mountApp
module.exports.expressHttpOptions = expressHttpOptions
module.exports.optionsSchema = optionsSchema
module.exports.serve = serve
module.exports.whoami = whoami
module.exports.proxyProtocolServer = proxyProtocolServer
module.exports.withProxyProtocol = withProxyProtocol
module.exports.kProxyProtocol = kProxyProtocol
