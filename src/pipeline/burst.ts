import type { SecurityEvent } from '../model/event.js'

/**
 * Bounds how many distinct findings one rule can open in a burst: beyond `perRule` distinct Ids
 * of one rule within `windowMs`, further occurrences fold into one finding for the rule (its Id
 * without key fields, e.g. without the user or the command line) instead of each opening its
 * own. One EventList of 100,000 exec events by distinct users is then a bounded number of
 * findings plus one that counts the rest, not 100,000 findings. O(1) per event; memory bounded by
 * `perRule` Ids for at most `rules` rules.
 */
export class BurstBound {
  readonly #seen = new Map<string, Set<string>>()
  #windowStart = 0

  constructor(
    readonly perRule = 1_000,
    readonly windowMs = 60_000,
    readonly rules = 1_000,
  ) {}

  /** The Id to use: `id` itself, or `folded()` once the rule's burst is over its bound. */
  idFor(event: SecurityEvent, id: string, folded: () => string, now: number): string {
    if (now - this.#windowStart >= this.windowMs) {
      this.#seen.clear()
      this.#windowStart = now
    }
    let ids = this.#seen.get(event.rule)
    if (!ids) {
      if (this.#seen.size >= this.rules) this.#seen.clear() // sender-chosen rule names: bounded
      ids = new Set()
      this.#seen.set(event.rule, ids)
    }
    if (ids.has(id)) return id
    if (ids.size < this.perRule) {
      ids.add(id)
      return id
    }
    return folded()
  }
}

/** The marker on a finding that counts a burst's overflow (tells it apart in every sink's fields). */
export const FOLDED_FIELD = 'falconet.folded'
