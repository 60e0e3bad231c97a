// `fastify-proxy-fix ranges`: the provider presets with their dates; `--update FILE` fetches the
// providers' published lists into FILE for --ranges-file.
import { PROVIDERS } from '../core/provider-ranges'
import { SOURCES, updateRanges, type Sources } from './ranges-update'
import { CliError } from './cli-error'

export interface RangesIo {
  stdout: (line: string) => void
}

/** Returns the exit code: 1 when a provider kept its last good list (a cron job should notice). */
export async function rangesCommand (argv: string[], io: RangesIo, sources: Sources = SOURCES): Promise<number> {
  if (argv.length === 0) {
    for (const [name, p] of Object.entries(PROVIDERS)) {
      io.stdout(`${name.padEnd(11)} ${String(p.ranges.length).padStart(3)} ranges, list of ${p.asOf}, from ${p.source.join(' ')}`)
    }
    io.stdout('The snapshot ships in the package; "fastify-proxy-fix ranges --update FILE" fetches fresh lists for --ranges-file.')
    return 0
  }
  if (argv[0] !== '--update') throw new CliError(`ranges: unknown argument ${JSON.stringify(argv[0])} (usage: fastify-proxy-fix ranges [--update FILE])`)
  if (argv.length !== 2 || argv[1] === '') throw new CliError('ranges --update needs one FILE to write')
  const outcomes = await updateRanges(argv[1], sources)
  for (const o of outcomes) {
    io.stdout(o.status === 'updated' ? `${o.provider}: updated, ${o.count} ranges` : `${o.provider}: kept the last good list (${o.count} ranges): ${o.reason as string}`)
  }
  io.stdout(`wrote ${argv[1]}`)
  return outcomes.every((o) => o.status === 'updated') ? 0 : 1
}
