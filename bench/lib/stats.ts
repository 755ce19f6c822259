/** Small statistics for repeated, noisy runs: medians and spreads, never means of ratios. */

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return NaN
  const mid = finite.length >> 1
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** A figure measured in several runs: the median, and the smallest and largest run. */
export interface Repeated {
  median: number
  min: number
  max: number
  runs: number[]
}

export function repeated(runs: readonly number[]): Repeated {
  const finite = runs.filter(Number.isFinite)
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), runs: [...runs] }
}

/** Least-squares slope of y over x (units of y per unit of x). */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length
  if (n < 2) return NaN
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.x - mx) * (p.y - my)
    den += (p.x - mx) ** 2
  }
  return den === 0 ? NaN : num / den
}
