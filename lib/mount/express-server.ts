import { IncomingMessage, ServerResponse } from 'node:http'
import { invalidOption } from '../core/errors'
import { isExpressApp } from './express-send'
import type { ExpressHttpOptions } from '../../types'

interface ExpressPrototypes { request: object, response: object }

const kPrepared = Symbol('fastify-proxy-fix.expressHttpOptions')

/**
 * Server options whose request and response objects are born with the Express app's own
 * prototypes. Express gives every request its prototypes with Object.setPrototypeOf, which turns
 * an object V8 has laid out into a slow dictionary, and costs more than the rest of an Express
 * request; given the prototype it already has, the call changes nothing.
 */
export function expressHttpOptions (app: unknown): ExpressHttpOptions {
  if (!isExpressApp(app)) return invalidOption('app', app, 'must be an Express application (express()), whose request and response prototypes the server is to use')
  const { request, response } = app as unknown as ExpressPrototypes
  prepare(request)
  // Reflect.construct makes the object with the app's prototype whether Node's classes are
  // constructor functions (as in Node 20) or classes.
  function ExpressRequest (...args: ConstructorParameters<typeof IncomingMessage>): IncomingMessage {
    return Reflect.construct(IncomingMessage, args, ExpressRequest)
  }
  ExpressRequest.prototype = request
  function ExpressResponse (...args: ConstructorParameters<typeof ServerResponse>): ServerResponse {
    return Reflect.construct(ServerResponse, args, ExpressResponse)
  }
  ExpressResponse.prototype = response
  return { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse } as unknown as ExpressHttpOptions
}

/**
 * Every request of such a server now has the app's request prototype, also where the app never
 * runs: Fastify's own routes and hooks, other mounted apps, fastify.use() middleware. There, the
 * raw request must read as a plain IncomingMessage: Express's getters (`ip`, `protocol`,
 * `hostname`, `host`...) would answer from headers under the app's own `trust proxy`, which a
 * client can forge, and they have no setters, so `req.raw.ip = ...` (@fastify/middie,
 * @fastify/express) and `req.query = ...` (Connect apps) would throw. So each such getter, on the
 * app's own request object (not Express's shared one), answers as Express only once Express has
 * taken the request (it sets `req.res` first), reads undefined before, and takes an assignment
 * as an own property. The mount's corrected values are own properties, as on a plain server.
 */
function prepare (request: object): void {
  if (Object.hasOwn(request, kPrepared)) return
  Object.defineProperty(request, kPrepared, { value: true })
  const seen = new Set<string | symbol>()
  for (let p: object | null = request; p !== null && p !== IncomingMessage.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor
      if (seen.has(name)) continue
      seen.add(name)
      if (typeof d.get !== 'function' || d.set !== undefined) continue
      const get = d.get
      Object.defineProperty(request, name, {
        configurable: true,
        enumerable: d.enumerable,
        get (this: object) { return Object.hasOwn(this, 'res') ? get.call(this) : undefined },
        set (this: object, value: unknown) {
          Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true })
        }
      })
    }
  }
}

/** An Express app's response prototype (app.response, which carries `app`): never pinned, Express sets it itself. */
export function isExpressResponse (proto: object): boolean {
  return isExpressApp((proto as { app?: unknown }).app)
}
