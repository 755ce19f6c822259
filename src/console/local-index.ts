import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import type { Logger } from 'pino'
import { toFinding, type FindingState } from '../aggregate/aggregator.js'
import type { ConsoleStats, FindingIndex, FindingPage, FindingQuery, FindingRecord } from './findings-index.js'
import { PendingOutcomes, withOutcomes } from './outcomes.js'
import { addedBy, addToBucket, BUCKET_MS, FindingRows, nextRecord, summaryOf, type Bucket, type Facets, type Totals } from './rows.js'

export interface Retention {
  days: number
  maxFindings: number
  maxBytes: number
}

/**
 * Between two passes. A pass writes every finding changed since the last one (~0.1 ms a record:
 * encoded, compressed, its row updated), so a storm repeating a few findings costs a few ms of CPU
 * per pass whatever the alert rate: at one Falco sender (~5,000 alerts/s over 31 findings) 2.2 µs
 * per alert with a pass every 200 ms. A page asks for its view again at most every 2 s anyway
 * (docs/console.md).
 */
const FLUSH_MS = 1_000
/** A pass that wrote more records than this keeps none for the next (a storm of new findings, not repeats). */
const RECENT_MAX = 1_000
const F = 'f/'
const S = 's/'
const TOTALS = 't'

/**
 * The console's own bounded index on this replica: full records in LMDB under dataDir/console
 * (compressed), one compact row per finding in memory for filtering and sorting (./rows.ts), and
 * 5-minute buckets of counts for the charts. The pipeline hook only queues; writes happen in the
 * background every second, coalesced per finding, so the ingest path never waits on it.
 */
export class LocalFindingIndex implements FindingIndex {
  /** Values: FindingRecord under f/<id>, Bucket under s/<start>, Totals under t. */
  readonly #db: RootDatabase<unknown, string>
  readonly #rows = new FindingRows()
  readonly #buckets = new Map<number, Bucket>()
  readonly #pending = new Map<string, { state: FindingState; sinks: string[] }>()
  /** The records the last pass wrote (committed once it ends), read instead of the database by the next. */
  #recent = new Map<string, FindingRecord>()
  readonly #outcomes = new PendingOutcomes()
  readonly #listeners = new Set<(ids: string[]) => void>()
  readonly #retention: Retention
  readonly #logger: Logger
  readonly #now: () => number
  #totals: Totals
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()
  readonly #sweeper: NodeJS.Timeout

  constructor(dataDir: string, retention: Retention, deps: { logger: Logger; now?: () => number }) {
    this.#db = open({ path: join(dataDir, 'console'), compression: true })
    this.#retention = retention
    this.#logger = deps.logger
    this.#now = deps.now ?? Date.now
    this.#totals = (this.#db.get(TOTALS) as Totals | undefined) ?? { alertsReceived: 0, findingVersions: 0, securityHub: { calls: 0, findingsSent: 0 } }
    for (const { key, value } of this.#db.getRange({ start: F, end: 'f0' })) this.#rows.set(String(key).slice(F.length), value as FindingRecord, JSON.stringify(value).length)
    for (const { key, value } of this.#db.getRange({ start: S, end: 's0' })) this.#buckets.set(Number(String(key).slice(S.length)), value as Bucket)
    this.#sweeper = setInterval(() => void this.#sweep(), 60_000).unref()
    void this.#sweep()
  }

  /** Bytes of the stored records (what retention.maxBytes bounds; the file is about this, compressed). */
  get bytes(): number {
    return this.#rows.bytes
  }

  record(findings: readonly FindingState[], routedTo: (f: FindingState) => readonly string[]): void {
    for (const state of findings) this.#pending.set(state.id, { state, sinks: [...routedTo(state)] })
    this.#schedule()
  }

  delivered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, at: number): void {
    this.#outcomes.delivered(sink, items, at)
    this.#schedule()
  }

  deadLettered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, why: { code: string; reason: string }, at: number): void {
    this.#outcomes.deadLettered(sink, items, why, at)
    this.#schedule()
  }

  sent(sink: string, items: number): void {
    if (sink !== 'securityHub') return
    this.#totals.securityHub.calls++
    this.#totals.securityHub.findingsSent += items
    this.#schedule()
  }

  async annotate(id: string, note: Pick<FindingRecord, 'archivedBy'>): Promise<void> {
    await this.flush()
    const record = this.#recent.get(id) ?? this.get(id)
    if (!record) return
    const annotated = { ...record, ...note }
    // The next pass builds on this record, not on the database's copy: a pass the flush of another
    // caller (a second annotate) chained runs before this put commits, and one that read the
    // database wrote a sink's outcome onto the record without its note, after it.
    this.#recent.set(id, annotated)
    await this.#put(id, annotated)
  }

  get(id: string): FindingRecord | undefined {
    return this.#rows.has(id) ? (this.#db.get(F + id) as FindingRecord | undefined) : undefined
  }

  query(q: FindingQuery): FindingPage {
    return this.#rows.query(q, (id) => summaryOf((this.#db.get(F + id) as FindingRecord | undefined)?.finding.event.output ?? ''))
  }

  stats(from: number, to: number): ConsoleStats {
    return this.#rows.stats(from, to, (start) => this.#buckets.get(start), this.#totals)
  }

  facets(): Facets {
    return this.#rows.facets()
  }

  onChange(listener: (ids: string[]) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#flushing = this.#flushing.then(() => this.#write()).catch((err) => this.#logger.error({ err }, 'console index: write failed'))
    return this.#flushing
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    await this.flush()
    await this.#db.close()
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
  }

  async #write(): Promise<void> {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    const outcomes = this.#outcomes.take()
    // One record per changed finding and pass, written once (its new version and its outcomes
    // together), built from the one this index last wrote: kept from the pass before, so a finding
    // a storm repeats is not read back and decompressed every pass (LMDB puts commit
    // asynchronously: this pass's own writes are read from `next`, not the database).
    const next = new Map<string, FindingRecord>()
    const recent = this.#recent
    const stored = (id: string) => next.get(id) ?? recent.get(id) ?? (this.#db.get(F + id) as FindingRecord | undefined)
    const buckets = new Set<number>()
    for (const { state, sinks } of pending) {
      const previous = stored(state.id)
      const finding = toFinding(state)
      const added = addedBy(previous?.finding, state)
      next.set(state.id, nextRecord(previous, finding, sinks, this.#now()))
      this.#totals.findingVersions++
      if (added > 0) buckets.add(this.#count(finding, added))
    }
    for (const [id, sinks] of outcomes) {
      const record = stored(id)
      if (!record) {
        // An acknowledgement can overtake the hook that indexes the finding: try again next pass, a few times.
        if (this.#outcomes.early(id, sinks)) this.#schedule()
        continue
      }
      this.#outcomes.written(id)
      next.set(id, withOutcomes(record, sinks))
    }
    // Before the puts: a retention sweep one of them starts forgets what it removes from here too.
    this.#recent = next.size <= RECENT_MAX ? next : new Map()
    const writes: Array<Promise<unknown>> = []
    for (const [id, record] of next) writes.push(this.#put(id, record))
    // Each bucket this pass counted into, once (it was written again for every finding counted).
    for (const start of buckets) writes.push(this.#db.put(S + start, this.#buckets.get(start)))
    writes.push(this.#db.put(TOTALS, this.#totals))
    await Promise.all(writes)
    if (next.size > 0) for (const l of this.#listeners) l([...next.keys()])
  }

  /** Occurrences counted at arrival time: a replayed or skewed event still shows in "the last hour". */
  #count(finding: FindingRecord['finding'], added: number): number {
    this.#totals.alertsReceived += added
    const start = Math.floor(this.#now() / BUCKET_MS) * BUCKET_MS
    const b = this.#buckets.get(start) ?? { alerts: 0, severity: {}, kind: {}, rule: {}, namespace: {} }
    addToBucket(b, finding, added)
    this.#buckets.set(start, b)
    return start
  }

  async #put(id: string, record: FindingRecord): Promise<void> {
    this.#rows.set(id, record, JSON.stringify(record).length)
    // Checked as the row is counted, not after the put commits: a pass writes every finding changed
    // in the last second, and the index must not sit above its share while those puts commit.
    if (this.#rows.size > this.#retention.maxFindings * 1.05 || this.#rows.bytes > this.#retention.maxBytes * 1.05) void this.#sweep()
    await this.#db.put(F + id, record)
  }

  #sweeping = false

  /** Retention: by age, then count, then bytes; least recently stored first. */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return
    this.#sweeping = true
    try {
      const drop = overRetention(this.#rows, this.#retention, this.#now())
      for (const id of drop) {
        this.#rows.delete(id)
        this.#recent.delete(id)
        void this.#db.remove(F + id)
      }
      const cutoff = this.#now() - this.#retention.days * 86_400_000
      for (const start of this.#buckets.keys()) {
        if (start < cutoff - BUCKET_MS) {
          this.#buckets.delete(start)
          void this.#db.remove(S + start)
        }
      }
      if (drop.length > 0) {
        this.#logger.info({ removed: drop.length, kept: this.#rows.size, bytes: this.#rows.bytes }, 'console index: retention removed findings')
        for (const l of this.#listeners) l(drop)
      }
    } finally {
      this.#sweeping = false
    }
  }
}

/**
 * Which findings retention removes: by age, then count, then bytes; least recently stored first.
 * Over a limit, trim to 95% of it: the next sweep is then some way off (inserts trigger one at 105%).
 */
export function overRetention(rows: FindingRows, retention: Retention, now: number): string[] {
  const cutoff = now - retention.days * 86_400_000
  const maxFindings = rows.size > retention.maxFindings ? Math.floor(retention.maxFindings * 0.95) : retention.maxFindings
  const maxBytes = rows.bytes > retention.maxBytes ? Math.floor(retention.maxBytes * 0.95) : retention.maxBytes
  const byAge = [...rows.values()].sort((a, b) => a.seenMs - b.seenMs)
  const drop: string[] = []
  let count = rows.size
  let bytes = rows.bytes
  for (const r of byAge) {
    if (r.seenMs >= cutoff && count <= maxFindings && bytes <= maxBytes) break
    drop.push(r.id)
    count--
    bytes -= r.bytes
  }
  return drop
}
