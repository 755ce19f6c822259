import type { Database } from 'lmdb'

/**
 * Bytes of live B-tree pages per group of stores (free pages LMDB will reuse are not counted),
 * cached for 100 ms: the budget check runs on every write. The seen keys are a group of their
 * own, so resend detection has its own share of the budget and cannot starve findings.
 */
export class Usage<G extends string> {
  readonly #groups: Record<G, { databases: Database<any, any>[]; extra?: () => number }>
  readonly #cached = new Map<G, { bytes: number; at: number }>()

  constructor(groups: Record<G, { databases: Database<any, any>[]; extra?: () => number }>) {
    this.#groups = groups
  }

  bytes(group: G, fresh = false): number {
    const now = Date.now()
    const cached = this.#cached.get(group)
    if (!fresh && cached && now - cached.at <= 100) return cached.bytes
    const { databases, extra } = this.#groups[group]
    let bytes = extra?.() ?? 0
    for (const db of databases) {
      const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
      bytes += (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize
    }
    this.#cached.set(group, { bytes, at: now })
    return bytes
  }

  /** After a write: the next check reads the stores again. */
  invalidate(): void {
    this.#cached.clear()
  }
}
