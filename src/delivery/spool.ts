import { open, type RootDatabase } from 'lmdb'
import type { Logger } from 'pino'
import { changedAt, toFinding, type FindingState } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import type { LocalQueue } from './queue.js'
import type { FindingChange, FindingLedger, FindingPolicy, Housekeeping, HousekeepingStep, RecordOptions, SinksFor, StepBudget } from './stores.js'
import { FindingTable } from './spool/findings.js'
import { SinkQueues, type Due } from './spool/sink-queues.js'
import { SeenKeys, type SeenKind } from './spool/seen-keys.js'
import { DetectorState } from './spool/detector-state.js'
import { Outbox } from './spool/outbox.js'
import { Usage } from './spool/usage.js'
import { RENAMED_SINK_IDS } from './renamed-sinks.js'

/** The detector-state key that lists the renamed sink ids whose queues were moved. */
const RENAMED_KEY = 'spool:renamed-sinks'

export type { RecordOptions } from './stores.js'
export type { Due } from './spool/sink-queues.js'

/**
 * The durable spool: the local implementation of the FindingLedger (findings and per-sink queues)
 * plus what must commit with them — seen keys, detector state, outboxes — in small stores over
 * one LMDB root (lmdb-js: crash-safe copy-on-write B-trees, one writer, transactions batched per
 * event-loop turn, prebuilt binaries shipped inside the npm package).
 *
 * One write transaction folds a request's events into their findings and queues each changed
 * finding for every sink; the source gets its 2xx only after that commit. A sink acknowledges
 * the version it delivered, so a change that arrives while a request is in flight stays queued.
 * Nothing is lost to `kill -9`: what was acknowledged to a source is committed, and whatever a sink
 * had not acknowledged is still queued at the next start.
 *
 * Durability: `process` (default) acknowledges once the transaction is committed to the OS page
 * cache without waiting for fsync (LMDB MDB_NOSYNC) — it survives the process being killed, since
 * the OS holds the written pages; a machine crash may lose the last commits. `disk` also waits
 * for fsync, which survives losing the machine (worth it only on a persistent volume, not an
 * emptyDir).
 *
 * The budget: seen keys get their own share (SEEN_SHARE); findings, queues, state and outboxes
 * the rest. Near it (PRESSURE_AT), findings every sink has delivered give way, oldest first, so
 * ingest is refused (503) only when what is still owed fills the budget.
 */
export interface SpoolOptions {
  dir: string
  maxBytes: number
  durability: 'process' | 'disk'
  /** Per sink: the shortest time between two deliveries of the same finding (storm control). */
  resendMs: Record<string, number>
  logger: Logger
  /** What a finding is (rank, window, archived version): the aggregator's, handed in. */
  policy: FindingPolicy
  /** How long taken keys are remembered: Fluent Bit chunk hashes and event IDs (audit). */
  seenWindowMs?: Partial<Record<SeenKind, number>>
}

export class SpoolFullError extends Error {}

/** The seen keys' share of the budget. */
export const SEEN_SHARE = 0.125
/** The share of the findings' budget above which delivered findings give way. */
export const PRESSURE_AT = 0.8
const DEFAULT_STEP: StepBudget = { findings: 2_000, seenBuckets: 8 }
/** No seen keys or state writes (a Falco request has neither): one shared list, not two new ones per request. */
const NONE: readonly never[] = Object.freeze([])

export class Spool implements FindingLedger, Housekeeping {
  readonly #root: RootDatabase
  readonly #findings: FindingTable
  readonly #queues: SinkQueues
  readonly #seen: SeenKeys
  readonly #state: DetectorState
  readonly #outbox: Outbox
  readonly #usage: Usage<'owed' | 'seen'>
  readonly #options: SpoolOptions
  readonly #policy: FindingPolicy
  readonly #listeners = new Set<() => void>()
  readonly #pressureListeners = new Set<() => void>()
  /** Where the last housekeeping step stopped in the findings' change index. */
  #cursor: [number, string] | undefined
  /**
   * `process` durability: the writes asked for in this event-loop turn, committed together. Each
   * entry's `resolve` gets what its own `work` returned; method syntax lets a `Promise<T>`'s resolver
   * stand in for it (parameter bivariance), since TypeScript has no per-entry type for the pair.
   */
  #batch: Array<{ work: () => unknown; resolve(result: unknown): void; reject(err: unknown): void }> = []

  constructor(options: SpoolOptions) {
    this.#options = options
    this.#policy = options.policy
    // `process` durability: a commit is done once its pages are in the OS page cache (noSync: no
    // fsync, which a killed process does not need). With a writable map (useWritemap) LMDB writes
    // them straight into the file's shared mapping — the page cache itself — so a commit makes no
    // write system call at all (it made one per run of dirty pages plus the meta page: ~4 µs of
    // system CPU per commit); what a killed process wrote there the OS still writes out.
    // `disk`: lmdb-js's default overlapping sync, and record() waits for the fsync shared by every
    // commit in flight (group commit).
    this.#root = open({ path: options.dir, compression: false, ...(options.durability === 'process' ? { noSync: true, useWritemap: true } : {}) })
    this.#findings = new FindingTable(this.#root, { commitsLater: options.durability === 'disk' })
    this.#queues = new SinkQueues(this.#root, { resendMs: options.resendMs, ranks: options.policy.ranks })
    this.#seen = new SeenKeys(this.#root, { chunk: options.seenWindowMs?.chunk ?? 3_600_000, event: options.seenWindowMs?.event ?? 3_600_000 })
    this.#state = new DetectorState(this.#root)
    this.#outbox = new Outbox(this.#root)
    this.#renameSinks()
    this.#usage = new Usage({
      owed: { databases: [this.#root, ...this.#findings.databases, ...this.#queues.databases, ...this.#state.databases, ...this.#outbox.databases] },
      seen: { databases: [], extra: () => this.#seen.bytes() },
    })
  }

  /**
   * Renamed sink ids (delivery/renamed-sinks.ts): what an older version queued and delivered under
   * the old id is owed and known under the new one. The walk over every delivery record runs once
   * (marked in the detector state), and again whenever something is queued under an old id (an
   * older version ran on this data dir since).
   */
  #renameSinks(): void {
    const done = this.#state.get<string[]>(RENAMED_KEY) ?? []
    const todo = Object.entries(RENAMED_SINK_IDS).filter(([from]) => !done.includes(from) || this.#queues.pendingCount(from) > 0)
    if (todo.length === 0) return
    const moved = this.#root.transactionSync(() => {
      this.#state.write([{ key: RENAMED_KEY, value: [...new Set([...done, ...todo.map(([from]) => from)])] }])
      return this.#queues.renameSinks(todo)
    })
    if (moved > 0) this.#options.logger.info({ renamed: Object.fromEntries(todo), records: moved }, 'spool: queues of renamed sinks moved to their new ids')
  }

  /** Call `listener` whenever new work is queued. */
  onQueued(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Call `listener` when the spool nears its budget (housekeeping should run now, not at its next tick). */
  onPressure(listener: () => void): () => void {
    this.#pressureListeners.add(listener)
    return () => this.#pressureListeners.delete(listener)
  }

  get #findingsBudget(): number {
    return this.#options.maxBytes * (1 - SEEN_SHARE)
  }

  async record(changes: FindingChange[], sinks: SinksFor, { dedupeKey, markSeen = NONE, outbox, state = NONE }: RecordOptions = {}): Promise<boolean> {
    // One clock read for the budget checks and the write (each was a Date.now of its own).
    const now = Date.now()
    const pressureAt = this.#findingsBudget * PRESSURE_AT
    const seenBudget = this.#options.maxBytes * SEEN_SHARE
    const used = this.#usage.bytes('owed', false, pressureAt / 2, now)
    if (used >= pressureAt || this.#usage.bytes('seen', false, seenBudget / 2, now) >= seenBudget) this.#pressure()
    if (used >= this.#findingsBudget) throw new SpoolFullError(`spool is at its ${this.#options.maxBytes}-byte budget`)
    let queued = false
    const duplicate = await this.#write(true, () => {
      queued = false // a retried batch runs this again
      if (dedupeKey !== undefined) {
        if (this.#seen.has('chunk', dedupeKey, now)) return true
        this.#seen.add('chunk', dedupeKey, now)
      }
      for (const key of markSeen) this.#seen.add('event', key, now)
      // Several outboxes may commit together (the Falco bridge's, a shared store's merge outbox).
      if (outbox) {
        for (const box of Array.isArray(outbox) ? outbox : [outbox]) {
          if (box.items.length === 0) continue
          this.#outbox.add(box.name, box.items)
          queued = true
        }
      }
      this.#state.write(state)
      if (changes.length === 1) {
        // One event (every Falco request): nothing to fold together, so no map to do it in.
        const { id, apply } = changes[0]!
        const stored = this.#findings.get(id)
        const next = apply(stored)
        if (next) queued = this.#store(next, stored, sinks, now) || queued
        return false
      }
      // Several changes to one finding in one request fold in memory and are written once: one
      // put and one queue entry per distinct finding, not per event.
      const changed = new Map<string, { stored: FindingState | undefined; next: FindingState }>()
      for (const { id, apply } of changes) {
        const entry = changed.get(id)
        const stored = entry ? entry.stored : this.#findings.get(id) // decoded once per finding, not twice
        const next = apply(entry ? entry.next : stored)
        if (!next) continue
        if (entry) entry.next = next
        else changed.set(id, { stored, next })
      }
      for (const { stored, next } of changed.values()) queued = this.#store(next, stored, sinks, now) || queued
      return false
    })
    this.#usage.written()
    if (!duplicate && queued) this.#notify()
    return duplicate
  }

  /** Inside a write: a finding's new state put and owed to its sinks. Whether anything was newly queued. */
  #store(next: FindingState, stored: FindingState | undefined, sinks: SinksFor, now: number): boolean {
    this.#findings.put(next, stored)
    const rank = this.#policy.rank(next)
    let queued = false
    for (const sink of typeof sinks === 'function' ? sinks(next) : sinks) queued = this.#queues.queue(sink, next, rank, now) || queued
    return queued
  }

  /**
   * One atomic write, resolved once it is as durable as the spool promises. `disk`: lmdb-js's
   * asynchronous transaction, then the fsync every commit in flight shares (group commit).
   * `acknowledged`: a source is answered after it, so with `disk` it waits for that fsync.
   * `process`: every write asked for in this event-loop turn goes into one synchronous transaction
   * at the end of the turn — no fsync to wait for, so no hop to lmdb-js's write thread either
   * (that round trip cost one sender ~0.3 ms per alert); concurrent requests still share a commit.
   */
  #write<T>(acknowledged: boolean, work: () => T): Promise<T> {
    if (this.#options.durability === 'disk') {
      // A callback that throws drops the caches at once, before another write of its batch runs.
      const guarded = () => {
        try {
          return this.#findings.inWrite(work)
        } catch (err) {
          this.#dropCaches()
          throw err
        }
      }
      // Each write in a child transaction of lmdb-js's batch: one that throws is rolled back alone.
      // A plain `transaction` callback that throws keeps what it wrote before the throw (lmdb-js
      // aborts nothing): the finding's new state and its chunk's seen key committed, no queue entry,
      // and the sender's retry answered as a duplicate — the change never delivered.
      const done = this.#root.childTransaction(guarded).catch((err: unknown) => {
        this.#dropCaches()
        throw err
      })
      return acknowledged ? done.then(async (result) => (await this.#root.flushed, result)) : done
    }
    return new Promise<T>((resolve, reject) => {
      if (this.#batch.push({ work, resolve, reject }) === 1) setImmediate(() => this.#commitBatch())
    })
  }

  #commitBatch(): void {
    const batch = this.#batch
    this.#batch = []
    if (batch.length === 0) return
    let results: unknown[]
    try {
      results = this.#root.transactionSync(() => this.#findings.inTransaction(() => batch.map((b) => b.work())))
    } catch {
      // Nothing of the batch was committed: each write again on its own, so only the one that fails is refused.
      this.#dropCaches()
      for (const b of batch) {
        try {
          b.resolve(this.#root.transactionSync(() => this.#findings.inTransaction(b.work)))
        } catch (err) {
          this.#dropCaches()
          b.reject(err)
        }
      }
      return
    }
    batch.forEach((b, i) => b.resolve(results[i]))
  }

  /** A write transaction failed: nothing remembered from what it wrote is trusted. */
  #dropCaches(): void {
    this.#findings.dropCache()
    this.#queues.forgetQueued()
  }

  #notify(): void {
    for (const listener of this.#listeners) listener()
  }

  #pressure(): void {
    for (const listener of this.#pressureListeners) listener()
  }

  /** What `sink` should send now: most urgent first, then oldest; recently sent findings wait out their resend interval unless `ignoreResend`. */
  due(sink: string, limit: number, now: number, ignoreResend = false): { items: Due[]; nextDueAt: number | undefined } {
    return this.#queues.due(sink, limit, now, ignoreResend, (id) => this.#findings.get(id))
  }

  /** `sink` delivered these versions. Returns, per finding, how many occurrences the delivery covered. */
  async acknowledge(sink: string, delivered: Array<{ id: string; version: number }>, now: number): Promise<number[]> {
    return this.#write(false, () => delivered.map(({ id, version }) => this.#queues.delivered(sink, id, version, this.#findings.get(id), now)))
  }

  /** Out of `sink`'s queue without delivery (dead-lettered); a newer version stays owed. */
  async discard(sink: string, dropped: Array<{ id: string; version: number }>): Promise<void> {
    await this.#write(false, () => dropped.forEach(({ id, version }) => this.#queues.dropped(sink, id, version, this.#findings.get(id))))
  }

  findingQueue(sink: string): LocalQueue<Finding> {
    return {
      due: (limit, now, ignoreResend) => {
        const { items, nextDueAt } = this.due(sink, limit, now, ignoreResend)
        return { items: items.map((d) => ({ id: d.state.id, value: toFinding(d.state), version: d.state.version })), nextDueAt }
      },
      acknowledge: (items, now) =>
        this.acknowledge(
          sink,
          items.map((i) => ({ id: i.id, version: i.version ?? 0 })),
          now,
        ),
      discard: (items) =>
        this.discard(
          sink,
          items.map((i) => ({ id: i.id, version: i.version ?? 0 })),
        ),
      pending: () => this.pendingCount(sink),
      onQueued: (listener) => this.onQueued(listener),
    }
  }

  outboxQueue(name: string): LocalQueue {
    return this.#outbox.queue(name, (listener) => this.onQueued(listener))
  }

  /** The keys not taken within their window (`event`: audit IDs; `chunk`: Fluent Bit chunk hashes). */
  unseen(keys: readonly string[], kind: SeenKind = 'event'): string[] {
    const now = Date.now()
    return keys.filter((k) => !this.#seen.has(kind, k, now))
  }

  get state(): DetectorState {
    return this.#state
  }

  oldestPendingAt(sink: string): number | undefined {
    return this.#queues.oldestPendingAt(sink)
  }

  pendingCount(sink: string): number {
    return this.#queues.pendingCount(sink)
  }

  findingCount(): number {
    return this.#findings.count()
  }

  seenKeyCount(): number {
    return this.#seen.count()
  }

  /**
   * One bounded step of housekeeping: drop expired seen-key buckets; walk at most
   * `budget.findings` findings from the front of the change index — those whose window closed
   * are archived for the lifecycle sinks that had them, or forgotten once nothing is owed; near
   * the budget, findings every sink has delivered are forgotten early (a repeat then starts a new
   * count). Findings still owed to a sink are never touched.
   */
  async housekeep(now: number, budget: Partial<StepBudget> = {}): Promise<HousekeepingStep> {
    const limits = { ...DEFAULT_STEP, ...budget }
    const step: HousekeepingStep = { visited: 0, archived: 0, forgotten: 0, gaveWay: 0, seenBucketsDropped: 0 }
    const cutoff = now - this.#policy.windowMs
    const pressed = this.#usage.bytes('owed', true) >= this.#findingsBudget * PRESSURE_AT
    const keys = this.#findings.idle(pressed ? Infinity : cutoff, limits.findings, this.#cursor)
    this.#cursor = keys.length >= limits.findings ? keys.at(-1) : undefined // the end: start over next time
    const seenBudget = this.#options.maxBytes * SEEN_SHARE
    await this.#write(false, () => {
      Object.assign(step, { visited: 0, archived: 0, forgotten: 0, gaveWay: 0 }) // a retried batch runs this again
      const seen = this.#seen.expire(now, limits.seenBuckets, () => this.#seen.bytes() > seenBudget)
      step.seenBucketsDropped = seen.dropped
      if (seen.early > 0) this.#options.logger.warn({ buckets: seen.early, seenKeys: this.#seen.count() }, 'resend-detection keys over their share of the spool budget: the oldest dropped early')
      for (const [indexed, id] of keys) {
        step.visited++
        const state = this.#findings.get(id)
        if (!this.#findings.indexedUnder(indexed, id, state)) continue
        // Indexed by the second it changed in: the second began before the cutoff, the change may not have.
        const changed = changedAt(state)
        if (!pressed && changed >= cutoff) continue
        const { sinks, owed } = this.#queues.of(id)
        if (owed) continue
        if (changed < cutoff && !state.archived) {
          const lifecycle = sinks.filter((s) => this.#policy.tracksLifecycle(s))
          if (lifecycle.length > 0) {
            const next = this.#policy.closeWindow(state, now)
            this.#findings.put(next, state)
            for (const sink of lifecycle) this.#queues.queue(sink, next, this.#policy.rank(next), now)
            step.archived++
            continue
          }
        }
        this.#queues.forget(id)
        this.#findings.remove(state)
        if (changed < cutoff) step.forgotten++
        else step.gaveWay++
      }
    })
    this.#usage.invalidate()
    if (step.archived > 0) this.#notify()
    return step
  }

  /**
   * The explicit shedding policy: drop the least urgent queued findings (rank above
   * `maxRankKept`), oldest first, until usage is under `targetBytes`, at most `limit` per call.
   * `keep` gets each chunk before it is removed (the dead-letter write): if it throws, nothing of
   * that chunk is removed. Returns what was dropped, for the caller to log.
   */
  async shed(targetBytes: number, maxRankKept: number, keep: (states: FindingState[]) => Promise<void>, limit = 10_000): Promise<FindingState[]> {
    const shed: FindingState[] = []
    const victims = this.#queues.leastUrgent(this.#queues.sinks(), maxRankKept, limit)
    for (let i = 0; i < victims.length && this.usageBytes(true) > targetBytes; i += 100) {
      const chunk = victims.slice(i, i + 100).flatMap((id) => this.#findings.get(id) ?? [])
      if (chunk.length === 0) continue
      await keep(chunk)
      const removed = await this.#write(false, () => {
        const removed: FindingState[] = []
        for (const state of chunk) {
          // Changed since it was kept (a new event): the kept copy is not this one, so it stays.
          if (this.#findings.get(state.id)?.version !== state.version) continue
          this.#queues.forget(state.id)
          this.#findings.remove(state)
          removed.push(state)
        }
        return removed
      })
      shed.push(...removed)
      this.#usage.invalidate()
    }
    return shed
  }

  /** Bytes in use: findings, queues, state and outboxes, plus the seen keys. Cached for 100 ms. */
  usageBytes(fresh = false): number {
    return this.#usage.bytes('owed', fresh) + this.#usage.bytes('seen', fresh)
  }

  /** The part of usage that counts against ingest: everything but the seen keys. */
  owedBytes(fresh = false): number {
    return this.#usage.bytes('owed', fresh)
  }

  async close(): Promise<void> {
    this.#commitBatch()
    await this.#root.close()
  }
}
