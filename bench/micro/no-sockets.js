'use strict'

// A paired row without sockets: the same two server variants as the HTTP row, each in its own
// pinned child, handed requests in-process (harness/dispatch.js) in batches run at once. The
// ratio is baseline CPU per request / ours over the JavaScript alone: it shows what the socket
// work shared by both sides hides in the HTTP rows, and it is a reference, not a target.
const { startServer, serverDispatch, stopServer } = require('../harness/children')
const { median, spread } = require('../harness/stats')

const BATCH_US = 200000 // long enough for process.cpuUsage()'s accounting
const WARM_US = 1000000

async function run (ours, base, rounds = 9) {
  const servers = await Promise.all([startServer(ours), startServer(base)])
  try {
    // warm both up (about WARM_US of CPU each), then size each side's batch to about BATCH_US
    const sizes = []
    for (const s of servers) {
      let perReq = 0
      for (let spent = 0, n = 2000; spent < WARM_US; n = Math.max(1000, Math.round(BATCH_US / perReq))) {
        const us = await serverDispatch(s, n)
        spent += us
        perReq = us / n
      }
      sizes.push(Math.max(1000, Math.round(BATCH_US / perReq)))
    }
    const per = [[], []]
    const ratios = []
    for (let r = 0; r < rounds; r++) {
      // both at once on the shared CPU, as in the HTTP rows: a change in the machine's speed
      // (a neighbour on the host) then reaches both sides of a round alike
      const order = r % 2 === 0 ? [0, 1] : [1, 0]
      const got = [0, 0]
      await Promise.all(order.map(async (i) => { got[i] = (await serverDispatch(servers[i], sizes[i])) / sizes[i] }))
      per[0].push(got[0])
      per[1].push(got[1])
      ratios.push(got[1] / got[0])
    }
    return { ratio: median(ratios), spread: spread(ratios), ours: median(per[0]), base: median(per[1]) }
  } finally {
    await Promise.all(servers.map(stopServer))
  }
}

module.exports = { run }
