import type { Database, RootDatabase } from 'lmdb'
import { changedAt, type FindingState } from '../../aggregate/aggregator.js'
import { PLAIN_MAPS } from './encoding.js'
import { applyEventDelta, eventDelta, type EventDelta } from './event-delta.js'
import type { SecurityEvent } from '../../model/event.js'

type IdleKey = [changedAt: number, id: string]
/** The members of a finding that seldom change: kept decoded and written only when one changes. */
const COLD = ['severity', 'firstObservedAt', 'distinctPods', 'distinctContainers', 'samplePods', 'archived', 'pods', 'containers'] as const
/**
 * What seldom changes, under its own key: the names behind a finding's distinct counts (up to 500
 * of each), the base its occurrences' events are written against, and the COLD members. Spools
 * written before this layout hold only the names (and the base, absent in spools written before
 * deltas): their finding records still hold the rest.
 */
type Cold = Pick<FindingState, 'pods' | 'containers'> & Partial<Pick<FindingState, (typeof COLD)[number]>> & { base?: SecurityEvent }
/** What changes on every occurrence, under the finding's key: a few dozen bytes. */
type Hot = Pick<FindingState, 'lastObservedAt' | 'updatedAt' | 'count' | 'version' | 'changedAt' | 'auditIds'> & { eventDelta: EventDelta }
/**
 * A finding record of an older spool: the whole state but its names (`pods` / `containers` present
 * only in the oldest), its event as a delta from the base (`event` whole in spools before deltas).
 * It is told from a Hot record by its `id`.
 */
type Older = Omit<FindingState, 'pods' | 'containers' | 'event'> & Partial<Pick<FindingState, 'pods' | 'containers' | 'event'>> & { eventDelta?: EventDelta }
type Stored = Hot | Older
/**
 * Every member of a finding has its record (hot, cold, or its key / its event): the former layout
 * copied every key, and a member added to FindingState without a place here would be dropped on
 * write. Fails to compile until it is placed.
 */
const EVERY_MEMBER_PLACED: Exclude<keyof FindingState, keyof Hot | (typeof COLD)[number] | 'id' | 'event'> extends never ? true : false = true
void EVERY_MEMBER_PLACED

/** Decoded name sets kept: the findings a storm repeats are a handful; weight 1 + names / 50. */
const CACHE_WEIGHT = 2_000

/**
 * Every finding's current state by Id, and an index of the findings by when they last changed
 * (falconet's clock), oldest first: closing windows is a walk from the front of that index, never
 * a scan of every finding. The index is kept in the write that changes the finding.
 *
 * A repeat changes a finding's count and times on every occurrence but its pod and container
 * names seldom: those live under a key of their own, written only when they change, so an
 * occurrence does not re-encode up to 1,000 names (~0.2 ms for a finding seen in 500 pods). The
 * name sets last used are kept decoded (bounded by CACHE_WEIGHT), so a repeat does not decode
 * them either: fold hands the same arrays on until a name is added (never mutating them), so they
 * live long without churning the heap — whole states kept decoded did (each occurrence's state
 * outlived the young generation: more CPU per alert, not less). The spool drops the cache when a
 * write transaction fails.
 *
 * The same key holds the event the finding was first written with (its base: with several requests of one turn folded into one write, that write's event), and each occurrence's event is stored
 * as its difference from it (event-delta.ts): repeats share nearly all of it, so an occurrence
 * encodes and decodes a few hundred bytes, not the whole event. The base is kept decoded with the
 * names, and written again only with them.
 *
 * So is everything else a repeat leaves alone (COLD: severity, first seen, distinct counts, sample
 * pods, archived): the finding's own key holds only what every occurrence changes (Hot: count,
 * version, times, audit ids, the event delta), so a repeat encodes, writes and decodes ~100 bytes,
 * not ~340 (its Id and a dozen keys). A COLD member that changes writes the whole cold record.
 */
export class FindingTable {
  readonly #db: Database<Stored, string>
  readonly #names: Database<Cold, string>
  readonly #idle: Database<null, IdleKey>
  /** Least recently used first (a Map keeps insertion order). */
  readonly #cache = new Map<string, Cold>()
  #cacheWeight = 0
  /**
   * For findings in the cache: the hot record last written. Read only inside `inTransaction`
   * (`process` durability: the synchronous commit that wrote it has ended, or the running one wrote
   * it), so a repeat neither reads nor decodes it; outside, a read goes to the store (nothing
   * uncommitted leaks to `due` with `disk`, whose commits end after their callbacks). A few dozen
   * bytes a finding, replaced by each occurrence: short-lived in a storm, unlike whole states.
   */
  readonly #hot = new Map<string, Hot>()
  /** Read from an older spool's layout (an Older record): the next put writes the cold record whole. */
  readonly #older = new Set<string>()
  /**
   * Inside `inTransaction` only: the states put in this write transaction, so a finding several
   * requests of one event-loop turn repeat is decoded once, not once per request. Never seen by a
   * read outside the transaction (nothing uncommitted leaks to `due`), and gone when it ends.
   */
  #written: Map<string, FindingState> | undefined
  /**
   * Inside `inTransaction` only: per finding put in it, the state it had before (committed), so the
   * finding is encoded and written once, its last state, when the work ends (still inside the
   * transaction) — not once per request that repeats it in this turn.
   */
  #unwritten: Map<string, FindingState | undefined> | undefined
  /**
   * `disk` durability: a write's callback ends before its commit does, so the cold records it
   * cached are not committed yet. A read outside a write (`due`, housekeeping's plan, shedding)
   * then takes the committed cold record from the store and caches nothing: the cached one would
   * pair the committed hot record with a newer severity, pods or archived (and an older spool's
   * event delta with a base not yet written).
   */
  readonly #commitsLater: boolean
  #inWrite = false
  constructor(root: RootDatabase, { commitsLater = false }: { commitsLater?: boolean } = {}) {
    this.#commitsLater = commitsLater
    this.#db = root.openDB({ name: 'findings', ...PLAIN_MAPS })
    this.#names = root.openDB({ name: 'finding-names', ...PLAIN_MAPS })
    this.#idle = root.openDB({ name: 'findings-by-change' })
    this.#indexOlderSpool()
  }

  get databases(): Database<unknown>[] {
    return [this.#db, this.#names, this.#idle]
  }

  /**
   * Run `work` inside a synchronous write transaction (the caller's), with the states it puts
   * remembered until it returns and written when it ends.
   */
  inTransaction<T>(work: () => T): T {
    this.#written = new Map()
    this.#unwritten = new Map()
    try {
      const result = work()
      const unwritten = this.#unwritten
      this.#unwritten = undefined
      for (const [id, previous] of unwritten) this.#write(this.#written.get(id)!, previous)
      return result
    } finally {
      this.#written = undefined
      this.#unwritten = undefined
    }
  }

  /** Run `work`, a write's callback whose commit ends after it (`disk` durability). */
  inWrite<T>(work: () => T): T {
    const was = this.#inWrite
    this.#inWrite = true
    try {
      return work()
    } finally {
      this.#inWrite = was
    }
  }

  get(id: string): FindingState | undefined {
    const written = this.#written?.get(id)
    if (written) return written
    const stored = (this.#written && this.#hot.get(id)) || this.#db.get(id)
    if (!stored) return undefined
    if ('id' in stored) return this.#getOlder(id, stored)
    const cold = this.#cold(id)
    if (!cold) throw new Error(`spool: finding ${id} has no cold record`)
    // Key by key, so every state read has one shape; optional members only when present.
    const state: FindingState = {
      id,
      event: applyEventDelta(cold.base!, stored.eventDelta),
      severity: cold.severity!,
      firstObservedAt: cold.firstObservedAt!,
      lastObservedAt: stored.lastObservedAt,
      updatedAt: stored.updatedAt,
      changedAt: stored.changedAt,
      count: stored.count,
      pods: cold.pods,
      containers: cold.containers,
      distinctPods: cold.distinctPods!,
      distinctContainers: cold.distinctContainers!,
      samplePods: cold.samplePods!,
      version: stored.version,
    }
    if (stored.auditIds !== undefined) state.auditIds = stored.auditIds
    if (cold.archived !== undefined) state.archived = cold.archived
    return state
  }

  /** An older spool's record: the whole state but its names (inline in the oldest) and its event (a delta or whole). */
  #getOlder(id: string, stored: Older): FindingState {
    this.#older.add(id)
    if (stored.pods !== undefined && stored.containers !== undefined) return stored as FindingState
    const names = this.#cold(id) ?? { pods: [], containers: [] }
    // The decoded value is this call's own: completed in place rather than copied (an object
    // rest that leaves keys out is one of V8's slow copies). eventDelta is its last key, so
    // deleting it keeps the object's fast shape.
    const delta = stored.eventDelta
    delete stored.eventDelta
    stored.event ??= applyEventDelta(names.base!, delta!)
    stored.pods = names.pods
    stored.containers = names.containers
    return stored as FindingState
  }

  /** Inside a write transaction. */
  put(next: FindingState, previous = this.get(next.id)): void {
    if (this.#unwritten) {
      if (!this.#unwritten.has(next.id)) this.#unwritten.set(next.id, previous)
      this.#written!.set(next.id, next)
      return
    }
    this.#write(next, previous)
  }

  #write(next: FindingState, previous: FindingState | undefined): void {
    const at = indexedAt(next)
    const was = previous && indexedAt(previous)
    if (was !== at) {
      if (was !== undefined) this.#idle.remove([was, next.id])
      this.#idle.put([at, next.id], null)
    }
    // The base stays the event the Id was first written with (read inside this transaction); an older spool's finding gets one now.
    const older = this.#older.delete(next.id)
    const kept = previous && !older ? (this.#cache.get(next.id) ?? this.#names.get(next.id)) : undefined
    const base = kept?.base ?? next.event
    const record = hot(next, eventDelta(base, next.event))
    this.#db.put(next.id, record)
    // fold hands the same arrays on while nothing is added: a new array is a change.
    const cold = kept && !coldChanged(kept, next) ? kept : coldOf(next, base)
    if (cold !== kept) this.#names.put(next.id, cold)
    this.#remember(next.id, cold)
    // Kept only when it will be read back: inside inTransaction (with `disk` nothing is kept).
    if (this.#written) this.#hot.set(next.id, record)
    else this.#hot.delete(next.id)
    this.#written?.set(next.id, next)
  }

  /** Inside a write transaction. */
  remove(state: FindingState): void {
    // Put earlier in this transaction, not written yet: the index still holds the committed state.
    const committed = this.#unwritten?.get(state.id)
    if (committed) this.#idle.remove([indexedAt(committed), state.id])
    this.#unwritten?.delete(state.id)
    this.#idle.remove([indexedAt(state), state.id])
    this.#db.remove(state.id)
    this.#names.remove(state.id)
    this.#forget(state.id)
    this.#written?.delete(state.id)
  }

  /** A write transaction failed: what it put was never committed, so nothing decoded is trusted. */
  dropCache(): void {
    this.#cache.clear()
    this.#hot.clear()
    this.#cacheWeight = 0
  }

  /**
   * Up to `limit` Ids of findings that last changed before `before`, oldest first, starting after
   * `after` (a cursor, so findings that must stay are not read again on every step).
   */
  idle(before: number, limit: number, after?: IdleKey): IdleKey[] {
    const keys = [...this.#idle.getKeys({ ...(after ? { start: after } : {}), end: [before], limit: limit + 1 })] as IdleKey[]
    if (after && keys[0]?.[0] === after[0] && keys[0][1] === after[1]) keys.shift()
    return keys.slice(0, limit)
  }

  /**
   * Inside a write transaction: whether `[at, id]`, a key `idle` returned, is where the finding is
   * indexed now. If not (the finding is gone, or an older version indexed it by the exact
   * millisecond) the key is removed and the finding indexed where it belongs.
   */
  indexedUnder(at: number, id: string, state: FindingState | undefined): state is FindingState {
    if (state && indexedAt(state) === at) return true
    this.#idle.remove([at, id])
    if (state) this.#idle.put([indexedAt(state), id], null)
    return false
  }

  count(): number {
    return this.#db.getCount()
  }

  /** The cold record as the reader may see it (cached, most recently used), else undefined. */
  #cold(id: string): Cold | undefined {
    if (this.#commitsLater && !this.#inWrite) return this.#names.get(id) // committed only (see #commitsLater)
    const cold = this.#cache.get(id) ?? this.#names.get(id)
    if (cold) this.#remember(id, cold)
    return cold
  }

  #remember(id: string, names: Cold): void {
    const old = this.#cache.get(id)
    if (old) this.#cacheWeight -= weight(old)
    this.#cache.delete(id) // set again below: the most recently used
    this.#cache.set(id, names)
    this.#cacheWeight += weight(names)
    // Checked first: the loop's iterator and entry arrays are made on every call otherwise.
    if (this.#cacheWeight <= CACHE_WEIGHT) return
    for (const id of this.#cache.keys()) {
      if (this.#cacheWeight <= CACHE_WEIGHT) break
      this.#forget(id)
    }
  }

  #forget(id: string): void {
    const old = this.#cache.get(id)
    if (!old) return
    this.#cache.delete(id)
    this.#hot.delete(id)
    this.#cacheWeight -= weight(old)
  }

  /** A spool written before the index existed: build it once. */
  #indexOlderSpool(): void {
    if (this.#idle.getCount({ limit: 1 }) > 0) return
    const missing: IdleKey[] = []
    for (const { key, value } of this.#db.getRange()) missing.push([indexedAt(value as FindingState), key as string])
    if (missing.length > 0) this.#idle.transactionSync(() => missing.forEach((k) => this.#idle.put(k, null)))
  }
}

/**
 * The change index holds a finding under the start of the second it last changed in, not the exact
 * millisecond: a finding repeated within a second (every busy one) keeps its index key, so its
 * occurrence writes one B-tree instead of two (each tree a commit touches costs page copies). The
 * key is never later than the change, so housekeeping still reaches a finding by the time its
 * window closes and then judges it by its own changedAt.
 */
const INDEX_STEP_MS = 1_000

function indexedAt(state: FindingState): number {
  const at = changedAt(state)
  return Math.floor(at / INDEX_STEP_MS) * INDEX_STEP_MS
}

/** What every occurrence changes, as stored under the finding's key. */
function hot(state: FindingState, delta: EventDelta): Hot {
  const out: Hot = { lastObservedAt: state.lastObservedAt, updatedAt: state.updatedAt, count: state.count, version: state.version, eventDelta: delta }
  if (state.changedAt !== undefined) out.changedAt = state.changedAt
  if (state.auditIds !== undefined) out.auditIds = state.auditIds
  return out
}

function coldOf(state: FindingState, base: SecurityEvent): Cold {
  const out: Record<string, unknown> = { base }
  for (const key of COLD) if (state[key] !== undefined) out[key] = state[key]
  return out as Cold
}

/** A COLD member differs (arrays by identity: fold hands the same ones on when nothing is added). */
function coldChanged(cold: Cold, state: FindingState): boolean {
  for (const key of COLD) if (cold[key] !== state[key]) return true
  return false
}

function weight(names: Cold): number {
  return 2 + Math.floor((names.pods.length + names.containers.length) / 50)
}
