import type { StateStore } from './stateful.js'

export interface StateWrite {
  key: string
  value: unknown
}

/**
 * Detector state (first-seen baselines, the last aws-auth content) held in memory until the batch
 * that changed it is committed: the writes go into the same spool transaction as the findings
 * they produced. A batch the spool refuses (full, so the client gets 429/503 and retries) leaves
 * the durable baseline as it was, so the retry detects the same first occurrence again instead
 * of finding it already "seen"; a crash between the two cannot happen because there is one commit.
 */
export class StagedState implements StateStore {
  readonly #staged = new Map<string, unknown>()
  readonly #committed = new Set<(writes: readonly StateWrite[]) => void>()

  constructor(private readonly durable: { get<T>(key: string): T | undefined }) {}

  get<T>(key: string): T | undefined {
    return this.#staged.has(key) ? (this.#staged.get(key) as T) : this.durable.get<T>(key)
  }

  put(key: string, value: unknown): void {
    this.#staged.set(key, value)
  }

  /** The writes staged since the last take, for the commit; the stage is empty afterwards either way. */
  take(): StateWrite[] {
    const writes = [...this.#staged].map(([key, value]) => ({ key, value }))
    this.#staged.clear()
    return writes
  }

  /** Told of writes once they are committed (several pollers: the leader hands them to the store). */
  onCommitted(listener: (writes: readonly StateWrite[]) => void): () => void {
    this.#committed.add(listener)
    return () => this.#committed.delete(listener)
  }

  committed(writes: readonly StateWrite[]): void {
    if (writes.length) for (const l of this.#committed) l(writes)
  }
}
