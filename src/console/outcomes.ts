import type { DeadLettered, FindingRecord } from './findings-index.js'

/** What a sink did with a version of a finding: delivered it, or gave up on it (a dead letter). */
export type Outcome = { kind: 'delivered'; version: number; at: string } | ({ kind: 'dead' } & DeadLettered)
type Items = ReadonlyArray<{ id: string; version: number }>

/** How often an outcome whose finding is not indexed yet is tried again (it may overtake the hook that indexes it). */
const EARLY_TRIES = 5

/**
 * Outcomes reported by the sinks and not yet written into the records, per finding and sink (the
 * latest version wins), for both indexes: each index's writer takes them, applies them with
 * `withOutcomes`, and gives back what it could not write yet.
 */
export class PendingOutcomes {
  readonly #byId = new Map<string, Record<string, Outcome>>()
  readonly #early = new Map<string, number>()

  delivered(sink: string, items: Items, at: number): void {
    this.#add(sink, items, (version) => ({ kind: 'delivered', version, at: new Date(at).toISOString() }))
  }

  deadLettered(sink: string, items: Items, why: { code: string; reason: string }, at: number): void {
    this.#add(sink, items, (version) => ({ kind: 'dead', version, at: new Date(at).toISOString(), ...why }))
  }

  #add(sink: string, items: Items, make: (version: number) => Outcome): void {
    for (const { id, version } of items) {
      const o = this.#byId.get(id) ?? {}
      if ((o[sink]?.version ?? 0) <= version) o[sink] = make(version)
      this.#byId.set(id, o)
    }
  }

  ids(): IterableIterator<string> {
    return this.#byId.keys()
  }

  /** Take the outcomes of `ids` (default: all) to write. */
  take(ids?: Iterable<string>): Map<string, Record<string, Outcome>> {
    const out = new Map<string, Record<string, Outcome>>()
    for (const id of ids ?? [...this.#byId.keys()]) {
      const o = this.#byId.get(id)
      if (!o) continue
      out.set(id, o)
      this.#byId.delete(id)
    }
    return out
  }

  /** Not written (the store was away, or the record changed meanwhile): pending again, newer reports first. */
  putBack(id: string, outcomes: Record<string, Outcome>): void {
    this.#byId.set(id, { ...outcomes, ...this.#byId.get(id) })
  }

  /** The finding is not indexed yet: pending again for a few passes; false once given up. */
  early(id: string, outcomes: Record<string, Outcome>): boolean {
    const tries = (this.#early.get(id) ?? 0) + 1
    if (tries > EARLY_TRIES) {
      this.#early.delete(id)
      return false
    }
    this.#early.set(id, tries)
    this.putBack(id, outcomes)
    return true
  }

  written(id: string): void {
    this.#early.delete(id)
  }
}

/** A record with the outcomes reported since it was stored: delivered versions and dead letters per sink. */
export function withOutcomes(record: FindingRecord, outcomes: Record<string, Outcome>): FindingRecord {
  const delivered = { ...record.delivered }
  const dead = { ...record.deadLettered }
  for (const [sink, o] of Object.entries(outcomes)) {
    if (o.kind === 'delivered') {
      if ((delivered[sink]?.version ?? 0) <= o.version) delivered[sink] = { version: o.version, at: o.at }
      // Delivered since it was given up on (a redrive): no longer dead-lettered.
      if (dead[sink] && dead[sink].version <= o.version) delete dead[sink]
    } else if ((dead[sink]?.version ?? 0) <= o.version) dead[sink] = { version: o.version, at: o.at, code: o.code, reason: o.reason }
  }
  const { deadLettered: _before, ...rest } = record
  return { ...rest, delivered, ...(Object.keys(dead).length ? { deadLettered: dead } : {}) }
}
