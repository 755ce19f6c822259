import type { Database } from 'lmdb'

/**
 * Bytes of live B-tree pages per group of stores (free pages LMDB will reuse are not counted),
 * cached: the budget check runs on every write, and reading the figure costs ~10 µs per store
 * (lmdb-js walks the free list each time). Exact while nothing is written (re-read every 100 ms
 * anyway); after a write, re-read at most every 25 ms while the figure is far from the mark it is
 * checked against (below `exactFrom`, half of it), and on every check once it is nearer — so
 * requests pay for the read only when the spool is filling up, and a burst cannot jump the mark. The seen keys are a group of their
 * own, so resend detection has its own share of the budget and cannot starve findings.
 */
export class Usage<G extends string> {
  readonly #groups: Record<G, { databases: Database<unknown>[]; extra?: () => number }>
  readonly #cached = new Map<G, { bytes: number; at: number }>()
  #writtenAt = 0

  constructor(groups: Record<G, { databases: Database<unknown>[]; extra?: () => number }>) {
    this.#groups = groups
  }

  bytes(group: G, fresh = false, exactFrom = 0, now = Date.now()): number {
    const cached = this.#cached.get(group)
    const clean = cached !== undefined && cached.at > this.#writtenAt
    if (!fresh && cached && now - cached.at <= (clean ? 100 : cached.bytes < exactFrom ? 25 : -1)) return cached.bytes
    const { databases, extra } = this.#groups[group]
    let bytes = extra?.() ?? 0
    for (const db of databases) {
      const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
      bytes += (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize
    }
    this.#cached.set(group, { bytes, at: now })
    return bytes
  }

  /** After a write on the ingest path: the figure is re-read within 25 ms. */
  written(): void {
    this.#writtenAt = Date.now()
  }

  /** After housekeeping or shedding: the next check reads the stores again. */
  invalidate(): void {
    this.#cached.clear()
  }
}
