import { fold, type AggregateOptions, type FindingState } from '../aggregate/aggregator.js'
import type { SecurityEvent } from '../model/event.js'
import type { IngestOptions, Replication } from '../pipeline/pipeline.js'
import { deltaOf, type Delta } from './aggregate.js'

/** The local outbox of occurrences the store has yet to merge. */
export const MERGE_OUTBOX = 'cluster-merge'
const SEQ_KEY = 'cluster/seq'

/** One commit's occurrences: the local sequence that makes their merge idempotent. */
export interface OccurrenceBatch {
  seq: number
  deltas: Delta[]
}

/**
 * The occurrences each commit adds, as deltas in the merge outbox, committed in the same
 * transaction as the local findings (so a 2xx still means "committed") together with this
 * replica's sequence number — persisted in that transaction too, so it never goes back.
 * Sequence order is commit order: numbers are taken synchronously as each commit is handed to the
 * spool, whose write transactions run in the order they are asked for.
 */
export class OccurrenceLog implements Replication {
  readonly #options: AggregateOptions
  readonly #clock: () => number
  #seq: number

  constructor(state: { get<T>(key: string): T | undefined }, options: AggregateOptions, clock: () => number = Date.now) {
    this.#options = options
    this.#clock = clock
    this.#seq = state.get<number>(SEQ_KEY) ?? 0
  }

  occurrences(events: ReadonlyArray<{ id: string; event: SecurityEvent }>): IngestOptions {
    // One delta per finding; an audit event's detection keeps its own, keyed to count it once
    // cluster-wide (a webhook retry or a poller take-over may bring it to another replica).
    const groups = new Map<string, { state: FindingState; once?: string }>()
    const unbounded = { ...this.#options, windowMs: Infinity } // the store decides on window resets
    for (const { id, event } of events) {
      const auditId = event.fields['ka.auditid']
      const once = typeof auditId === 'string' && auditId ? `${auditId}/${id}` : undefined
      const key = once ?? id
      const group = groups.get(key)
      groups.set(key, { state: fold(group?.state, event, id, unbounded), ...(once ? { once } : {}) })
    }
    const now = this.#clock()
    return this.#commit([...groups.values()].map((g) => deltaOf(g.state, now, g.once ? { once: [g.once] } : {})))
  }

  resolution(id: string, event: SecurityEvent): IngestOptions {
    return this.#commit([deltaOf(fold(undefined, event, id, this.#options), this.#clock(), { archive: true })])
  }

  #commit(deltas: Delta[]): IngestOptions {
    const seq = ++this.#seq
    const batch: OccurrenceBatch = { seq, deltas }
    return { outbox: { name: MERGE_OUTBOX, items: [{ id: String(seq), value: batch }] }, state: [{ key: SEQ_KEY, value: seq }] }
  }
}
