import type { Database, RootDatabase } from 'lmdb'
import { changedAt, type FindingState } from '../../aggregate/aggregator.js'

type IdleKey = [changedAt: number, id: string]

/**
 * Every finding's current state by Id, and an index of the findings by when they last changed
 * (falconet's clock), oldest first: closing windows is a walk from the front of that index, never
 * a scan of every finding. The index is kept in the write that changes the finding.
 */
export class FindingTable {
  readonly #db: Database<FindingState, string>
  readonly #idle: Database<null, IdleKey>

  constructor(root: RootDatabase) {
    this.#db = root.openDB({ name: 'findings' })
    this.#idle = root.openDB({ name: 'findings-by-change' })
    this.#indexOlderSpool()
  }

  get databases(): Database<any, any>[] {
    return [this.#db, this.#idle]
  }

  get(id: string): FindingState | undefined {
    return this.#db.get(id)
  }

  /** Inside a write transaction. */
  put(next: FindingState, previous = this.#db.get(next.id)): void {
    if (previous && changedAt(previous) !== changedAt(next)) this.#idle.remove([changedAt(previous), next.id])
    this.#idle.put([changedAt(next), next.id], null)
    this.#db.put(next.id, next)
  }

  /** Inside a write transaction. */
  remove(state: FindingState): void {
    this.#idle.remove([changedAt(state), state.id])
    this.#db.remove(state.id)
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

  count(): number {
    return this.#db.getCount()
  }

  /** A spool written before the index existed: build it once. */
  #indexOlderSpool(): void {
    if (this.#idle.getCount({ limit: 1 }) > 0) return
    const missing: IdleKey[] = []
    for (const { key, value } of this.#db.getRange()) missing.push([changedAt(value), key as string])
    if (missing.length > 0) this.#idle.transactionSync(() => missing.forEach((k) => this.#idle.put(k, null)))
  }
}
