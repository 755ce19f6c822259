import { setTimeout as sleep } from 'node:timers/promises'
import type { Finding } from '../model/finding.js'
import type { DeliveryQueue, QueuedItem } from '../delivery/queue.js'
import { findingFromStore } from './aggregate.js'
import { ACK, DISCARD, TAKE } from './scripts.js'
import type { Lease } from './lease.js'
import type { Store } from './store.js'

/**
 * A sink's queue in the shared store, as its runner drains it. One replica drains a sink at a
 * time (the sink's lease, taken and renewed in the same step as taking due findings): batching,
 * grouping into notifications, group wait and the resend interval are then those of one process,
 * and two replicas never send the same version. The others stand by and take over when the
 * holder stops renewing. Findings the routes do not send to this sink (decided on the merged
 * finding, when it is due) leave the queue without a delivery record.
 */
export interface SharedQueueOptions {
  sink: string
  resendMs: number
  /** How often a drainer looks for work merged by other replicas (its own merges wake it at once). */
  pollMs: number
  /** Whether this sink gets this version (routes, silences, inhibitions). Default: every finding. */
  wants?: (finding: Finding) => boolean
}

export class SharedQueue implements DeliveryQueue<Finding> {
  readonly #store: Store
  readonly #lease: Lease
  readonly #options: SharedQueueOptions
  readonly #listeners = new Set<() => void>()
  #pending = 0
  #nextPollAt = 0

  constructor(store: Store, lease: Lease, options: SharedQueueOptions) {
    this.#store = store
    this.#lease = lease
    this.#options = options
    // Renew between takes too: a send may take longer than a third of the lease.
    lease.onChange((leader) => leader && this.notify())
  }

  async due(limit: number, now: number): Promise<{ items: QueuedItem<Finding>[]; nextDueAt: number | undefined }> {
    const { sink, pollMs } = this.#options
    let reply: [0, number] | [1, number, number, string, Array<[string, string[], number, number]>]
    try {
      reply = await this.#store.run(TAKE, [this.#store.key(`lease:sink:${sink}`), this.#store.key(`fence:sink:${sink}`)], [this.#store.prefix, sink, this.#store.instanceId, this.#lease.ttlMs, now, limit])
    } catch {
      this.#lease.observe(undefined)
      return { items: [], nextDueAt: now + Math.max(pollMs, 1000) } // logged by the store; retried
    }
    if (reply[0] === 0) {
      this.#lease.observe(undefined)
      this.#pending = 0
      // Standing by: look again around the holder's expiry, at least every lease third.
      return { items: [], nextDueAt: now + Math.min(Math.max(reply[1], 100), Math.floor(this.#lease.ttlMs / 3)) }
    }
    const [, fence, pending, next, entries] = reply
    this.#lease.observe(fence)
    this.#pending = pending
    const items: QueuedItem<Finding>[] = []
    const skipped: Array<[string, number]> = []
    for (const [id, flat, pods, containers] of entries) {
      const finding = findingFromStore(id, flat, pods, containers)
      if (this.#options.wants && !finding.archived && !this.#options.wants(finding)) skipped.push([id, finding.version])
      else items.push({ id, value: finding, version: finding.version })
    }
    if (skipped.length > 0) await this.#run(DISCARD, [this.#store.prefix, sink, JSON.stringify(skipped)])
    this.#nextPollAt = now + pollMs
    const nextDueAt = Math.min(next === '' ? Infinity : Number(next), this.#nextPollAt)
    return { items, nextDueAt }
  }

  async acknowledge(items: QueuedItem<Finding>[], now: number): Promise<number[]> {
    return this.#run<number[]>(ACK, [this.#store.prefix, this.#options.sink, now, this.#options.resendMs, JSON.stringify(items.map((i) => [i.id, i.version ?? 0]))])
  }

  async discard(items: QueuedItem<Finding>[]): Promise<void> {
    await this.#run(DISCARD, [this.#store.prefix, this.#options.sink, JSON.stringify(items.map((i) => [i.id, i.version ?? 0]))])
  }

  /**
   * Acknowledgements after a send are retried through a short outage: a lost one would have the
   * version sent again (by this replica, or by the next holder of the lease).
   */
  async #run<T>(s: typeof ACK, args: Array<string | number>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#store.run<T>(s, [], args)
      } catch (err) {
        if (attempt >= 20) throw err
        await sleep(Math.min(250 * (attempt + 1), 2000))
      }
    }
  }

  /** What the last take saw queued in the store (cluster-wide) for this sink; 0 when standing by. */
  pending(): number {
    return this.#pending
  }

  onQueued(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Wake the runner: this replica merged work (or became the drainer). */
  notify(): void {
    for (const l of this.#listeners) l()
  }
}
