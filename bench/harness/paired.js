'use strict'

// The paired method: both servers of a row run at once, pinned to the same CPU, and are loaded at
// the same fixed rate by one client on the other CPU. Each round measures each server's CPU time
// per request; the row's figure is the median of the per-round ratios (baseline / ours: above 1,
// ours is cheaper), with their spread. A first round warms up and is not counted.
const { startServer, serverCpu, stopServer } = require('./children')
const { fetchOnce, Pool } = require('./client')
const { drive } = require('./pace')
const { median, spread } = require('./stats')
const { variants } = require('../variants')

const DEFAULTS = { rounds: 7, seconds: 1.75, connections: 32, load: 0.6, probeMs: 1000, maxProbes: 10, warmRequests: 10000 }

/** A sanity request: 200 and the values the variant must produce. Returns the response size. */
async function check (server) {
  const spec = variants[server.variant]
  const res = await fetchOnce(server.port, spec)
  if (res.status !== 200) throw new Error(`${server.variant}: sanity request answered ${res.status}: ${res.body}`)
  const got = JSON.parse(res.body)
  for (const [k, want] of Object.entries(spec.expect)) {
    if (got[k] !== want) throw new Error(`${server.variant}: sanity: ${k} is ${JSON.stringify(got[k])}, expected ${JSON.stringify(want)}`)
  }
  return res.size
}

/**
 * Measures `ours` against `baseline`. opts: rounds, seconds, connections, load (the offered rate as
 * a share of the slower side's capacity, probed with both saturated at once), rate (fixed req/s
 * per side, overrides load), log (progress lines).
 */
async function paired (ours, baseline, opts = {}) {
  const o = { ...DEFAULTS, ...opts }
  const started = await Promise.allSettled([startServer(ours), startServer(baseline)])
  const servers = started.filter((s) => s.status === 'fulfilled').map((s) => s.value)
  const failed = started.find((s) => s.status === 'rejected')
  if (failed) {
    await Promise.all(servers.map(stopServer))
    throw failed.reason
  }
  let pools = []
  try {
    const sizes = []
    for (const s of servers) sizes.push(await check(s))
    pools = servers.map((s, i) => new Pool(s.port, variants[s.variant], sizes[i], o.connections))
    await Promise.all(pools.map((p) => p.ready))

    // A cold server answers a fraction of what it will once the JIT has warmed up, and an Express
    // app takes several seconds to get there: a rate set from a cold probe left it idling at a
    // fifth of its capacity, where costs paid per second (timers, GC) swamp those per request.
    // Its first seconds can look steady and still be cold (the optimizing compiler's thread shares
    // the pinned CPU). So both are saturated at once, a probe at a time, until each side has
    // answered warmRequests and the last two probes agree within 10% (at most maxProbes); the
    // last one sets the capacity.
    let capacity = 0
    const answered = [0, 0]
    for (let probes = 1; probes <= o.maxProbes; probes++) {
      const probe = await drive(pools, Infinity, o.probeMs)
      probe.forEach((r, i) => { answered[i] += r.responses })
      const now = Math.min(...probe.map((r) => r.responses)) * 1000 / o.probeMs
      const steady = Math.min(...answered) >= o.warmRequests && Math.abs(now - capacity) <= 0.1 * capacity
      capacity = now
      if (steady) break
    }
    const rate = o.rate ?? Math.max(100, Math.round(capacity * o.load / 100) * 100)

    const ratios = []
    const cpu = [[], []]
    let redone = 0
    for (let round = 0; round <= o.rounds; round++) {
      const before = await Promise.all(servers.map(serverCpu))
      // whichever side goes first has an edge: alternate it every round (and every tick)
      // the warm-up round settles both at the offered rate; a second is enough after the probes
      const got = await drive(pools, rate, round === 0 ? 1000 : o.seconds * 1000, round % 2)
      const after = await Promise.all(servers.map(serverCpu))
      if (round === 0) continue // warm-up
      // A side that fell behind the offered rate ran saturated for a while: its CPU per request
      // is not comparable. Such a round is run again (at most twice per row, to stay within the time budget).
      const lag = Math.max(...got.map((g) => g.owed)) / (rate * o.seconds)
      if (lag > 0.02 && redone < 2) {
        redone++
        round--
        if (o.log) o.log(`  round ${round + 1} fell ${(100 * lag).toFixed(1)}% behind the offered rate: run again`)
        continue
      }
      const per = got.map((g, i) => (after[i] - before[i]) / g.responses)
      cpu[0].push(per[0])
      cpu[1].push(per[1])
      ratios.push(per[1] / per[0])
      if (o.log) o.log(`  round ${round}: ${(per[1] / per[0]).toFixed(3)} (${per[0].toFixed(2)} vs ${per[1].toFixed(2)} µs/req, ${got[0].responses} vs ${got[1].responses} responses)`)
    }
    return {
      ratio: median(ratios),
      spread: spread(ratios),
      ratios,
      oursUs: median(cpu[0]),
      baseUs: median(cpu[1]),
      rate,
      capacity,
      redone
    }
  } finally {
    for (const p of pools) p.close()
    await Promise.all(servers.map(stopServer))
  }
}

module.exports = { paired, DEFAULTS }
