import type { Valkey as Redis } from 'iovalkey'
import type { Logger } from 'pino'
import { setTimeout as sleep } from 'node:timers/promises'
import { toFinding, type FindingState } from '../aggregate/aggregator.js'
import { findingFromStore } from '../cluster/aggregate.js'
import type { Store } from '../cluster/store.js'
import type { ConsoleStats, FindingIndex, FindingPage, FindingQuery, FindingRecord } from './findings-index.js'
import type { Retention } from './local-index.js'
import { SharedDeadLetters, unavailable } from './shared-dead-letters.js'
import { PendingOutcomes, withOutcomes, type Outcome } from './outcomes.js'
import { addedBy, BUCKET_MS, bucketKeys, bucketStarts, FindingRows, KEYS_PER_BUCKET, nextRecord, summaryOf, type Bucket, type Facets, type Totals } from './rows.js'
import { COUNT, PUT_RECORDS, READ_COUNTS, READ_MERGED, READ_RECORDS, SWEEP } from './shared-scripts.js'

export interface SharedIndexDeps {
  store: Store
  logger: Logger
  /** The sinks whose shared queues a finding may wait in (its "pending" deliveries). */
  sinks: readonly string[]
  /** Findings this replica merged into the store (src/cluster Cluster.onMerged). */
  onMerged: (listener: (ids: string[]) => void) => () => void
  now?: () => number
}

const FLUSH_MS = 200
/** Change-stream entries kept (about): a replica away for longer reloads everything. */
const STREAM_MAXLEN = 10_000
/** Ids per store round trip. */
const CHUNK = 500
const BLOCK_MS = 2000
/** This replica's own count per finding, for the occurrences each commit adds (bounded: the oldest go). */
const LOCAL_COUNTS = 200_000

/**
 * The console index when several replicas share a store (docs/console.md, "Several replicas"):
 * every record lives in the store, written by the replica that merged the finding (read back from
 * the merged aggregate, so counts are cluster-wide) with compare-and-set, so replicas never
 * overwrite each other's changes. Each replica keeps the same compact rows in memory as the local
 * index (./rows.ts) — filters, sorts, pages and counts stay in-process and fast — and follows the
 * store's change stream to update them; the same stream drives every replica's live updates, so a
 * browser on any replica sees a change made through any other. Details (the full record and its
 * delivery state: delivered, queued in the shared sink queues, dead-lettered) are read from the
 * store when asked for.
 */
export class SharedFindingIndex implements FindingIndex {
  #rows = new FindingRows()
  /** Every replica's dead letters, from the records (redrive through any replica). */
  readonly deadLetters: SharedDeadLetters
  readonly #store: Store
  readonly #tail: Redis
  readonly #logger: Logger
  readonly #retention: Retention
  readonly #sinks: string[]
  readonly #now: () => number
  readonly #listeners = new Set<(ids: string[]) => void>()
  /** Merged findings to read back into their records. */
  readonly #dirty = new Set<string>()
  readonly #outcomes = new PendingOutcomes()
  readonly #local = new Map<string, { firstObservedAt: string; count: number }>()
  /** Bucket start → field → occurrences not written yet; and totals not written yet. */
  readonly #counts = new Map<number, Map<string, number>>()
  #totals: Record<string, number> = {}
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()
  #lastId = '0-0'
  #stopped = false
  readonly #loaded: Promise<void>
  readonly #following: Promise<void>
  readonly #sweeper: NodeJS.Timeout
  readonly #unsubscribe: () => void

  constructor(retention: Retention, deps: SharedIndexDeps) {
    this.#store = deps.store
    this.deadLetters = new SharedDeadLetters(deps.store, STREAM_MAXLEN)
    this.#logger = deps.logger.child({ component: 'console-index' })
    this.#retention = retention
    this.#sinks = [...deps.sinks]
    this.#now = deps.now ?? Date.now
    // Its own connection: a blocking read of the change stream would hold up every other command.
    this.#tail = deps.store.client.duplicate({ commandTimeout: BLOCK_MS + 5000, connectionName: 'falconet-console' })
    this.#tail.on('error', () => {}) // reported by the follower, once per outage
    this.#unsubscribe = deps.onMerged((ids) => {
      for (const id of ids) this.#dirty.add(id)
      this.#schedule()
    })
    let loaded!: () => void
    this.#loaded = new Promise((resolve) => (loaded = resolve))
    this.#following = this.#follow(loaded)
    this.#sweeper = setInterval(() => void this.#sweep(false), 60_000).unref()
    void this.#loaded.then(() => this.#sweep(false))
  }

  /** Resolves once this replica holds every row (the first load from the store). */
  ready(): Promise<void> {
    return this.#loaded
  }

  get bytes(): number {
    return this.#rows.bytes
  }

  /** Occurrences this replica received, counted at arrival (the charts); the records follow the merge. */
  record(findings: readonly FindingState[]): void {
    const start = Math.floor(this.#now() / BUCKET_MS) * BUCKET_MS
    for (const state of findings) {
      const before = this.#local.get(state.id)
      const added = addedBy(before, state)
      this.#local.delete(state.id)
      this.#local.set(state.id, { firstObservedAt: state.firstObservedAt, count: state.count })
      if (this.#local.size > LOCAL_COUNTS) this.#local.delete(this.#local.keys().next().value!)
      this.#total('findingVersions', 1)
      if (added <= 0) continue
      const k = bucketKeys(toFinding(state))
      const b = this.#counts.get(start) ?? new Map<string, number>()
      for (const f of ['a', `s:${k.severity}`, `k:${k.kind}`, `r:${k.rule}`, `n:${k.namespace}`]) b.set(f, (b.get(f) ?? 0) + added)
      this.#counts.set(start, b)
      this.#total('alertsReceived', added)
    }
    this.#schedule()
  }

  delivered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, at: number): void {
    this.#outcomes.delivered(sink, items, at)
    this.#reread(items)
  }

  deadLettered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, why: { code: string; reason: string }, at: number): void {
    this.#outcomes.deadLettered(sink, items, why, at)
    this.#reread(items)
  }

  /** A lifecycle sink's archived version is made by the store's window expiry, not by a merge: read it back too. */
  #reread(items: ReadonlyArray<{ id: string }>): void {
    for (const { id } of items) this.#dirty.add(id)
    this.#schedule()
  }

  sent(sink: string, items: number): void {
    if (sink !== 'securityHub') return
    this.#total('securityHubCalls', 1)
    this.#total('securityHubFindings', items)
    this.#schedule()
  }

  #total(field: string, n: number): void {
    this.#totals[field] = (this.#totals[field] ?? 0) + n
  }

  async annotate(id: string, note: Pick<FindingRecord, 'archivedBy'>): Promise<void> {
    try {
      for (let attempt = 0; attempt < 10; attempt++) {
        const [[json], [rev]] = await this.#store.run<[Array<string | null>, Array<string | null>]>(READ_RECORDS, [], [this.#store.prefix, id])
        if (!json) return
        const [, , conflicts] = await this.#put(id, rev ?? '0', JSON.stringify({ ...(JSON.parse(json) as FindingRecord), ...note }), '')
        if (conflicts.length === 0) return
      }
    } catch (err) {
      throw unavailable(err)
    }
    throw unavailable(new Error('the record kept changing'))
  }

  async get(id: string): Promise<FindingRecord | undefined> {
    try {
      const [[json]] = await this.#store.run<[Array<string | null>]>(READ_RECORDS, [], [this.#store.prefix, id])
      if (!json) return undefined
      const merged = await this.#store.run<Array<[string[], number, number, string[], string[]]>>(READ_MERGED, [], [this.#store.prefix, JSON.stringify(this.#sinks), id])
      const [, , , delivery, queued] = merged[0]!
      // The shared delivery records (sink → "sentAt|count|version") are the truth while the finding
      // is active; the record keeps what was acknowledged after they are gone.
      const outcomes: Record<string, Outcome> = {}
      for (let i = 0; i + 1 < delivery.length; i += 2) {
        const [at, , version] = delivery[i + 1]!.split('|').map(Number)
        outcomes[delivery[i]!] = { kind: 'delivered', version: version!, at: new Date(at!).toISOString() }
      }
      return { ...withOutcomes(JSON.parse(json) as FindingRecord, outcomes), routedTo: queued }
    } catch (err) {
      throw unavailable(err)
    }
  }

  async query(q: FindingQuery): Promise<FindingPage> {
    const page = this.#rows.query(q, () => '')
    if (page.items.length === 0) return page
    try {
      const [records] = await this.#store.run<[Array<string | null>]>(READ_RECORDS, [], [this.#store.prefix, ...page.items.map((r) => r.id)])
      page.items.forEach((row, i) => {
        const json = records[i]
        if (json) row.summary = summaryOf((JSON.parse(json) as FindingRecord).finding.event.output)
      })
    } catch (err) {
      this.#logger.debug({ err: { message: (err as Error).message } }, 'console index: summaries not read')
    }
    return page
  }

  async stats(from: number, to: number): Promise<ConsoleStats> {
    const starts = bucketStarts(from, to)
    let reply: string[][]
    try {
      reply = await this.#store.run<string[][]>(READ_COUNTS, [], [this.#store.prefix, ...starts])
    } catch (err) {
      throw unavailable(err)
    }
    const tot = hash(reply[0]!)
    const totals: Totals = {
      alertsReceived: Number(tot.alertsReceived ?? 0),
      findingVersions: Number(tot.findingVersions ?? 0),
      securityHub: { calls: Number(tot.securityHubCalls ?? 0), findingsSent: Number(tot.securityHubFindings ?? 0) },
    }
    const buckets = new Map<number, Bucket>()
    starts.forEach((start, i) => {
      const flat = reply[i + 1]!
      if (flat.length > 0) buckets.set(start, bucketOf(flat))
    })
    return this.#rows.stats(from, to, (start) => buckets.get(start), totals)
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
    this.#flushing = this.#flushing
      .then(() => this.#write())
      .catch((err) => {
        this.#logger.debug({ err: { message: (err as Error).message } }, 'console index: store write failed; retried')
        if (!this.#stopped) this.#timer ??= setTimeout(() => void this.flush(), 1000)
      })
    return this.#flushing
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    this.#unsubscribe()
    await this.flush()
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#tail.disconnect()
    await this.#following
  }

  #schedule(): void {
    if (!this.#stopped) this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
  }

  async #write(): Promise<void> {
    await this.#writeCounts()
    const ids = [...new Set([...this.#dirty, ...this.#outcomes.ids()])]
    this.#dirty.clear()
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK)
      const outcomes = this.#outcomes.take(chunk)
      try {
        await this.#writeRecords(chunk, outcomes)
      } catch (err) {
        // Kept for the next pass: the store is away (logged once by the store).
        for (const id of ids.slice(i)) this.#dirty.add(id)
        for (const [id, o] of outcomes) this.#outcomes.putBack(id, o)
        throw err
      }
    }
  }

  async #writeCounts(): Promise<void> {
    const totals = this.#totals
    this.#totals = {}
    const counts = [...this.#counts.entries()]
    this.#counts.clear()
    const ttl = this.#retention.days * 86_400_000 + BUCKET_MS
    try {
      if (counts.length === 0 && Object.keys(totals).length > 0) counts.push([Math.floor(this.#now() / BUCKET_MS) * BUCKET_MS, new Map()])
      for (const [n, [start, fields]] of counts.entries()) {
        await this.#store.run(COUNT, [this.#store.key(`c:b:${start}`), this.#store.key('c:tot')], [ttl, KEYS_PER_BUCKET, JSON.stringify(n === 0 ? totals : {}), ...[...fields].flat()])
      }
    } catch (err) {
      for (const [f, n] of Object.entries(totals)) this.#total(f, n)
      for (const [start, fields] of counts) {
        const b = this.#counts.get(start) ?? new Map<string, number>()
        for (const [f, n] of fields) b.set(f, (b.get(f) ?? 0) + n)
        this.#counts.set(start, b)
      }
      throw err
    }
  }

  async #writeRecords(ids: string[], outcomes: Map<string, Record<string, Outcome>>): Promise<void> {
    const P = this.#store.prefix
    // The records first, then the merged aggregates: a record another replica writes from a newer
    // aggregate in between fails the revision check, so an older aggregate never overwrites it.
    const [records, revisions] = await this.#store.run<[Array<string | null>, Array<string | null>]>(READ_RECORDS, [], [P, ...ids])
    const merged = await this.#store.run<Array<[string[], number, number]>>(READ_MERGED, [], [P, '[]', ...ids])
    const args: string[] = []
    const now = this.#now()
    ids.forEach((id, i) => {
      const previous = records[i] ? (JSON.parse(records[i]!) as FindingRecord) : undefined
      let record = previous
      let seen = ''
      const [flat, pods, containers] = merged[i]!
      if (flat.length > 0) {
        const finding = findingFromStore(id, flat, pods, containers)
        const older = previous !== undefined && previous.finding.firstObservedAt === finding.firstObservedAt && previous.finding.version > finding.version
        if (!older && (!previous || previous.finding.version !== finding.version || previous.finding.updatedAt !== finding.updatedAt)) {
          record = nextRecord(previous, finding, [], now)
          seen = String(now)
        }
      }
      const o = outcomes.get(id)
      if (o && record) {
        record = withOutcomes(record, o)
        this.#outcomes.written(id)
      } else if (o && this.#outcomes.early(id, o)) this.#schedule() // it overtook the merge that creates the record
      if (record && record !== previous) args.push(id, revisions[i] ?? '0', JSON.stringify(record), seen)
    })
    if (args.length === 0) return
    const [count, bytes, conflicts] = await this.#put(...args)
    for (const id of conflicts) {
      // Another replica wrote it since it was read: read again and redo (outcomes included).
      this.#dirty.add(id)
      const o = outcomes.get(id)
      if (o) this.#outcomes.putBack(id, o)
    }
    if (conflicts.length > 0) this.#schedule()
    if (count > this.#retention.maxFindings * 1.05 || bytes > this.#retention.maxBytes * 1.05) void this.#sweep(true)
  }

  #put(...args: string[]): Promise<[number, number, string[]]> {
    return this.#store.run<[number, number, string[]]>(PUT_RECORDS, [], [this.#store.prefix, STREAM_MAXLEN, ...args])
  }

  #sweeping = false

  /** Retention in the store (any replica may run it: it is one atomic step at a time). */
  async #sweep(over: boolean): Promise<void> {
    if (this.#sweeping) return
    this.#sweeping = true
    try {
      const r = this.#retention
      // Over a limit, trim to 95% of it: the next sweep is then some way off (writes trigger one at 105%).
      const maxFindings = over ? Math.floor(r.maxFindings * 0.95) : r.maxFindings
      const maxBytes = over ? Math.floor(r.maxBytes * 0.95) : r.maxBytes
      let removed = 0
      for (;;) {
        const n = await this.#store.run<number>(SWEEP, [], [this.#store.prefix, this.#now() - r.days * 86_400_000, maxFindings, maxBytes, 1000, STREAM_MAXLEN])
        removed += n
        if (n < 1000) break
      }
      if (removed > 0) this.#logger.info({ removed }, 'console index: retention removed findings')
    } catch {
      // The store logged it; the next sweep tries again.
    } finally {
      this.#sweeping = false
    }
  }

  /**
   * Follow the change stream: the first load reads every record; then each entry's ids are read
   * again. After an outage the stream is read on from where this replica stopped — or, when that
   * point was trimmed away (or the store lost its data), everything is loaded again.
   */
  async #follow(loaded: () => void): Promise<void> {
    const key = this.#store.key('c:chg')
    let reload = true
    let resumed = false
    let failures = 0
    while (!this.#stopped) {
      try {
        if (this.#tail.status !== 'ready') await waitReady(this.#tail, () => this.#stopped)
        if (this.#stopped) break
        // Back after a failure: read on from where this replica stopped, if the stream still has it.
        if (resumed) reload ||= await this.#missed(key)
        resumed = false
        if (reload) {
          await this.#load(key)
          reload = false
          loaded()
        }
        const reply = (await this.#tail.call('XREAD', 'COUNT', 1000, 'BLOCK', BLOCK_MS, 'STREAMS', key, this.#lastId)) as Array<[string, Array<[string, string[]]>]> | null
        failures = 0
        if (!reply) continue
        const ids = new Set<string>()
        let last = this.#lastId
        for (const [, entries] of reply) {
          for (const [entryId, fields] of entries) {
            last = entryId
            for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'ids') for (const id of fields[i + 1]!.split('\n')) ids.add(id)
          }
        }
        await this.#refresh([...ids])
        this.#lastId = last // only once read: a failed read is read again
      } catch (err) {
        if (this.#stopped) break
        if (failures++ === 0) this.#logger.warn({ err: { message: (err as Error).message } }, 'console index: change stream not readable; the list may lag until the store is back')
        await sleep(Math.min(200 * failures, 2000))
        resumed = true
      }
    }
  }

  /** Whether the point this replica read to is gone from the stream (trimmed, or the store restarted empty). */
  async #missed(key: string): Promise<boolean> {
    if (this.#lastId === '0-0') return true
    const entries = (await this.#tail.call('XRANGE', key, this.#lastId, this.#lastId)) as unknown[]
    return entries.length === 0
  }

  async #load(key: string): Promise<void> {
    const last = (await this.#tail.call('XREVRANGE', key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>
    const loaded: Array<{ id: string; record: FindingRecord; bytes: number; at: string }> = []
    let cursor = '0'
    do {
      const [next, flat] = (await this.#tail.call('HSCAN', this.#store.key('c:rec'), cursor, 'COUNT', 1000)) as [string, string[]]
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const record = JSON.parse(flat[i + 1]!) as FindingRecord
        loaded.push({ id: flat[i]!, record, bytes: flat[i + 1]!.length, at: record.finding.lastObservedAt })
      }
      cursor = next
    } while (cursor !== '0' && !this.#stopped)
    // Rows made in the order the list is usually read (last seen), not the hash's: a query walks
    // them in memory order then (as the local index's, made as findings arrive), which is measurably faster.
    loaded.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    const rows = new FindingRows()
    for (const { id, record, bytes } of loaded) rows.set(id, record, bytes)
    this.deadLetters.keepOnly(new Set(loaded.map((l) => l.id)))
    for (const { id, record } of loaded) this.deadLetters.observe(id, record)
    this.#rows = rows
    this.#lastId = last[0]?.[0] ?? '0-0'
    this.#logger.info({ findings: rows.size }, 'console index: loaded from the shared store')
    for (const l of this.#listeners) l([])
  }

  async #refresh(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK)
      const [records] = (await this.#tail.call('EVALSHA', READ_RECORDS.sha, 0, this.#store.prefix, ...chunk).catch(async (err: Error) => {
        if (!String(err.message).startsWith('NOSCRIPT')) throw err
        return this.#tail.call('EVAL', READ_RECORDS.lua, 0, this.#store.prefix, ...chunk)
      })) as [Array<string | null>]
      chunk.forEach((id, j) => {
        const json = records[j]
        const record = json ? (JSON.parse(json) as FindingRecord) : undefined
        if (record) this.#rows.set(id, record, json!.length)
        else this.#rows.delete(id)
        this.deadLetters.observe(id, record)
      })
    }
    if (ids.length > 0) for (const l of this.#listeners) l(ids)
  }
}

function waitReady(client: Redis, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (client.status === 'ready' || stopped()) {
        clearInterval(check)
        resolve()
      }
    }, 200)
  })
}

function hash(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!
  return h
}

/** A bucket from its hash: a (alerts), s:<severity>, k:<kind>, r:<rule>, n:<namespace>; #… are counters of keys. */
function bucketOf(flat: string[]): Bucket {
  const b: Bucket = { alerts: 0, severity: {}, kind: {}, rule: {}, namespace: {} }
  const family: Record<string, Record<string, number>> = { 's:': b.severity, 'k:': b.kind, 'r:': b.rule, 'n:': b.namespace }
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const f = flat[i]!
    const n = Number(flat[i + 1])
    if (f === 'a') b.alerts = n
    else if (family[f.slice(0, 2)]) family[f.slice(0, 2)]![f.slice(2)] = n
  }
  return b
}
