import { errors } from '../errors.js'
import type { Store } from '../cluster/store.js'
import type { LetterFilter } from '../delivery/dead-letter.js'
import type { RedriveResult } from '../delivery/redrive.js'
import type { LetterBook, ListedLetter } from '../server/delivery-api.js'
import type { DeadLettered, FindingRecord } from './findings-index.js'
import { READ_RECORDS, REDRIVE } from './shared-scripts.js'

/** One dead letter as every replica sees it: the sink that gave up on a finding's version, and why. */
export interface SharedLetter extends DeadLettered {
  sink: string
  id: string
}

/** Attempts when another replica writes the same record meanwhile (each re-reads it first). */
const TRIES = 10
/** Findings per store round trip. */
const CHUNK = 500

/**
 * The dead letters of every replica, with the shared store configured (docs/scale-out.md, "Dead
 * letters"). They are not a second record: a replica that dead-letters a finding already writes it
 * into the finding's console record (FindingRecord.deadLettered, ./outcomes.ts), which every
 * replica follows through the change stream; this keeps an in-memory list of those entries and
 * redrives them into the shared queues the sinks drain (src/cluster/shared-queue.ts) with one
 * compare-and-set step per finding (REDRIVE): the letter leaves the record in the same step as the
 * finding is queued, so a letter is redriven once, whichever replicas are asked, and however many
 * at once. Each replica's dead-letter file stays as its log of what it gave up on; a letter
 * redriven anywhere is taken out of every replica's file (`onCleared`).
 */
export class SharedDeadLetters {
  readonly #store: Store
  readonly #streamMaxlen: number
  readonly #byId = new Map<string, Record<string, DeadLettered>>()
  readonly #cleared = new Set<(sink: string, id: string) => void>()

  constructor(store: Store, streamMaxlen: number) {
    this.#store = store
    this.#streamMaxlen = streamMaxlen
  }

  /** A record as stored now (undefined: removed). Called by the shared index for every record it reads. */
  observe(id: string, record: FindingRecord | undefined): void {
    const before = this.#byId.get(id)
    const now = record?.deadLettered
    if (now && Object.keys(now).length > 0) this.#byId.set(id, now)
    else this.#byId.delete(id)
    if (!before || !record) return // a record gone (retention) is not a redrive: the files keep their letters
    for (const sink of Object.keys(before)) if (!now?.[sink]) for (const l of this.#cleared) l(sink, id)
  }

  /** After a full load: records not in it are gone (retention, or a store that lost its data), not redriven. */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const id of [...this.#byId.keys()]) if (!ids.has(id)) this.#byId.delete(id)
  }

  /** Told when a dead letter left the records (redriven through any replica, or delivered since). */
  onCleared(listener: (sink: string, id: string) => void): () => void {
    this.#cleared.add(listener)
    return () => this.#cleared.delete(listener)
  }

  /** Oldest first. */
  list(filter: LetterFilter = {}): SharedLetter[] {
    const out: SharedLetter[] = []
    for (const [id, bySink] of this.#byId) {
      if (filter.findingId !== undefined && id !== filter.findingId) continue
      for (const [sink, d] of Object.entries(bySink)) if (filter.sink === undefined || sink === filter.sink) out.push({ sink, id, ...d })
    }
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const l of this.list()) counts[l.sink] = (counts[l.sink] ?? 0) + 1
    return counts
  }

  /** The findings of `ids` as recorded (the list's "finding"). */
  async findings(ids: string[]): Promise<Map<string, FindingRecord['finding']>> {
    const out = new Map<string, FindingRecord['finding']>()
    if (ids.length === 0) return out
    const [records] = await this.#store.run<[Array<string | null>]>(READ_RECORDS, [], [this.#store.prefix, ...ids])
    ids.forEach((id, i) => records[i] && out.set(id, (JSON.parse(records[i]!) as FindingRecord).finding))
    return out
  }

  /**
   * Queue the letters matching `filter` again, each in its sink's shared queue; `queueFor` names
   * the queues a letter's sink stands for (the spool's shed letters: every sink), empty when this
   * falconet does not run that sink. The list read here may lag the store by a change; what is
   * redriven is decided in the store, on the record as it is there.
   */
  async redrive(filter: LetterFilter, queueFor: (sink: string) => readonly string[]): Promise<RedriveResult> {
    const skipped: RedriveResult['skipped'] = []
    const wanted = new Map<string, Set<string>>()
    for (const l of this.list(filter)) {
      if (queueFor(l.sink).length === 0) skipped.push({ sink: l.sink, id: l.id, reason: `sink "${l.sink}" is not enabled in this falconet` })
      else wanted.set(l.id, (wanted.get(l.id) ?? new Set()).add(l.sink))
    }
    let requeued = 0
    const all = [...wanted.keys()]
    for (let from = 0; from < all.length; from += CHUNK) {
      const r = await this.#redriveChunk(all.slice(from, from + CHUNK), wanted, queueFor)
      requeued += r.requeued
      skipped.push(...r.skipped)
    }
    return { requeued, skipped }
  }

  async #redriveChunk(chunk: string[], wanted: Map<string, Set<string>>, queueFor: (sink: string) => readonly string[]): Promise<RedriveResult> {
    const skipped: RedriveResult['skipped'] = []
    let requeued = 0
    let ids = chunk
    for (let attempt = 0; attempt < TRIES && ids.length > 0; attempt++) {
      const P = this.#store.prefix
      const [records, revisions] = await this.#store.run<[Array<string | null>, Array<string | null>]>(READ_RECORDS, [], [P, ...ids])
      const args: string[] = []
      const sinksOf = new Map<string, string[]>()
      ids.forEach((id, i) => {
        if (!records[i]) return // gone from the console index (retention): nothing left to redrive
        const record = JSON.parse(records[i]!) as FindingRecord
        const dead = { ...record.deadLettered }
        // Only the letters still there: another replica may have redriven some since the list was read.
        const sinks = [...wanted.get(id)!].filter((s) => dead[s] !== undefined)
        if (sinks.length === 0) return
        for (const s of sinks) delete dead[s]
        const { deadLettered: _before, ...rest } = record
        const next: FindingRecord = { ...rest, ...(Object.keys(dead).length > 0 ? { deadLettered: dead } : {}) }
        sinksOf.set(id, sinks)
        args.push(id, revisions[i] ?? '0', JSON.stringify(next), [...new Set(sinks.flatMap((s) => queueFor(s)))].join('\n'))
      })
      if (args.length === 0) {
        ids = []
        break
      }
      const [queued, conflicts, gone] = await this.#store.run<[string[], string[], string[]]>(REDRIVE, [], [P, this.#streamMaxlen, ...args])
      for (const id of queued) requeued += sinksOf.get(id)!.length
      for (const id of gone) for (const sink of sinksOf.get(id)!) skipped.push({ sink, id, reason: "the finding's window closed in the shared store (it is no longer aggregated), so there is nothing to queue; the letter stays (`falconet dead-letters show` on the replica that wrote it has the payload)" })
      ids = conflicts
    }
    for (const id of ids) for (const sink of wanted.get(id) ?? []) skipped.push({ sink, id, reason: 'the finding kept changing meanwhile; run the redrive again' })
    return { requeued, skipped }
  }
}

/**
 * The API's dead letters with a store: every replica's, from the records; except those of the
 * sinks that still drain a local outbox on each replica (the Falco bridge's raw audit events),
 * which stay this replica's file's (`local`).
 */
export function sharedLetterBook(shared: SharedDeadLetters, local: { book: LetterBook; sinks: ReadonlySet<string> }, queueFor: (sink: string) => readonly string[]): LetterBook {
  const isLocal = (filter: LetterFilter) => filter.sink !== undefined && local.sinks.has(filter.sink)
  const localOnly = async (filter: LetterFilter) => (await local.book.list(filter)).filter((l) => local.sinks.has(l.sink))
  return {
    async list(filter) {
      if (isLocal(filter)) return local.book.list(filter)
      const letters = shared.list(filter)
      let findings: Map<string, unknown>
      try {
        findings = await shared.findings([...new Set(letters.map((l) => l.id))])
      } catch (err) {
        throw unavailable(err)
      }
      const listed: ListedLetter[] = letters.map((l) => ({ sink: l.sink, id: l.id, reason: `${l.code}: ${l.reason}`, at: l.at, finding: findings.get(l.id) ?? null }))
      return [...listed, ...(filter.sink === undefined ? await localOnly(filter) : [])]
    },
    async counts() {
      const counts = shared.counts()
      for (const [sink, n] of Object.entries(await local.book.counts())) if (local.sinks.has(sink)) counts[sink] = n
      return counts
    },
    async redrive(filter) {
      if (isLocal(filter)) return local.book.redrive(filter)
      let result: RedriveResult
      try {
        result = await shared.redrive(filter, (sink) => (local.sinks.has(sink) ? [] : queueFor(sink)))
      } catch (err) {
        throw unavailable(err)
      }
      if (filter.sink !== undefined || local.sinks.size === 0) return result
      // Every sink asked for: the local outboxes' letters too.
      const outboxes = await Promise.all([...local.sinks].map((sink) => local.book.redrive({ ...filter, sink })))
      return { requeued: result.requeued + outboxes.reduce((n, r) => n + r.requeued, 0), skipped: [...result.skipped.filter((s) => !local.sinks.has(s.sink)), ...outboxes.flatMap((r) => r.skipped)] }
    },
  }
}

/** The store did not answer: a 503 the client may retry (the console index's reads answer the same). */
export function unavailable(err: unknown): Error {
  return Object.assign(new errors.FALCONET_ERR_STORE_UNAVAILABLE(), { cause: err })
}
