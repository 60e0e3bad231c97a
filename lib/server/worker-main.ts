import cluster from 'node:cluster'
import { lineWriter, workerMain } from './index'

// A cluster worker's entry: the primary runs this file, never the app's module itself.
const worker = cluster.worker as NonNullable<typeof cluster.worker>
workerMain(process.env, {
  stdout: lineWriter(process.stdout),
  stderr: lineWriter(process.stderr),
  cwd: process.cwd(),
  signals: process,
  channel: { send: (m) => worker.send(m), on: (e, fn) => worker.on(e, fn) },
  random: Math.random
}).then(process.exit.bind(process))
