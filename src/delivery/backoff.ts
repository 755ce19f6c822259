/**
 * Exponential backoff with jitter: half of the step is fixed (no hot loop when the random part is
 * small), half random (many falconet replicas do not retry in step after a shared outage).
 */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(step / 2 + (random() * step) / 2)
}
