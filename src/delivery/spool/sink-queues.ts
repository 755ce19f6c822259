import type { Database, RootDatabase } from 'lmdb'
import type { FindingState } from '../../aggregate/aggregator.js'
import { PLAIN_MAPS } from './encoding.js'

export type PendingKey = [sink: string, rank: number, seq: number]
interface Pending {
  id: string
  /** Epoch ms before which this finding is not sent again (0: never sent, send now). */
  notBefore: number
  /** Epoch ms since when this sink owes a delivery of the finding (the oldest-pending-age gauge). */
  queuedAt?: number
}
/** What one sink did with one finding. */
interface Delivery {
  queued?: PendingKey
  lastSentAt?: number
  /** The finding's count when this sink last delivered it: what the next delivery adds. */
  lastSentCount?: number
  /** The version this sink last delivered: that version is never queued for it again. */
  lastSentVersion?: number
}

/** Queued pairs remembered at most (~100 bytes each): past it the set starts over. */
const QUEUED_KEPT = 20_000

/**
 * [sink, finding] pairs, as a set of finding Ids per sink: a lookup hashes the Id (a string the
 * pipeline hands on, whose hash V8 keeps), not a `sink + id` string built, hashed and dropped on
 * every occurrence.
 */
class Pairs {
  readonly #bySink = new Map<string, Set<string>>()
  size = 0

  has(sink: string, id: string): boolean {
    return this.#bySink.get(sink)?.has(id) ?? false
  }

  add(sink: string, id: string): void {
    let ids = this.#bySink.get(sink)
    if (!ids) this.#bySink.set(sink, (ids = new Set()))
    if (ids.has(id)) return
    ids.add(id)
    this.size++
  }

  delete(sink: string, id: string): void {
    if (this.#bySink.get(sink)?.delete(id)) this.size--
  }

  clear(): void {
    this.#bySink.clear()
    this.size = 0
  }
}

export interface Due {
  key: PendingKey
  state: FindingState
}

/**
 * Per sink, the queue of findings it owes (most urgent first, then oldest), and per finding and
 * sink what was delivered. Keyed [findingId, sink], so everything about one finding is one short
 * range. Every method that writes runs inside the caller's write transaction.
 */
export class SinkQueues {
  readonly #pending: Database<Pending, PendingKey>
  readonly #delivery: Database<Delivery, [string, string]>
  readonly #resendMs: Readonly<Record<string, number>>
  readonly #ranks: number
  #seq = 0
  /**
   * [sink, finding] pairs known to be queued, committed or put in the running write transaction: a
   * repeat of a finding its sinks already owe (every occurrence of a storm but the first, until a
   * delivery) reads no delivery record. Only ever a shortcut to "queued", so a pair missing here is
   * read as before; dropped whole when a write transaction fails (forgetQueued) and when full.
   */
  readonly #queued = new Pairs()

  constructor(root: RootDatabase, options: { resendMs: Readonly<Record<string, number>>; ranks: number }) {
    this.#pending = root.openDB({ name: 'pending', ...PLAIN_MAPS })
    this.#delivery = root.openDB({ name: 'delivery', ...PLAIN_MAPS })
    this.#resendMs = options.resendMs
    this.#ranks = options.ranks
    for (const key of this.#pending.getKeys()) this.#seq = Math.max(this.#seq, key[2])
  }

  get databases(): Database<unknown>[] {
    return [this.#pending, this.#delivery]
  }

  /**
   * Owe `state` to `sink`. A finding already queued keeps its place (and is sent in its newest
   * version); the version the sink last delivered is never owed again, whatever asks.
   */
  queue(sink: string, state: FindingState, rank: number, now: number): boolean {
    if (this.#queued.has(sink, state.id)) return false
    const delivery = this.#delivery.get([state.id, sink]) ?? {}
    if (delivery.queued) this.#rememberQueued(sink, state.id)
    if (delivery.queued || delivery.lastSentVersion === state.version) return false
    const key: PendingKey = [sink, rank, ++this.#seq]
    const notBefore = delivery.lastSentAt !== undefined ? delivery.lastSentAt + (this.#resendMs[sink] ?? 0) : 0
    this.#pending.put(key, { id: state.id, notBefore, queuedAt: now })
    this.#delivery.put([state.id, sink], { ...delivery, queued: key })
    this.#rememberQueued(sink, state.id)
    return true
  }

  /** A write transaction failed: what it queued was never committed. */
  forgetQueued(): void {
    this.#queued.clear()
  }

  #rememberQueued(sink: string, id: string): void {
    if (this.#queued.size >= QUEUED_KEPT) this.#queued.clear()
    this.#queued.add(sink, id)
  }

  /** What `sink` may send at `now` (see FindingLedger), and when the next waiting one is due. */
  due(sink: string, limit: number, now: number, ignoreResend: boolean, get: (id: string) => FindingState | undefined): { items: Due[]; nextDueAt: number | undefined } {
    const items: Due[] = []
    let nextDueAt: number | undefined
    for (const { key, value } of this.#pending.getRange({ start: [sink], end: [sink, this.#ranks + 1] })) {
      if (!ignoreResend && value.notBefore > now) {
        nextDueAt = Math.min(nextDueAt ?? Infinity, value.notBefore)
        continue
      }
      const state = get(value.id)
      if (state) items.push({ key: key as PendingKey, state })
      if (items.length >= limit) break
    }
    return { items, nextDueAt }
  }

  /** `sink` delivered `version` of finding `state` (its current state). Returns the occurrences it covered. */
  delivered(sink: string, id: string, version: number, state: FindingState | undefined, now: number): number {
    this.#queued.delete(sink, id)
    const delivery = this.#delivery.get([id, sink]) ?? {}
    const covered = (state?.count ?? 0) - (delivery.lastSentCount ?? 0)
    const next: Delivery = { lastSentAt: now, lastSentCount: state?.count ?? 0, lastSentVersion: version }
    if (delivery.queued && state && state.version !== version) {
      // Owed since the delivered version at the latest: `now` is the age's lower bound.
      this.#pending.put(delivery.queued, { id, notBefore: now + (this.#resendMs[sink] ?? 0), queuedAt: now })
      next.queued = delivery.queued
    } else if (delivery.queued) {
      this.#pending.remove(delivery.queued)
    }
    this.#delivery.put([id, sink], next)
    return covered
  }

  /** `version` was dead-lettered, not delivered: out of the queue unless a newer version is owed. */
  dropped(sink: string, id: string, version: number, state: FindingState | undefined): void {
    this.#queued.delete(sink, id)
    const delivery = this.#delivery.get([id, sink])
    if (!delivery) return
    if (delivery.queued && state && state.version !== version) return
    if (delivery.queued) this.#pending.remove(delivery.queued)
    const { queued: _queued, ...rest } = delivery
    this.#delivery.put([id, sink], rest)
  }

  /** The sinks that had or owe this finding, and whether any still owes it. */
  of(id: string): { sinks: string[]; owed: boolean } {
    const sinks: string[] = []
    let owed = false
    for (const { key, value } of this.#delivery.getRange({ start: [id], end: [id, '\uffff'] })) {
      sinks.push((key as [string, string])[1])
      if (value.queued) owed = true
    }
    return { sinks, owed }
  }

  /** Everything about one finding, gone (it was forgotten or shed). */
  forget(id: string): void {
    for (const { key, value } of this.#delivery.getRange({ start: [id], end: [id, '\uffff'] })) {
      this.#queued.delete((key as [string, string])[1], id)
      if (value.queued) this.#pending.remove(value.queued)
      this.#delivery.remove(key as [string, string])
    }
  }

  pendingCount(sink: string): number {
    return this.#pending.getCount({ start: [sink], end: [sink, this.#ranks + 1] })
  }

  /** A scan of the sink's queue: for a scrape every few seconds, not for the request path. */
  oldestPendingAt(sink: string): number | undefined {
    let oldest: number | undefined
    for (const { value } of this.#pending.getRange({ start: [sink], end: [sink, this.#ranks + 1] })) {
      // Queued by a version that did not record the time: unknown, rather than 1970.
      if (value.queuedAt !== undefined && (oldest === undefined || value.queuedAt < oldest)) oldest = value.queuedAt
    }
    return oldest
  }

  /**
   * Ids of queued findings whose rank is above `maxRankKept` (the least urgent), least urgent
   * first, then oldest; up to `limit` (a finding queued for several sinks counts once).
   */
  leastUrgent(sinks: readonly string[], maxRankKept: number, limit: number): string[] {
    const ids = new Set<string>()
    for (let rank = this.#ranks; rank > maxRankKept && ids.size < limit; rank--) {
      const entries: Array<{ seq: number; id: string }> = []
      for (const sink of sinks) {
        for (const { key, value } of this.#pending.getRange({ start: [sink, rank], end: [sink, rank + 1], limit })) entries.push({ seq: (key as PendingKey)[2], id: value.id })
      }
      for (const e of entries.sort((a, b) => a.seq - b.seq)) if (ids.size < limit) ids.add(e.id)
    }
    return [...ids]
  }

  /**
   * Moves what was queued and delivered under an old sink id to its new id (delivery/renamed-sinks.ts):
   * a finding an older version still owed is owed under the new id, in its place, and one it had
   * delivered keeps its last delivery (resend interval, count, version), so nothing is sent twice
   * or lost. Inside the caller's write transaction. Returns the records moved.
   */
  renameSinks(renamed: ReadonlyArray<readonly [from: string, to: string]>): number {
    this.#queued.clear()
    let moved = 0
    for (const [from, to] of renamed) {
      const records = [...this.#delivery.getRange()].filter(({ key }) => (key as [string, string])[1] === from)
      for (const { key, value } of records) {
        const id = (key as [string, string])[0]
        const next: Delivery = { ...value }
        if (value.queued) next.queued = this.#move(value.queued, to)
        if (!this.#delivery.get([id, to])) this.#delivery.put([id, to], next)
        this.#delivery.remove(key as [string, string])
        moved++
      }
      // Queue entries without a record (none are written so): moved too rather than stranded.
      for (const { key } of [...this.#pending.getRange({ start: [from], end: [from, this.#ranks + 1] })]) this.#move(key as PendingKey, to)
    }
    return moved
  }

  #move(key: PendingKey, to: string): PendingKey {
    const entry = this.#pending.get(key)
    const next: PendingKey = [to, key[1], key[2]]
    if (entry) {
      this.#pending.put(next, entry)
      this.#pending.remove(key)
    }
    return next
  }

  /** The sinks with anything queued (for shedding across every queue). */
  sinks(): string[] {
    const sinks: string[] = []
    for (let key = this.#first(); key; key = this.#first([key[0], Infinity])) sinks.push(key[0])
    return sinks
  }

  #first(start?: [string, number]): PendingKey | undefined {
    for (const key of this.#pending.getKeys({ ...(start ? { start } : {}), limit: 1 })) return key as PendingKey
    return undefined
  }
}
