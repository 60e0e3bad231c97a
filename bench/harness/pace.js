'use strict'

// Drives several pools at once at the same fixed offered rate, spread evenly over time: each
// millisecond every pool is owed rate × elapsed requests and is topped up to that, the pools taking
// turns at going first. Equal rates make the sides do equal work in equal time, so CPU per request
// compares like with like (a saturated server batches more and its cost per request falls).
// rate = Infinity is a closed loop: every connection re-sends at once (used to probe capacity).

/**
 * Runs for `ms`, then waits for the requests in flight. Resolves one result per pool:
 * { responses, owed } where owed counts requests the pool fell behind by (it could not keep up).
 */
function drive (pools, rate, ms, first = 0) {
  return new Promise((resolve, reject) => {
    const n = pools.length
    const sent = new Array(n).fill(0)
    const start = pools.map((p) => p.responses)
    let due = 0
    let stopped = false
    let tick = first
    let settled = false

    const closed = rate === Infinity
    const pump = (i) => {
      const p = pools[i]
      for (;;) {
        if (!closed && sent[i] >= due) return
        if (!p.send()) return
        sent[i]++
      }
    }
    const finish = () => {
      if (settled) return
      const err = pools.find((p) => p.error !== null)
      if (err) {
        settled = true
        clearInterval(timer)
        return reject(err.error)
      }
      if (!stopped || pools.some((p) => p.inFlight > 0)) return
      settled = true
      resolve(pools.map((p, i) => ({ responses: p.responses - start[i], owed: rate === Infinity ? 0 : Math.max(0, due - sent[i]) })))
    }
    pools.forEach((p, i) => {
      p.onResponse = () => {
        if (!stopped) pump(i)
        finish()
      }
    })

    const t0 = process.hrtime.bigint()
    const step = () => {
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
      if (elapsed >= ms) {
        clearInterval(timer)
        if (rate !== Infinity) {
          due = Math.floor(rate * ms / 1000)
          for (let k = 0; k < n; k++) pump((tick + k) % n)
        }
        stopped = true
        return finish()
      }
      due = Math.floor(rate * elapsed / 1000)
      for (let k = 0; k < n; k++) pump((tick + k) % n)
      tick++
    }
    const timer = setInterval(step, 1)
    step()
  })
}

module.exports = { drive }
