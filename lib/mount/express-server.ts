import { IncomingMessage, ServerResponse } from 'node:http'
import { invalidOption } from '../core/errors'
import { isExpressApp } from './express-send'
import type { ExpressHttpOptions } from '../../types'

interface ExpressPrototypes { request: object, response: object }

const kPrepared = Symbol('fastify-proxy-fix.expressHttpOptions')
/** The response prototypes expressHttpOptions handed out: Express sets them itself. */
const responses = new WeakSet<object>()

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
  responses.add(response)
  return { IncomingMessage: born(IncomingMessage, request), ServerResponse: born(ServerResponse, response) } as unknown as ExpressHttpOptions
}

/**
 * A constructor whose objects are made by `base` with `proto` as their prototype. Node's
 * IncomingMessage and ServerResponse are constructor functions: called on `this`, they lay the
 * object out as V8 expects (Reflect.construct with another new.target measured ten times slower
 * here). Should Node make them classes, which can not be called so, Reflect.construct takes over.
 */
export function born (base: new (...args: any[]) => object, proto: object): new (...args: any[]) => object {
  let made: (this: object, ...args: unknown[]) => unknown
  if (/^class\b/.test(Function.prototype.toString.call(base))) {
    made = function (...args: unknown[]) { return Reflect.construct(base, args, made) }
  } else {
    made = function (this: object, ...args: unknown[]) { (base as unknown as (...a: unknown[]) => void).apply(this, args) }
  }
  made.prototype = proto
  return made as unknown as new (...args: any[]) => object
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
  // Express's request object (and Express 5's or 4's own prototype chain up to IncomingMessage)
  for (let p: object | null = Object.getPrototypeOf(request); p !== null && p !== IncomingMessage.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor
      // the nearest definition of a name is the one Express uses; a setter takes assignments already
      if (typeof d.get !== 'function' || d.set !== undefined || Object.hasOwn(request, name)) continue
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

/** A response prototype from expressHttpOptions (an app's app.response): never pinned, Express sets it itself. */
export function isExpressResponse (proto: object): boolean {
  return responses.has(proto)
}
