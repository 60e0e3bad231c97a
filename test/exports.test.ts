import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

// Runs against the build (npm test builds before tap): both module systems see the same plugins.
const dist = join(__dirname, '..', 'dist', 'index.js')

test('require() gives the default plugin with named and .default exports', async (t) => {
  const out = execFileSync(process.execPath, ['-e', `
    const m = require(${JSON.stringify(dist)})
    console.log(JSON.stringify([typeof m, m.default === m, m.proxyFix === m, typeof m.hostRewrite + typeof m.mountApp, m.optionsSchema.$id, m[Symbol.for('fastify.display-name')], typeof m.serve + typeof m.whoami, typeof m.expressHttpOptions]))
  `]).toString()
  t.strictSame(JSON.parse(out), ['function', true, true, 'functionfunction', 'fastify-proxy-fix/options', 'fastify-proxy-fix', 'functionfunction', 'function'])
})

test('ESM: default and named imports', async (t) => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import def, { proxyFix, hostRewrite, mountApp, optionsSchema, serve, whoami, expressHttpOptions } from ${JSON.stringify('file://' + dist)}
    console.log(JSON.stringify([def === proxyFix, typeof hostRewrite, typeof mountApp, typeof optionsSchema, typeof serve, typeof whoami, typeof expressHttpOptions]))
  `]).toString()
  t.strictSame(JSON.parse(out), [true, 'function', 'function', 'object', 'function', 'function', 'function'])
})
