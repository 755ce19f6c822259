import { randomUUID } from 'node:crypto'
import type { Finding } from '../model/finding.js'
import { allOf, checkMatcher, parseMatcher, type Matcher } from './matchers.js'

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
  put(key: string, value: unknown): void | Promise<unknown>
  /** A store several replicas write (src/cluster/shared-docs.ts): change what it holds now, atomically. */
  update?<T>(key: string, change: (current: T | undefined) => T): Promise<T>
}

const KEY = 'silences'

export class Silences {
  #compiled = new Map<string, Matcher>()
  /** This process's view, the truth while it runs; each change is written through (awaited). */
  #stored: Silence[]
  #writes: Promise<unknown> = Promise.resolve()
  /** From config: in memory only (config is read at every start), never written to the store. */
  readonly #configured: Silence[]

  constructor(
    private readonly store: SilenceStore,
    private readonly now: () => number = Date.now,
    configured: Array<Omit<Silence, 'id' | 'startsAt'>> = [],
  ) {
    this.#stored = this.store.get<Silence[]>(KEY) ?? []
    this.#configured = configured.map((s, i) => {
      s.matchers.forEach(parseMatcher)
      return { ...s, id: `config-${i}`, startsAt: new Date(0).toISOString(), endsAt: new Date(s.endsAt).toISOString() }
    })
  }

  /** Read the store again: another replica changed the silences (a shared store, src/cluster). */
  reload(): void {
    this.#stored = this.store.get<Silence[]>(KEY) ?? []
    for (const id of this.#compiled.keys()) if (!id.startsWith('config-') && !this.#stored.some((s) => s.id === id)) this.#compiled.delete(id)
  }

  /** Validates the matchers and the end (RFC 3339, in the future); resolves once stored. */
  async add(input: Omit<Silence, 'id' | 'startsAt'> & { startsAt?: string }): Promise<Silence> {
    if (!Array.isArray(input.matchers) || input.matchers.length === 0) throw new Error('a silence needs at least one matcher')
    if (typeof input.endsAt !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(input.endsAt) || Number.isNaN(Date.parse(input.endsAt))) {
      throw new Error('endsAt must be an RFC 3339 time (2026-12-31T00:00:00Z)')
    }
    if (Date.parse(input.endsAt) <= this.now()) throw new Error('endsAt is in the past: the silence would do nothing')
    input.matchers.forEach(checkMatcher)
    const silence: Silence = { id: randomUUID(), matchers: [...input.matchers], startsAt: input.startsAt ?? new Date(this.now()).toISOString(), endsAt: new Date(input.endsAt).toISOString(), createdBy: input.createdBy, comment: input.comment }
    await this.#change((active) => [...active, silence])
    return silence
  }

  /** false when there is no such silence; throws for one from the config file (edit the file). */
  async remove(id: string): Promise<boolean> {
    if (this.#configured.some((s) => s.id === id)) throw new Error('this silence comes from the configuration file: remove it there')
    let removed = false
    await this.#change((active) => {
      const left = active.filter((s) => s.id !== id)
      removed = left.length < active.length
      return left
    })
    return removed
  }

  /** Active silences only: expired ones are gone. */
  list(): Silence[] {
    const now = this.now()
    return [...this.#configured, ...this.#active()].filter((s) => Date.parse(s.endsAt) > now)
  }

  #active(list = this.#stored): Silence[] {
    const now = this.now()
    return list.filter((s) => Date.parse(s.endsAt) > now)
  }

  /** A change to the active silences: from the shared store's current list when there is one, else from this process's. */
  async #change(change: (active: Silence[]) => Silence[]): Promise<void> {
    if (!this.store.update) return this.#save(change(this.#active()))
    const update = this.store.update.bind(this.store)
    const write = this.#writes.then(() => update<Silence[]>(KEY, (current) => change(this.#active(Array.isArray(current) ? current : []))))
    this.#writes = write.catch(() => {})
    this.#apply(await write)
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

  #apply(list: Silence[]): void {
    this.#stored = list
    for (const id of this.#compiled.keys()) if (!id.startsWith('config-') && !list.some((s) => s.id === id)) this.#compiled.delete(id)
  }

  /** Changes are applied in memory at once and written in order (each awaited). */
  #save(list: Silence[]): Promise<void> {
    this.#apply(list)
    const write = this.#writes.then(() => this.store.put(KEY, list))
    this.#writes = write.catch(() => {})
    return write.then(() => undefined)
  }
}
