import { CliError } from './cli-error'
import type { Key } from './settings'

export const HELP = `Usage: fastify-proxy-fix serve [module[:export]] [options]

Serves an Express or Connect app, a (req, res, next) function or a Fastify plugin from a
CommonJS or ESM module (its default export, a named export "app" or "plugin", or the export
named after the colon), behind proxyFix and hostRewrite. Without a module, serves the built-in
whoami page. Flags override --config, which overrides the environment.

Binding (default: PORT and HOST from the environment, else 127.0.0.1:3000):
  -b, --bind ADDR           HOST:PORT, [V6]:PORT, unix:PATH or fd://N; repeatable
  -p, --port N              TCP port (0 picks a free port)
      --host ADDR           address to listen on (default 127.0.0.1)
      --socket PATH         a Unix-domain socket
      --certfile FILE       serve TLS with this certificate chain (PEM) ...
      --keyfile FILE        ... and this private key (PEM)
      --http2               HTTP/2 over TLS (HTTP/1.1 clients still served)
Processes:
  -w, --workers N|auto      pre-fork N workers under a primary (env WEB_CONCURRENCY)
      --timeout S           kill and replace a worker silent for S seconds (default 30; 0 off)
      --graceful-timeout S  a drain ends after S seconds, whatever is still open (default 30)
      --keep-alive S        idle keep-alive connections close after S seconds (default 5)
      --max-requests N      replace a worker after N requests (needs --workers)
      --max-requests-jitter J   plus a random 0..J, so workers do not restart together
      --health PATH         answer 200 at PATH while serving, 503 once draining
Logging:
      --access-log PATH|-|off   one line per request (default -, stderr)
      --access-log-format combined|json   (default combined)
      --log-level LEVEL     fatal, error, warn, info, debug, trace or silent (default info)
Proxies:
      --trust LIST|N        who counts as a proxy: IPs, CIDRs, loopback, linklocal,
                            uniquelocal, unix; or a hop count (default loopback,unix;
                            env FORWARDED_ALLOW_IPS)
      --peers LIST          with a hop count: who may connect and be counted
      --hops for=N,...      per-field hop counts, with a numeric --trust
      --fields LIST         forwarded fields honoured: for,proto,host,port,prefix
      --forwarded           read RFC 7239 Forwarded instead of X-Forwarded-*
      --client-ip-header H  a single-IP header set by the proxy (CF-Connecting-IP ...)
      --host-header NAME    take the host from this header set by a trusted proxy
      --allowed-hosts LIST  answer 400 unless the host is listed (".example.com": domain)
      --strict              answer 400 to a malformed forwarded value from a proxy
App:
      --prefix P            mount the app (or register the plugin) under P (default /)
Other:
  -c, --config FILE         settings from a JSON file or a CommonJS/ESM module
      --check-config        validate everything, print the effective settings, exit
  -v, --version             print the version
  -h, --help                print this help

Signals: TERM, INT graceful stop; QUIT fast stop; HUP rolling reload (with --workers);
TTIN, TTOU one worker more or less; USR1 reopen log files.
`

type Kind = 'string' | 'boolean' | 'list'

const FLAGS: Record<string, [Key | 'config' | 'checkConfig' | 'help' | 'version', Kind]> = {
  bind: ['bind', 'list'],
  port: ['port', 'string'],
  host: ['host', 'string'],
  socket: ['socket', 'string'],
  certfile: ['certfile', 'string'],
  keyfile: ['keyfile', 'string'],
  http2: ['http2', 'boolean'],
  workers: ['workers', 'string'],
  timeout: ['timeout', 'string'],
  'graceful-timeout': ['gracefulTimeout', 'string'],
  'keep-alive': ['keepAlive', 'string'],
  'max-requests': ['maxRequests', 'string'],
  'max-requests-jitter': ['maxRequestsJitter', 'string'],
  health: ['health', 'string'],
  'access-log': ['accessLog', 'string'],
  'access-log-format': ['accessLogFormat', 'string'],
  'log-level': ['logLevel', 'string'],
  trust: ['trust', 'string'],
  peers: ['peers', 'string'],
  hops: ['hops', 'string'],
  fields: ['fields', 'string'],
  forwarded: ['forwarded', 'boolean'],
  'client-ip-header': ['clientIpHeader', 'string'],
  'host-header': ['hostHeader', 'string'],
  'allowed-hosts': ['allowedHosts', 'string'],
  strict: ['strict', 'boolean'],
  prefix: ['prefix', 'string'],
  config: ['config', 'string'],
  'check-config': ['checkConfig', 'boolean'],
  version: ['version', 'boolean'],
  help: ['help', 'boolean']
}

const SHORT: Record<string, string> = { b: 'bind', p: 'port', w: 'workers', c: 'config', v: 'version', h: 'help' }

export interface CommandLine {
  help: boolean
  version: boolean
  checkConfig: boolean
  config: string | null
  /** Settings given as flags, as text (bind as a list). */
  flags: Partial<Record<Key, unknown>>
  /** How each flag was spelled, for error messages. */
  spelled: Partial<Record<Key, string>>
}

/**
 * Parses `serve [module] [flags]`. A flag's value is the next argument whatever it looks like,
 * so `--workers -1` reaches the range check and is reported as a bad worker count.
 */
export function parseCommandLine (argv: string[]): CommandLine {
  const out: CommandLine = { help: false, version: false, checkConfig: false, config: null, flags: {}, spelled: {} }
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg)
      continue
    }
    let name: string
    let inline: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      inline = eq === -1 ? undefined : arg.slice(eq + 1)
    } else {
      const long = SHORT[arg[1]]
      if (long === undefined) throw new CliError(`unknown option ${arg} (try --help)`)
      name = long
      if (arg.length > 2) inline = arg.slice(2)
    }
    const spec = FLAGS[name]
    if (spec === undefined) throw new CliError(`unknown option ${arg.split('=')[0]} (try --help)`)
    const [key, kind] = spec
    const spelled = arg.startsWith('--') ? `--${name}` : arg.slice(0, 2)
    let value: unknown
    if (kind === 'boolean') {
      if (inline !== undefined) throw new CliError(`${spelled} takes no value, not ${JSON.stringify(inline)}`)
      value = true
    } else {
      if (inline === undefined) {
        if (i + 1 >= argv.length) throw new CliError(`${spelled} needs a value (try --help)`)
        inline = argv[++i]
      }
      value = inline
    }
    if (key === 'help' || key === 'version' || key === 'checkConfig') out[key] = true
    else if (key === 'config') out.config = value as string
    else {
      if (kind === 'list') value = [...(out.flags[key] as string[] | undefined ?? []), value]
      out.flags[key] = value
      out.spelled[key] = spelled
    }
  }
  if (out.help || out.version) return out
  const [command, module, ...extra] = positionals
  if (command !== 'serve') {
    throw new CliError(command === undefined ? 'missing command: serve (try --help)' : `unknown command ${JSON.stringify(command)} (try --help)`)
  }
  if (extra.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(extra[0])}: serve takes one module`)
  if (module !== undefined) {
    out.flags.app = module
    out.spelled.app = 'module'
  }
  return out
}
