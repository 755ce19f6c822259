import type { Database, RootDatabase } from 'lmdb'

/** Small state detectors and the monitor keep across restarts (first-seen baselines, the last aws-auth, source liveness, silences). */
export interface StateStore {
  get<T>(key: string): T | undefined
  put(key: string, value: unknown): Promise<unknown>
}

export class DetectorState implements StateStore {
  readonly #db: Database<unknown, string>

  constructor(root: RootDatabase) {
    // Cached: a write is visible to the next read at once, before its commit resolves.
    this.#db = root.openDB({ name: 'state', cache: true })
  }

  get databases(): Database<unknown>[] {
    return [this.#db]
  }

  get<T>(key: string): T | undefined {
    return this.#db.get(key) as T | undefined
  }

  /** Every entry whose key starts with one of `prefixes` (the audit detectors' handover, src/cluster/audit-poller.ts). */
  entries(prefixes: readonly string[]): Array<{ key: string; value: unknown }> {
    const out: Array<{ key: string; value: unknown }> = []
    for (const prefix of prefixes) {
      for (const { key, value } of this.#db.getRange({ start: prefix })) {
        if (!key.startsWith(prefix)) break
        out.push({ key, value })
      }
    }
    return out
  }

  /** On its own: committed with the next transaction batch. */
  put(key: string, value: unknown): Promise<unknown> {
    return this.#db.put(key, value)
  }

  /** Inside the caller's write transaction (with the findings it produced). */
  write(entries: ReadonlyArray<{ key: string; value: unknown }>): void {
    for (const { key, value } of entries) this.#db.put(key, value)
  }
}
