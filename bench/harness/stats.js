'use strict'

function median (xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** { min, max } of the finite values. */
function spread (xs) {
  const s = xs.filter(Number.isFinite)
  return { min: Math.min(...s), max: Math.max(...s) }
}

module.exports = { median, spread }
