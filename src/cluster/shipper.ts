import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { TRACKED_NAMES } from '../aggregate/aggregator.js'
import { backoffMs } from '../delivery/backoff.js'
import type { LocalQueue, QueuedItem } from '../delivery/queue.js'
import { combine, type Delta } from './aggregate.js'
import type { OccurrenceBatch } from './replication.js'
import { MERGE } from './scripts.js'
import type { Store } from './store.js'

export interface ShipperOptions {
  windowMs: number
  /** Every sink a merged finding is queued for, with its resend interval. */
  sinks: Array<{ id: string; resend: number }>
  maxItems: number
  intervalMs: number
  /** How long an audit occurrence key is remembered cluster-wide. */
  seenTtlMs: number
}

/**
 * Drains the local merge outbox into the store: one MERGE per batch of commits, tagged with this
 * replica's sequence range. The store moves the replica's high-water mark in the same atomic step,
 * so a batch sent again — the reply was lost, or the process died before it removed the batch
 * from its outbox — is recognised and changes nothing. While the store is away the outbox grows
 * within the spool's disk budget and is merged, in order, when it is back.
 */
export class Shipper {
  readonly #store: Store
  readonly #queue: LocalQueue
  readonly #options: ShipperOptions
  readonly #logger: Logger
  readonly #onMerged: (ids: string[]) => void
  readonly #stop = new AbortController()
  readonly #metrics: { batches: Counter; occurrences: Counter; replays: Counter } | undefined
  #hwm: number | undefined
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #unsubscribe: () => void

  constructor(store: Store, queue: LocalQueue, options: ShipperOptions, deps: { logger: Logger; registry?: Registry; onMerged: (ids: string[]) => void }) {
    this.#store = store
    this.#queue = queue
    this.#options = options
    this.#logger = deps.logger.child({ component: 'shipper' })
    this.#onMerged = deps.onMerged
    const registers = deps.registry ? [deps.registry] : []
    this.#metrics = deps.registry
      ? {
          batches: new Counter({ name: 'falconet_store_merge_batches_total', help: 'Batches of spooled changes merged into the shared store.', registers }),
          occurrences: new Counter({ name: 'falconet_store_merged_changes_total', help: 'Finding changes (deltas) merged into the shared store.', registers }),
          replays: new Counter({ name: 'falconet_store_merge_replays_total', help: 'Batches the store had already merged (a reply lost, or a crash before the outbox was cleared): skipped, not counted twice.', registers }),
        }
      : undefined
    this.#unsubscribe = queue.onQueued(() => this.#wake?.())
  }

  /** Commits not merged yet. */
  get pending(): number {
    return this.#queue.pending()
  }

  start(): void {
    this.#loop ??= this.#run()
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    this.#wake?.()
    await this.#loop
    this.#unsubscribe()
  }

  /** Merge everything spooled now (tests, shutdown); false if the store could not be reached. */
  async flush(): Promise<boolean> {
    for (;;) {
      const { items } = this.#queue.due(this.#options.maxItems, Date.now(), false)
      if (items.length === 0) return true
      try {
        await this.#ship(items)
      } catch {
        return false
      }
    }
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stop.signal.aborted) {
      const { items } = this.#queue.due(this.#options.maxItems, Date.now(), false)
      if (items.length === 0) {
        await this.#idle()
        continue
      }
      try {
        await this.#ship(items)
        failures = 0
        // Let the next batch gather: store round trips per alert fall as the rate rises.
        await sleep(this.#options.intervalMs, undefined, { signal: this.#stop.signal }).catch(() => {})
      } catch {
        // The store logged it (once per outage); the batch stays in the outbox.
        await sleep(backoffMs(failures++, 200, 5_000), undefined, { signal: this.#stop.signal }).catch(() => {})
      }
    }
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#wake = undefined
        this.#stop.signal.removeEventListener('abort', done)
        resolve()
      }
      this.#wake = done
      this.#stop.signal.addEventListener('abort', done, { once: true })
    })
  }

  async #ship(items: QueuedItem[]): Promise<void> {
    const replica = this.#store.replicaId
    const hwmKey = this.#store.key('hwm')
    const merged = new Set<string>()
    for (let attempt = 0; attempt < 3; attempt++) {
      this.#hwm ??= Number((await this.#store.command<string | null>('hwm', 'HGET', hwmKey, replica)) ?? 0)
      const fresh = items.map((i) => i.value as OccurrenceBatch).filter((b) => b.seq > this.#hwm!)
      if (fresh.length === 0) break
      const fromSeq = fresh[0]!.seq
      const toSeq = fresh.at(-1)!.seq
      if (fresh.some((b, i) => i > 0 && b.seq <= fresh[i - 1]!.seq)) this.#logger.error({ fromSeq, toSeq }, 'merge outbox out of sequence order: a replay could skip changes')
      const deltas = premerge(
        fresh.flatMap((b) => b.deltas),
        this.#options.windowMs,
      )
      const reply = await this.#store.run<[number, number]>(MERGE, [hwmKey], [this.#store.prefix, replica, fromSeq, toSeq, this.#options.windowMs, Date.now(), this.#options.seenTtlMs, JSON.stringify(this.#options.sinks), JSON.stringify(deltas), TRACKED_NAMES])
      if (reply[0] === -1) {
        // Merged before (the reply to an earlier attempt was lost): take the store's mark, filter again.
        this.#metrics?.replays.inc()
        this.#hwm = reply[1]
        continue
      }
      this.#hwm = toSeq
      for (const d of deltas) merged.add(d.id)
      this.#metrics?.batches.inc()
      this.#metrics?.occurrences.inc(deltas.length)
      break
    }
    await this.#queue.acknowledge(items, Date.now())
    this.#onMerged([...merged])
  }
}

/** One delta per finding where the merge allows (same window, no once-key): smaller batches. */
export function premerge(deltas: Delta[], windowMs: number): Delta[] {
  const out: Delta[] = []
  const last = new Map<string, number>()
  for (const d of deltas) {
    const at = last.get(d.id)
    const merged = at === undefined ? undefined : combine(out[at]!, d, windowMs)
    if (merged) out[at!] = merged
    else {
      last.set(d.id, out.length)
      out.push(d)
    }
  }
  return out
}
