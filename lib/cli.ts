#!/usr/bin/env node
import { main, processIo } from './serve'

// Everything lives in serve.ts; this entry only hands over the process.
main(process.argv.slice(2), processIo()).then((code) => { process.exitCode = code })
