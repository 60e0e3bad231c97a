import { LogController, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import pino from 'pino'
import type { Settings } from './settings'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number): string => (n < 10 ? '0' : '') + n

/** Apache's `[10/Oct/2000:13:55:36 +0000]`, in UTC. */
export function clfTime (ms: number): string {
  const d = new Date(ms)
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}

/** A value inside quotes: quotes, backslashes and control characters escaped, so no one can forge a line. */
export function quoted (value: unknown): string {
  if (value === undefined || value === '') return '"-"'
  // eslint-disable-next-line no-control-regex
  return '"' + String(value).replace(/[\\"\x00-\x1f\x7f]/g, (c) => c === '"' ? '\\"' : c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + '"'
}

export interface AccessEntry {
  remoteAddress: string
  time: number
  method: string
  url: string
  httpVersion: string
  status: number
  size: number | null
  referer: string | undefined
  userAgent: string | undefined
  durationMs: number
}

/** Apache's combined format, with the corrected client, then the duration in seconds (as nginx's $request_time). */
export function combinedLine (e: AccessEntry): string {
  const line = quoted(`${e.method} ${e.url} HTTP/${e.httpVersion}`)
  return `${e.remoteAddress} - - [${clfTime(e.time)}] ${line} ${e.status} ${e.size ?? '-'} ${quoted(e.referer)} ${quoted(e.userAgent)} ${(e.durationMs / 1000).toFixed(3)}\n`
}

export function entryOf (request: FastifyRequest, reply: FastifyReply, now: number): AccessEntry {
  const raw = request.raw
  const length = reply.getHeader('content-length')
  return {
    remoteAddress: request.ip ?? '-',
    time: now,
    method: raw.method as string,
    url: raw.url as string,
    httpVersion: raw.httpVersion,
    status: reply.statusCode,
    size: length === undefined ? null : Number(length),
    referer: raw.headers.referer,
    userAgent: raw.headers['user-agent'],
    durationMs: reply.elapsedTime
  }
}

export interface AccessLog {
  /** An onResponse hook: one line per request, written after the response. */
  hook: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  /** USR1: a rotated file is opened anew. */
  reopen: () => void
  flush: () => void
}

/** The access log of these settings, or null when it is off. Writes through pino's destination (SonicBoom). */
export function accessLog (settings: Pick<Settings, 'accessLog' | 'accessLogFormat'>): AccessLog | null {
  if (settings.accessLog === null) return null
  const file = settings.accessLog !== '-'
  const dest = pino.destination({ dest: file ? settings.accessLog : 2, sync: true, mkdir: file })
  let write: (e: AccessEntry) => void
  if (settings.accessLogFormat === 'json') {
    const logger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, dest)
    write = (e) => logger.info({ ...e, time: undefined, size: e.size ?? undefined }, 'request')
  } else {
    write = (e) => dest.write(combinedLine(e))
  }
  return {
    hook (request, reply, done) {
      write(entryOf(request, reply, Date.now()))
      done()
    },
    reopen () {
      if (file) dest.reopen()
    },
    flush () {
      dest.flushSync()
    }
  }
}

/** Fastify's own logger: the app's logs and errors, as JSON on stderr. */
export function appLogger (settings: Pick<Settings, 'logLevel'>): { level: string, stream: NodeJS.WritableStream } {
  return { level: settings.logLevel, stream: process.stderr }
}

/** Fastify's log lines without "incoming request" and "request completed": the access log says it once. Errors stay, with their stack. */
export function quietController (): LogController {
  return new (class extends LogController {
    incomingRequest (): void {}
    requestCompleted (): void {}
  })()
}
