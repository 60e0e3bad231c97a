import { IncomingMessage, ServerResponse } from 'node:http'
import { invalidOption } from '../core/errors'
import { isExpressApp } from './express-send'
import type { ExpressHttpOptions } from '../../types'

interface ExpressPrototypes { request: object, response: object }

/** The request classes expressHttpOptions made: how a server is known to hand out Express's prototypes. */
const made = new WeakSet<object>()

/**
 * Server options whose request and response objects are born with the Express app's own
 * prototypes. Express gives every request its prototypes with Object.setPrototypeOf, which turns
 * an object V8 has laid out into a slow dictionary and measured several times what the rest of
 * an Express request costs; given the prototype it already has, the call changes nothing.
 */
export function expressHttpOptions (app: unknown): ExpressHttpOptions {
  if (!isExpressApp(app)) return invalidOption('app', app, 'must be an Express application (express()), whose request and response prototypes the server is to use')
  const { request, response } = app as unknown as ExpressPrototypes
  // Node's http.Server constructs these with `new`; IncomingMessage and ServerResponse are plain
  // constructor functions, so the prototype can be the app's own object rather than a subclass's.
  function ExpressRequest (this: IncomingMessage, ...args: ConstructorParameters<typeof IncomingMessage>): void {
    IncomingMessage.apply(this, args)
  }
  ExpressRequest.prototype = request
  function ExpressResponse (this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>): void {
    ServerResponse.apply(this, args)
  }
  ExpressResponse.prototype = response
  made.add(ExpressRequest)
  return { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse } as unknown as ExpressHttpOptions
}

/** Whether `server` was created with expressHttpOptions (read from the class Node keeps for it). */
export function servesExpressRequests (server: object): boolean {
  for (const key of Object.getOwnPropertySymbols(server)) {
    const value = (server as Record<symbol, unknown>)[key]
    if (typeof value === 'function' && made.has(value)) return true
  }
  return false
}

/** An Express app's response prototype (app.response, which carries `app`): never pinned, Express sets it itself. */
export function isExpressResponse (proto: object): boolean {
  return isExpressApp((proto as { app?: unknown }).app)
}
