// The shared options as a JSON Schema: the published form of what compileOptions (options.ts)
// enforces with precise messages.
import { MAX_ENTRIES } from './list'
import { TOKEN_PATTERN } from './token'

export const FIELDS = ['for', 'proto', 'host', 'port', 'prefix'] as const
export type Field = typeof FIELDS[number]

const trustList = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }
  ]
}
// An empty trust (an unset environment variable) means "trust nothing", as in proxy-addr.
const emptyList = { anyOf: [{ const: '' }, { type: 'array', maxItems: 0 }] }

/**
 * The option schema shared by every plugin and by route config. The code below enforces it with
 * precise messages; the JSON Schema is the published contract (functions are outside JSON Schema,
 * so a `trust` function is described in the docs only).
 */
export const optionsSchema = {
  $id: 'fastify-proxy-fix/options',
  type: 'object',
  additionalProperties: false,
  properties: {
    trust: {
      description: "Who counts as a proxy: addresses, CIDRs, named ranges or 'unix'; a hop count; true; false; or a function.",
      default: 'loopback',
      anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: MAX_ENTRIES }, trustList, emptyList]
    },
    rangesFile: {
      description: 'A provider-ranges file written by "fastify-proxy-fix ranges --update FILE", used for the named presets (cloudflare, cloudfront, fastly, gcp-lb) instead of the snapshot in the package.',
      type: 'string',
      minLength: 1
    },
    peers: {
      description: "With a numeric trust: who may connect and have its count believed. Addresses, CIDRs, named ranges or 'unix'; true; or a function.",
      default: ['loopback', 'linklocal', 'uniquelocal', 'unix'],
      anyOf: [{ const: true }, trustList]
    },
    hops: {
      description: 'Per-field hop counts, with a numeric trust only.',
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(FIELDS.map((f) => [f, { type: 'integer', minimum: 0, maximum: MAX_ENTRIES }]))
    },
    fields: {
      description: 'Forwarded fields honoured, with address or function trust.',
      type: 'array',
      uniqueItems: true,
      items: { enum: [...FIELDS] },
      default: [...FIELDS]
    },
    forwarded: { description: 'Read RFC 7239 Forwarded instead of X-Forwarded-*.', type: 'boolean', default: false },
    clientIpHeader: {
      description: 'A single-IP header set by the nearest trusted proxy; or headers tied to the edges allowed to send them, such as { "cf-connecting-ip": ["cloudflare"] }.',
      anyOf: [
        { type: 'string', pattern: TOKEN_PATTERN },
        { type: 'object', minProperties: 1, propertyNames: { pattern: TOKEN_PATTERN }, additionalProperties: trustList }
      ]
    },
    allowedHosts: {
      description: 'Exact host names, or ".example.com" for a domain and its subdomains.',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 } }]
    },
    warnings: { description: 'Log misconfiguration warnings (each once per process, kind and peer).', type: 'boolean', default: true },
    strict: { description: 'Answer 400 to a malformed forwarded value from a trusted peer.', type: 'boolean', default: false },
    header: { description: 'hostRewrite only: the header that carries the public host.', type: 'string', pattern: TOKEN_PATTERN }
  }
} as const
