import { createHash } from 'node:crypto'
import type { Database, RootDatabase } from 'lmdb'

/**
 * Keys already taken, remembered for a window: hashes of Fluent Bit chunks (a chunk resent byte
 * for byte is not counted twice) and event IDs (an audit event is detected once). Sized by what
 * can actually repeat — Fluent Bit resends a chunk within its retry schedule, minutes — and
 * stored compactly: each key is a 16-byte digest filed under the time bucket it was taken in
 * (one LMDB key per bucket, the digests as its sorted duplicates). A lookup reads one entry per
 * live bucket; expiry drops a whole bucket in one delete, whatever it holds.
 */
export type SeenKind = 'chunk' | 'event'

/** Buckets per window: a lookup costs this many reads; a key lives up to one bucket longer than its window. */
const BUCKETS_PER_WINDOW = 8
/** What one remembered key costs on disk, measured (bench/spool-housekeeping.ts: 1M keys in 44.5 MB): digest, node header, page fill. */
export const BYTES_PER_SEEN_KEY = 48

export class SeenKeys {
  readonly #db: Database<Buffer, [SeenKind, number]>
  readonly #windowMs: Readonly<Record<SeenKind, number>>

  constructor(root: RootDatabase, windowMs: Readonly<Record<SeenKind, number>>) {
    this.#db = root.openDB({ name: 'seen', dupSort: true, encoding: 'ordered-binary' })
    this.#windowMs = windowMs
    this.#adoptOlderSpool(root)
  }

  /**
   * A spool written by a version that kept every key whole with its time ('chunks', audit IDs
   * prefixed 'audit'): the keys still inside their window move into buckets, once, and the old
   * store is dropped so its pages are free again.
   */
  #adoptOlderSpool(root: RootDatabase): void {
    // `create: false` (lmdb-js opens nothing when the store does not exist; not in its typings).
    const existing = { name: 'chunks', create: false }
    const old: Database<number, string> | null = root.openDB(existing)
    if (!old) return
    const now = Date.now()
    root.transactionSync(() => {
      for (const { key, value } of old.getRange()) {
        const kind: SeenKind = String(key).startsWith('audit') ? 'event' : 'chunk'
        if (typeof value === 'number' && value > now - this.#windowMs[kind]) this.#db.put([kind, Math.floor(value / this.#bucketMs(kind))], digestOf(String(key)))
      }
      old.drop()
    })
  }

  get databases(): Database<unknown>[] {
    return [this.#db]
  }

  #bucketMs(kind: SeenKind): number {
    return Math.max(1_000, Math.ceil(this.#windowMs[kind] / BUCKETS_PER_WINDOW))
  }

  /** Whether `key` was taken within its window (a bucket not yet dropped counts as within). */
  has(kind: SeenKind, key: string, now: number): boolean {
    const digest = digestOf(key)
    const width = this.#bucketMs(kind)
    const newest = Math.floor(now / width)
    for (let b = newest + 1; b >= newest - BUCKETS_PER_WINDOW; b--) {
      if (this.#db.doesExist([kind, b], digest)) return true
    }
    return false
  }

  /** Inside a write transaction. */
  add(kind: SeenKind, key: string, now: number): void {
    this.#db.put([kind, Math.floor(now / this.#bucketMs(kind))], digestOf(key))
  }

  /**
   * Drop up to `limit` buckets: those past their window, then — while `overBudget()` says the seen
   * keys take more room than they may — the oldest ones left (the resend window shortens rather
   * than ingest stopping). Inside a write transaction. Returns how many were dropped and whether
   * any was dropped early.
   */
  expire(now: number, limit: number, overBudget: () => boolean): { dropped: number; early: number } {
    let dropped = 0
    let early = 0
    for (const kind of ['chunk', 'event'] as const) {
      const oldestKept = Math.floor((now - this.#windowMs[kind]) / this.#bucketMs(kind))
      for (const key of this.#db.getKeys({ start: [kind], end: [kind, oldestKept], limit: limit - dropped })) {
        this.#db.remove(key as [SeenKind, number])
        dropped++
      }
    }
    while (dropped < limit && overBudget()) {
      const oldest = this.#oldest()
      if (!oldest) break
      this.#db.remove(oldest)
      dropped++
      early++
    }
    return { dropped, early }
  }

  #oldest(): [SeenKind, number] | undefined {
    let oldest: [SeenKind, number] | undefined
    for (const kind of ['chunk', 'event'] as const) {
      for (const key of this.#db.getKeys({ start: [kind], end: [kind, Infinity], limit: 1 })) {
        const k = key as [SeenKind, number]
        if (!oldest || k[1] * this.#bucketMs(kind) < oldest[1] * this.#bucketMs(oldest[0])) oldest = k
      }
    }
    return oldest
  }

  /** Keys remembered (every kind). */
  count(): number {
    return (this.#db.getStats() as { entryCount: number }).entryCount
  }

  /** Estimated bytes: LMDB does not report the pages of duplicate sub-trees per database. */
  bytes(): number {
    return this.count() * BYTES_PER_SEEN_KEY
  }
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, 16)
}
