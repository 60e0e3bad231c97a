// The property tests' run counts and replay settings: FC_RUNS (default 1,000; 10,000 on CI),
// FC_SEED and FC_PATH to replay a failure fast-check reported.
import type fc from 'fast-check'

const CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
export const RUNS = Number(process.env.FC_RUNS ?? (CI ? 10_000 : 1_000))

export function params (numRuns: number): fc.Parameters<any> {
  const p: fc.Parameters<any> = { numRuns }
  if (process.env.FC_SEED !== undefined) p.seed = Number(process.env.FC_SEED)
  if (process.env.FC_PATH !== undefined) p.path = process.env.FC_PATH
  return p
}
