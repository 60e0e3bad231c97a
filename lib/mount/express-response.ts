import { ServerResponse } from 'node:http'
import { jsonBody, sendDirect, type ExpressResponse } from './express-send'

// What the mount puts on a mounted Express app's response, around express-send.ts.

/** res.send on a mounted Express app's response (Express has set `res.req`). */
export function send (this: ExpressResponse, ...args: unknown[]): unknown {
  if (args.length === 1 && sendDirect(this.req, this, args[0])) return this
  return (Object.getPrototypeOf(this) as ExpressResponse).send.apply(this, args)
}

/** res.json on a mounted Express app's response. */
export function json (this: ExpressResponse, ...args: unknown[]): unknown {
  const body = args.length === 1 ? jsonBody(this, args[0]) : false
  if (body === false) return (Object.getPrototypeOf(this) as ExpressResponse).json.apply(this, args)
  return this.send(body)
}

/**
 * Express replaces the response's prototype with one built on http.ServerResponse. When the
 * response is a subclass (light-my-request's inject, a server's custom ServerResponse class), the
 * subclass's methods would be lost, so they are pinned as own properties first.
 */
export function pinMethods (res: ServerResponse, proto: object): void {
  for (let p = proto; p !== ServerResponse.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor
      if (name !== 'constructor' && typeof d.value === 'function' && !Object.hasOwn(res, name)) {
        Object.defineProperty(res, name, { value: d.value, writable: true, configurable: true })
      }
    }
  }
}
