#!/usr/bin/env node
import { lineWriter, main, realCluster } from './server/index'

// The entry only hands over the process; the exit is explicit, so no handle of the app keeps it alive.
main(process.argv.slice(2), {
  stdout: lineWriter(process.stdout),
  stderr: lineWriter(process.stderr),
  cwd: process.cwd(),
  env: process.env,
  signals: process,
  cluster: realCluster
}).then((code) => process.exit(code))
