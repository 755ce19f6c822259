import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A client-side rate limit (Security Hub: 10 BatchImportFindings/s with a burst of 30 per account
 * and region). Waiting here is cheaper than being throttled and backing off.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  #tokens: number
  #last: number

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = perSecond / 1000
    this.#burst = burst
    this.#now = now
    this.#tokens = burst
    this.#last = now()
  }

  /** Milliseconds until a token is free (0 = now), taking it when it is. */
  tryTake(): number {
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate)
    this.#last = now
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return 0
    }
    return Math.ceil((1 - this.#tokens) / this.#rate)
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (let wait = this.tryTake(); wait > 0; wait = this.tryTake()) {
      await sleep(wait, undefined, { signal })
    }
  }
}
