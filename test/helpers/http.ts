// An HTTP(S) client for the tests that go through a real proxy or server: no agent pooling unless
// one is given, a 10 s limit, and the body collected as text (or parsed as JSON by `call`).
import http from 'node:http'
import https from 'node:https'

export interface Response { status: number, headers: http.IncomingHttpHeaders, body: string }

/** One request to `url`; https: URLs accept any certificate (the tests' own self-signed ones). */
export function request (url: string, opts: https.RequestOptions & { body?: string, ALPNProtocols?: string[] } = {}): Promise<Response> {
  const lib = url.startsWith('https:') ? https : http
  const { body: payload, ...options } = opts
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { agent: false, rejectUnauthorized: false, ...options }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('request timed out')))
    req.end(payload)
  })
}

export interface Reply { status: number, body: Record<string, any> }

/** One request from `localAddress`, with exactly these headers; the reply parsed as JSON. */
export async function call (url: string, localAddress: string, headers: Record<string, string>, opts: https.RequestOptions & { ALPNProtocols?: string[] } = {}): Promise<Reply> {
  const res = await request(url, { localAddress, headers, ...opts })
  try {
    return { status: res.status, body: JSON.parse(res.body) }
  } catch {
    throw new Error(`${res.status}: ${res.body}`)
  }
}
