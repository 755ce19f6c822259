import { randomUUID } from 'node:crypto'
import type { Finding } from '../model/finding.js'
import { allOf, parseMatcher, type Matcher } from './matchers.js'

/**
 * Silences: matchers, an end time, who made it and why. A silenced finding is not routed to any
 * receiver (Security Hub and the findings file still get it: silences mute people, not evidence).
 * Expired silences disappear. Kept in a StateStore so they survive restarts.
 */
export interface Silence {
  id: string
  matchers: string[]
  startsAt: string
  endsAt: string
  createdBy: string
  comment: string
}

export interface SilenceStore {
  get<T>(key: string): T | undefined
  put(key: string, value: unknown): void
}

const KEY = 'silences'

export class Silences {
  #compiled = new Map<string, Matcher>()
  /** From config: in memory only (config is read at every start), never written to the store. */
  readonly #configured: Silence[]

  constructor(
    private readonly store: SilenceStore,
    private readonly now: () => number = Date.now,
    configured: Array<Omit<Silence, 'id' | 'startsAt'>> = [],
  ) {
    this.#configured = configured.map((s, i) => {
      s.matchers.forEach(parseMatcher)
      return { ...s, id: `config-${i}`, startsAt: new Date(0).toISOString(), endsAt: new Date(s.endsAt).toISOString() }
    })
  }

  /** Validates the matchers; throws with the reason when one is wrong. */
  add(input: Omit<Silence, 'id' | 'startsAt'> & { startsAt?: string }): Silence {
    if (!Array.isArray(input.matchers) || input.matchers.length === 0) throw new Error('a silence needs at least one matcher')
    if (Number.isNaN(Date.parse(input.endsAt))) throw new Error('endsAt is not a time')
    input.matchers.forEach(parseMatcher)
    const silence: Silence = { id: randomUUID(), matchers: [...input.matchers], startsAt: input.startsAt ?? new Date(this.now()).toISOString(), endsAt: new Date(input.endsAt).toISOString(), createdBy: input.createdBy, comment: input.comment }
    this.#save([...this.#stored(), silence])
    return silence
  }

  remove(id: string): boolean {
    const all = this.#stored()
    const left = all.filter((s) => s.id !== id)
    this.#save(left)
    return left.length < all.length
  }

  /** Active silences only: expired ones are gone. */
  list(): Silence[] {
    const now = this.now()
    return [...this.#configured, ...this.#stored()].filter((s) => Date.parse(s.endsAt) > now)
  }

  #stored(): Silence[] {
    const now = this.now()
    return (this.store.get<Silence[]>(KEY) ?? []).filter((s) => Date.parse(s.endsAt) > now)
  }

  silenced(f: Finding): Silence | undefined {
    const now = this.now()
    return this.list().find((s) => Date.parse(s.startsAt) <= now && this.#matcher(s)(f))
  }

  #matcher(s: Silence): Matcher {
    let m = this.#compiled.get(s.id)
    if (!m) {
      m = allOf(s.matchers.map(parseMatcher))
      this.#compiled.set(s.id, m)
    }
    return m
  }

  #save(list: Silence[]): void {
    this.store.put(KEY, list)
    for (const id of this.#compiled.keys()) if (!id.startsWith('config-') && !list.some((s) => s.id === id)) this.#compiled.delete(id)
  }
}
