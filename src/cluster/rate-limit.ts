import { setTimeout as sleep } from 'node:timers/promises'
import { TOKEN } from './scripts.js'
import type { Store } from './store.js'

/**
 * A token bucket every replica draws from (a Lua script on the store's clock): Security Hub's
 * 10 BatchImportFindings/s, burst 30, is per account and region, whatever the number of replicas.
 * While the store cannot be asked, nothing is sent (the caller's work waits in its queue): waiting
 * is safe, exceeding the quota for every replica at once is not.
 */
export class SharedTokenBucket {
  readonly #store: Store
  readonly #key: string
  readonly #perSecond: number
  readonly #burst: number

  constructor(store: Store, name: string, perSecond: number, burst: number) {
    this.#store = store
    this.#key = store.key(`rl:${name}`)
    this.#perSecond = perSecond
    this.#burst = burst
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted()
      let wait: number
      try {
        wait = await this.#store.run<number>(TOKEN, [this.#key], [this.#perSecond, this.#burst])
      } catch {
        wait = 1000
      }
      if (wait <= 0) return
      await sleep(wait, undefined, { signal })
    }
  }
}
