import { open, type Database, type RootDatabase } from 'lmdb'
import { fromMs } from '../model/time.js'
import type { Logger } from 'pino'
import { toFinding, type FindingState } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import type { Outbox } from '../model/ingest.js'
import type { LocalDeliveryQueue, QueuedItem } from './queue.js'
import { SEVERITY_LABELS, type SeverityLabel } from '../model/severity.js'

/**
 * The durable spool: every finding's current state and, per sink, the queue of findings that sink
 * still has to deliver. Built on LMDB (lmdb-js): crash-safe copy-on-write B-trees, one writer,
 * transactions batched per event-loop turn, prebuilt binaries shipped inside the npm package.
 *
 * One write transaction folds a request's events into their findings and queues each changed
 * finding for every sink; the source gets its 2xx only after that commit. A sink acknowledges
 * the version it delivered, so a change that arrives while a request is in flight stays queued.
 * Nothing is lost to `kill -9`: what was acknowledged to a source is committed, and whatever a sink
 * had not acknowledged is still queued at the next start.
 *
 * Durability: `process` (default) acknowledges once the transaction is committed — it survives the
 * process being killed, since the OS holds the written pages; `disk` also waits for fsync, which
 * survives losing the machine (worth it only on a persistent volume, not an emptyDir).
 */
export interface SpoolOptions {
  dir: string
  maxBytes: number
  durability: 'process' | 'disk'
  /** Per sink: the shortest time between two deliveries of the same finding (storm control). */
  resendMs: Record<string, number>
  logger: Logger
}

/** What a write commits besides the findings, in the same transaction. */
export interface RecordOptions {
  /** A hash of the request body: the same body again is acknowledged but not counted again. */
  dedupeKey?: string
  /** Keys to remember as taken (already checked with `unseen` by the caller), e.g. audit IDs. */
  markSeen?: readonly string[]
  /** Raw items for outboxes (the Falco bridge's feed, the occurrences a shared store has yet to merge). */
  outbox?: Outbox | Outbox[]
  /** Detector state (first-seen baselines, aws-auth content) that these findings came from. */
  state?: ReadonlyArray<{ key: string; value: unknown }>
}

export type { Outbox } from '../model/ingest.js'

type PendingKey = [sink: string, rank: number, seq: number]
interface Pending {
  id: string
  /** Epoch ms before which this finding is not sent again (0: never sent, send now). */
  notBefore: number
  /** Epoch ms since when this sink owes a delivery of the finding (the oldest-pending-age gauge). */
  queuedAt?: number
}
interface Delivery {
  queued?: PendingKey
  lastSentAt?: number
  /** The finding's count when this sink last delivered it: what the next delivery adds. */
  lastSentCount?: number
}

export interface Due {
  key: PendingKey
  state: FindingState
}

export class SpoolFullError extends Error {}

const RANK = new Map<SeverityLabel, number>(SEVERITY_LABELS.map((l, i) => [l, SEVERITY_LABELS.length - 1 - i]))
const MAX_RANK = SEVERITY_LABELS.length

export class Spool {
  readonly #root: RootDatabase
  readonly #findings: Database<FindingState, string>
  readonly #pending: Database<Pending, PendingKey>
  /** Keyed [findingId, sink], so everything about one finding is one short range. */
  readonly #delivery: Database<Delivery, [string, string]>
  /** Hashes of request bodies already taken (Fluent Bit resends a chunk byte for byte) → when. */
  readonly #chunks: Database<number, string>
  /** Small state detectors keep across restarts (first-seen baselines, the last aws-auth). */
  readonly #state: Database<unknown, string>
  /** Raw items waiting for an outbox consumer (audit events for the Falco bridge), by [outbox, seq]. */
  readonly #outbox: Database<{ id: string; value: unknown }, [string, number]>
  readonly #options: SpoolOptions
  readonly #listeners = new Set<() => void>()
  #seq: number
  #usage = { bytes: 0, at: 0 }

  constructor(options: SpoolOptions) {
    this.#options = options
    this.#root = open({ path: options.dir, compression: false })
    this.#findings = this.#root.openDB({ name: 'findings' })
    this.#pending = this.#root.openDB({ name: 'pending' })
    this.#delivery = this.#root.openDB({ name: 'delivery' })
    this.#chunks = this.#root.openDB({ name: 'chunks' })
    // Cached: a write is visible to the next read at once, before its commit resolves.
    this.#state = this.#root.openDB({ name: 'state', cache: true })
    this.#outbox = this.#root.openDB({ name: 'outbox' })
    this.#seq = 0
    for (const key of this.#pending.getKeys()) this.#seq = Math.max(this.#seq, key[2])
    for (const key of this.#outbox.getKeys()) this.#seq = Math.max(this.#seq, key[1])
  }

  /** Call `listener` whenever new work is queued. */
  onQueued(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Fold events into findings and queue them for `sinks`, in one transaction with everything in
   * `options`; resolves once durable. With a `dedupeKey` (a hash of the request body), a body seen
   * before changes nothing and `true` (duplicate) is returned: a resent chunk is never counted
   * twice, and the check and the writes are one transaction, so a crash cannot leave one without
   * the other.
   * Throws SpoolFullError, before writing anything, when the disk budget is used up.
   */
  async record(
    /** `apply` returning undefined leaves that finding as it is (e.g. nothing to resolve). */
    items: Array<{ id: string; apply: (previous: FindingState | undefined) => FindingState | undefined }>,
    /** The sinks to queue each changed finding for: fixed, or chosen per finding (routing). */
    sinks: readonly string[] | ((finding: FindingState) => readonly string[]),
    { dedupeKey, markSeen = [], outbox, state = [] }: RecordOptions = {},
  ): Promise<boolean> {
    if (this.usageBytes() >= this.#options.maxBytes) throw new SpoolFullError(`spool is at its ${this.#options.maxBytes}-byte budget`)
    const duplicate = await this.#root.transaction(() => {
      if (dedupeKey !== undefined) {
        if (this.#chunks.get(dedupeKey) !== undefined) return true
        this.#chunks.put(dedupeKey, Date.now())
      }
      for (const key of markSeen) this.#chunks.put(key, Date.now())
      for (const box of [outbox ?? []].flat()) for (const item of box.items) this.#outbox.put([box.name, ++this.#seq], item)
      for (const { key, value } of state) this.#state.put(key, value)
      for (const { id, apply } of items) {
        const next = apply(this.#findings.get(id))
        if (!next) continue
        this.#findings.put(id, next)
        for (const sink of typeof sinks === 'function' ? sinks(next) : sinks) this.#queue(sink, next)
      }
      return false
    })
    if (this.#options.durability === 'disk') await this.#root.flushed
    this.#usage.at = 0
    if (!duplicate) for (const listener of this.#listeners) listener()
    return duplicate
  }

  /** A changed finding already queued keeps its place (and is sent in its newest version). */
  #queue(sink: string, state: FindingState): void {
    const delivery = this.#delivery.get([state.id, sink]) ?? {}
    if (delivery.queued) return
    const key: PendingKey = [sink, RANK.get(state.severity) ?? MAX_RANK, ++this.#seq]
    const resend = this.#options.resendMs[sink] ?? 0
    this.#pending.put(key, { id: state.id, notBefore: delivery.lastSentAt !== undefined ? delivery.lastSentAt + resend : 0, queuedAt: Date.now() })
    this.#delivery.put([state.id, sink], { ...delivery, queued: key })
  }

  /**
   * What `sink` should send now: most urgent first, then oldest; findings sent recently wait out
   * their resend interval unless `ignoreResend` (shutdown flush). Also says when the next waiting
   * finding becomes due.
   */
  due(sink: string, limit: number, now: number, ignoreResend = false): { items: Due[]; nextDueAt: number | undefined } {
    const items: Due[] = []
    let nextDueAt: number | undefined
    for (const { key, value } of this.#pending.getRange({ start: [sink], end: [sink, MAX_RANK + 1] })) {
      if (!ignoreResend && value.notBefore > now) {
        nextDueAt = Math.min(nextDueAt ?? Infinity, value.notBefore)
        continue
      }
      const state = this.#findings.get(value.id)
      if (state) items.push({ key: key as PendingKey, state })
      if (items.length >= limit) break
    }
    return { items, nextDueAt }
  }

  /**
   * `sink` delivered these versions. A finding that changed meanwhile stays queued, due again
   * after the resend interval. Returns, per finding, how many occurrences the delivery covered.
   */
  async acknowledge(sink: string, delivered: Array<{ id: string; version: number }>, now: number): Promise<number[]> {
    const covered: number[] = []
    await this.#root.transaction(() => {
      for (const { id, version } of delivered) {
        const delivery = this.#delivery.get([id, sink]) ?? {}
        const state = this.#findings.get(id)
        covered.push((state?.count ?? 0) - (delivery.lastSentCount ?? 0))
        const next: Delivery = { lastSentAt: now, lastSentCount: state?.count ?? 0 }
        if (delivery.queued && state && state.version !== version) {
          // Owed since the delivered version at the latest: `now` is the age's lower bound.
          this.#pending.put(delivery.queued, { id, notBefore: now + (this.#options.resendMs[sink] ?? 0), queuedAt: now })
          next.queued = delivery.queued
        } else if (delivery.queued) {
          this.#pending.remove(delivery.queued)
        }
        this.#delivery.put([id, sink], next)
      }
    })
    return covered
  }

  /**
   * Take these versions out of `sink`'s queue without delivering them (they were dead-lettered).
   * Like `acknowledge`, a finding that changed meanwhile stays queued: its new version is still owed.
   */
  async discard(sink: string, dropped: Array<{ id: string; version: number }>): Promise<void> {
    await this.#root.transaction(() => {
      for (const { id, version } of dropped) {
        const delivery = this.#delivery.get([id, sink])
        const state = this.#findings.get(id)
        if (delivery?.queued && state && state.version !== version) continue
        if (delivery?.queued) this.#pending.remove(delivery.queued)
        if (delivery) this.#delivery.put([id, sink], { lastSentAt: delivery.lastSentAt, lastSentCount: delivery.lastSentCount })
      }
    })
  }

  #deliveriesOf(id: string): Array<{ key: [string, string]; value: Delivery }> {
    return [...this.#delivery.getRange({ start: [id], end: [id, '\uffff'] })] as Array<{ key: [string, string]; value: Delivery }>
  }

  /** A sink's queue of findings, as a runner drains it. */
  findingQueue(sink: string): LocalDeliveryQueue<Finding> {
    return {
      due: (limit, now, ignoreResend) => {
        const { items, nextDueAt } = this.due(sink, limit, now, ignoreResend)
        return { items: items.map((d) => ({ id: d.state.id, value: toFinding(d.state), version: d.state.version })), nextDueAt }
      },
      acknowledge: (items, now) => this.acknowledge(sink, items.map((i) => ({ id: i.id, version: i.version ?? 0 })), now),
      discard: (items) => this.discard(sink, items.map((i) => ({ id: i.id, version: i.version ?? 0 }))),
      pending: () => this.pendingCount(sink),
      onQueued: (listener) => this.onQueued(listener),
    }
  }

  /** An outbox of raw items, oldest first, as a runner drains it. */
  outboxQueue(name: string): LocalDeliveryQueue {
    const keyOf = new WeakMap<object, [string, number]>()
    return {
      due: (limit) => {
        const items: QueuedItem[] = []
        for (const { key, value } of this.#outbox.getRange({ start: [name], end: [name, Infinity], limit })) {
          const item = { id: value.id, value: value.value }
          keyOf.set(item, key as [string, number])
          items.push(item)
        }
        return { items, nextDueAt: undefined }
      },
      acknowledge: async (items) => {
        await this.#root.transaction(() => items.forEach((i) => keyOf.has(i) && this.#outbox.remove(keyOf.get(i)!)))
        return items.map(() => 1)
      },
      discard: async (items) => {
        await this.#root.transaction(() => items.forEach((i) => keyOf.has(i) && this.#outbox.remove(keyOf.get(i)!)))
      },
      pending: () => this.#outbox.getCount({ start: [name], end: [name, Infinity] }),
      onQueued: (listener) => this.onQueued(listener),
    }
  }

  /** The keys not taken before (see `markSeen`). */
  unseen(keys: readonly string[]): string[] {
    return keys.filter((k) => this.#chunks.get(k) === undefined)
  }

  /** A StateStore over the spool: reads at once, writes committed with the next transaction batch. */
  get state(): { get<T>(key: string): T | undefined; put(key: string, value: unknown): Promise<unknown> } {
    return {
      get: <T>(key: string) => this.#state.get(key) as T | undefined,
      put: (key: string, value: unknown) => this.#state.put(key, value),
    }
  }

  /**
   * When the longest-owed finding of `sink` was queued (epoch ms), undefined when nothing is. A
   * scan of the sink's queue: meant for a scrape every few seconds, not for the request path.
   */
  oldestPendingAt(sink: string): number | undefined {
    let oldest: number | undefined
    for (const { value } of this.#pending.getRange({ start: [sink], end: [sink, MAX_RANK + 1] })) {
      // Queued by a version that did not record the time: unknown, rather than 1970.
      if (value.queuedAt !== undefined && (oldest === undefined || value.queuedAt < oldest)) oldest = value.queuedAt
    }
    return oldest
  }

  pendingCount(sink: string): number {
    return this.#pending.getCount({ start: [sink], end: [sink, MAX_RANK + 1] })
  }

  /**
   * Findings idle for longer than `idleMs` (their window has closed) are archived: a last version
   * marked `archived` is queued for the sinks that track a finding's life (`archiveTo`: Security Hub
   * → RecordState ARCHIVED, PagerDuty → resolve) and had delivered it. Once nothing is queued any
   * more the finding is forgotten, and a repeat starts a new count under the same Id.
   */
  async expire(idleMs: number, now: number, chunkTtlMs = idleMs, auditTtlMs = 3_600_000, archiveTo: (sink: string) => boolean = () => false): Promise<number> {
    const cutoff = now - idleMs
    // Audit IDs only need to outlive the overlaps that can repeat them (poll look-back, restarts,
    // webhook retries): an hour, not the day a Fluent Bit chunk is remembered.
    const ttl = (key: string) => (key.startsWith('audit') ? auditTtlMs : chunkTtlMs)
    const oldChunks = [...this.#chunks.getRange()].filter((e) => e.value < now - ttl(e.key as string)).map((e) => e.key as string)
    const stale: string[] = []
    for (const { key, value } of this.#findings.getRange()) {
      if (Date.parse(value.lastObservedAt) < cutoff) stale.push(key as string)
    }
    let removed = 0
    let archived = 0
    await this.#root.transaction(() => {
      for (const key of oldChunks) this.#chunks.remove(key)
      for (const id of stale) {
        const deliveries = this.#deliveriesOf(id)
        if (deliveries.some((e) => e.value.queued)) continue
        const state = this.#findings.get(id)
        const archiveSinks = deliveries.map((e) => e.key[1]).filter(archiveTo)
        if (state && !state.archived && archiveSinks.length > 0) {
          const last = Math.max(now, Date.parse(state.updatedAt) + 1)
          const next: FindingState = { ...state, archived: true, version: state.version + 1, updatedAt: fromMs(last) }
          this.#findings.put(id, next)
          for (const sink of archiveSinks) this.#queue(sink, next)
          archived++
          continue
        }
        for (const e of deliveries) this.#delivery.remove(e.key)
        this.#findings.remove(id)
        removed++
      }
    })
    if (archived > 0) for (const listener of this.#listeners) listener()
    this.#usage.at = 0
    return removed
  }

  /**
   * The explicit shedding policy: drop the least urgent queued findings (INFORMATIONAL, then
   * LOW), oldest first, until usage is under `targetBytes`; never called unless configured.
   * `keep` gets each chunk before it is removed (the dead-letter write): if it throws, nothing of
   * that chunk is removed. Returns what was dropped, for the caller to log.
   */
  async shed(targetBytes: number, maxRankKept: number, keep: (states: FindingState[]) => Promise<void>): Promise<FindingState[]> {
    const shed: FindingState[] = []
    const ids = new Set(
      [...this.#pending.getRange()]
        .filter((e) => (e.key as PendingKey)[1] > maxRankKept)
        .sort((a, b) => (b.key as PendingKey)[1] - (a.key as PendingKey)[1] || (a.key as PendingKey)[2] - (b.key as PendingKey)[2])
        .map((e) => (e.value as Pending).id), // a finding queued for several sinks is one victim
    )
    const victims = [...ids]
    for (let i = 0; i < victims.length && this.usageBytes(true) > targetBytes; i += 100) {
      const chunk = victims.slice(i, i + 100).flatMap((id) => this.#findings.get(id) ?? [])
      if (chunk.length === 0) continue
      await keep(chunk)
      await this.#root.transaction(() => {
        for (const state of chunk) {
          // Changed since it was kept (a new event): the kept copy is not this one, so it stays.
          if (this.#findings.get(state.id)?.version !== state.version) continue
          for (const e of this.#deliveriesOf(state.id)) {
            if (e.value.queued) this.#pending.remove(e.value.queued)
            this.#delivery.remove(e.key)
          }
          this.#findings.remove(state.id)
          shed.push(state)
        }
      })
    }
    return shed
  }

  /** Bytes of live B-tree pages (free pages LMDB will reuse are not counted). Cached for 100 ms. */
  usageBytes(fresh = false): number {
    const now = Date.now()
    if (fresh || now - this.#usage.at > 100) {
      let pages = 0
      let pageSize = 4096
      for (const db of [this.#root, this.#findings, this.#pending, this.#delivery, this.#chunks, this.#state, this.#outbox] as Array<Database<any, any>>) {
        const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
        pageSize = s.pageSize
        pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages
      }
      this.#usage = { bytes: pages * pageSize, at: now }
    }
    return this.#usage.bytes
  }

  async close(): Promise<void> {
    await this.#root.close()
  }
}
