'use strict'

module.exports = require('neostandard')({
  ts: true,
  ignores: ['dist/**', 'coverage/**', '.tap/**', 'types/*.test-d.ts', 'test/fixtures/syntax-error.js']
})
