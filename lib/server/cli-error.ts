/** A failure worth one line on stderr: never a stack trace. */
export class CliError extends Error {}

/** The one line printed for any failure. */
export function errorLine (err: unknown): string {
  const e = err as { code?: unknown, message?: unknown }
  let message = typeof e?.message === 'string' ? e.message : String(err)
  if (!(err instanceof CliError) && typeof e?.code === 'string' && !message.includes(e.code)) message = `${e.code}: ${message}`
  return 'fastify-proxy-fix: ' + message.replace(/\s*\n\s*/g, ' ')
}

function shown (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Throws the one-line error naming a setting and its value. */
export function bad (name: string, value: unknown, why: string): never {
  throw new CliError(`${name} ${shown(value)}: ${why}`)
}
