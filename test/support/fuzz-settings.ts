import fc from 'fast-check'

/**
 * One seed for the whole suite, so CI replays the same cases every run; FUZZ_SEED and FUZZ_RUNS
 * fuzz longer or elsewhere locally (see README.md here). FUZZ_RUNS multiplies every property's
 * case count, so the suite keeps its proportions.
 */
export const SEED = integerFromEnv('FUZZ_SEED', 20261121)
const SCALE = integerFromEnv('FUZZ_RUNS', 1)

/** Options for one `fc.assert`: the suite's seed and `cases` × FUZZ_RUNS runs. */
export function fuzz(cases: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: cases * SCALE, endOnFailure: true }
}

function integerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value)) throw new Error(`${name}=${raw} is not an integer`)
  return value
}
