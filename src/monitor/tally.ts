import { Counter, type CounterConfiguration } from 'prom-client'

interface Tally {
  readonly labels: Record<string, string>
  n: number
}

/**
 * A prom-client Counter with two labels for the per-request path: an increment adds to a plain
 * number kept per label pair, and the sums go into the Counter when it is collected (each scrape,
 * each `registry.metrics()`), so a reader sees every increment made before it read. prom-client's
 * own `inc` builds, sorts, hashes and validates a label object every time (~0.2–0.4 µs; a Falco
 * alert made three). The label pairs are bounded by the caller, as for any counter.
 */
export class TwoLabelCounter<A extends string, B extends string> {
  readonly #names: readonly [A, B]
  readonly #counter: Counter<A | B>
  readonly #tallies = new Map<string, Map<string, Tally>>()

  constructor(config: Omit<CounterConfiguration<A | B>, 'labelNames' | 'collect'> & { labelNames: readonly [A, B] }) {
    this.#names = config.labelNames
    const counter: Counter<A | B> = new Counter({
      ...config,
      labelNames: [...config.labelNames],
      collect: () => {
        for (const byB of this.#tallies.values()) {
          for (const tally of byB.values()) {
            if (tally.n > 0) counter.inc(tally.labels as Record<A | B, string>, tally.n)
            tally.n = 0
          }
        }
      },
    })
    this.#counter = counter
  }

  inc(a: string, b: string, n = 1): void {
    let byB = this.#tallies.get(a)
    if (byB === undefined) this.#tallies.set(a, (byB = new Map()))
    const tally = byB.get(b)
    if (tally) tally.n += n
    else byB.set(b, { labels: { [this.#names[0]]: a, [this.#names[1]]: b }, n })
  }

  /** The series exists from the start at 0 (a rate over a missing series is no data, not 0). */
  zero(a: string, b: string): void {
    this.#counter.inc({ [this.#names[0]]: a, [this.#names[1]]: b } as Record<A | B, string>, 0)
  }
}
