import { workloadName } from '../aggregate/workload.js'
import { SEVERITY_LABELS, type SeverityLabel } from '../model/severity.js'
import { kindOf, type ConsoleStats, type FindingIndex, type FindingPage, type FindingQuery, type FindingRecord, type FindingRow, type SeriesBucket, type SourceKind } from './findings-index.js'
import { stringTable } from '../model/string-table.js'

/**
 * What both console indexes keep in memory to answer the list, the counts and the filters' values:
 * one compact row per finding (the local index fills it from LMDB, the shared one from the store),
 * and the arithmetic of the 5-minute buckets behind the charts.
 */
export const BUCKET_MS = 5 * 60_000
/** Rules / namespaces counted per bucket; beyond it they add to "(other)" — memory stays bounded. */
export const KEYS_PER_BUCKET = 200
/** Buckets one stats answer holds at most (31 days of 5 minutes). */
const MAX_SERIES = 31 * 288
const SUMMARY_CHARS = 240

/** In memory per finding (about 1–2 KB): what filters and sorts read. */
export interface Row extends Omit<FindingRow, 'cluster' | 'namespace' | 'workload' | 'pod' | 'node' | 'summary'> {
  cluster: string | undefined
  namespace: string | undefined
  workload: string | undefined
  pod: string | undefined
  node: string | undefined
  rank: number
  lastMs: number
  firstMs: number
  /** Arrival (indexedAt). */
  seenMs: number
  /** When this id entered the index (cached orders add the rows newer than they are). */
  seq: number
  bytes: number
  text: string
}

export interface Bucket {
  alerts: number
  severity: Record<string, number>
  kind: Record<string, number>
  rule: Record<string, number>
  namespace: Record<string, number>
}

export interface Totals {
  alertsReceived: number
  findingVersions: number
  securityHub: { calls: number; findingsSent: number }
}

export type Facets = Awaited<ReturnType<FindingIndex['facets']>>

export class FindingRows {
  readonly #rows = new Map<string, Row>()
  #bytes = 0
  /** Bumped on every row change; cached orders older than it are rebuilt on the next query. */
  #generation = 0
  #seq = 0
  readonly #orders = new Map<FindingQuery['sort'], { rows: Row[]; generation: number; seq: number }>()
  #facets: { at: number; value: Facets } | undefined

  get size(): number {
    return this.#rows.size
  }

  get bytes(): number {
    return this.#bytes
  }

  has(id: string): boolean {
    return this.#rows.has(id)
  }

  values(): IterableIterator<Row> {
    return this.#rows.values()
  }

  set(id: string, record: FindingRecord, bytes: number): void {
    const before = this.#rows.get(id)
    this.#bytes += bytes - (before?.bytes ?? 0)
    const row = rowOf(record, bytes, before?.seq ?? ++this.#seq)
    // The key the Map keeps is the row's own copy of the Id (see copied()), not the caller's.
    this.#rows.set(row.id === id ? row.id : id, row)
    this.#generation++
  }

  delete(id: string): boolean {
    const before = this.#rows.get(id)
    if (!before) return false
    this.#rows.delete(id)
    this.#bytes -= before.bytes
    this.#generation++
    return true
  }

  /**
   * One pass over the rows in the asked order: filters, the severity counts, and the page's window.
   * The order is cached per sort key and re-sorted only after changes, from the previous order, so
   * the sort sees nearly sorted input (TimSort: close to linear) and a query stays O(n) with cheap checks.
   * `summary` gives the page's rows their text (read from where the full records are).
   */
  query(q: FindingQuery, summary: (id: string) => string): FindingPage {
    const text = q.text?.toLowerCase()
    const severities = q.severity?.length ? new Set(q.severity) : undefined
    const kinds = q.kind?.length ? new Set(q.kind) : undefined
    const items: FindingRow[] = []
    const bySeverity: Partial<Record<SeverityLabel, number>> = {}
    const ordered = this.#ordered(q.sort)
    const end = q.offset + q.limit
    let total = 0
    const desc = q.order !== 'asc'
    for (let i = 0, n = ordered.length; i < n; i++) {
      const r = ordered[desc ? n - 1 - i : i]!
      if (kinds && !kinds.has(r.kind)) continue
      if (q.archived !== undefined && r.archived !== q.archived) continue
      if (q.rule !== undefined && r.rule !== q.rule) continue
      if (q.cluster !== undefined && r.cluster !== q.cluster) continue
      if (q.namespace !== undefined && r.namespace !== q.namespace) continue
      if (q.workload !== undefined && r.workload !== q.workload) continue
      if (q.node !== undefined && r.node !== q.node) continue
      if (q.tag !== undefined && !r.tags.includes(q.tag)) continue
      if (q.from !== undefined && r.seenMs < q.from) continue
      if (q.to !== undefined && r.seenMs > q.to) continue
      if (text && !r.text.includes(text)) continue
      // Severity counts ignore the severity filter itself, so the chips show what each would give.
      bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + 1
      if (severities && !severities.has(r.severity)) continue
      if (total >= q.offset && total < end) items.push(publicRow(r, summary(r.id)))
      total++
    }
    return { items, total, offset: q.offset, limit: q.limit, bySeverity }
  }

  #ordered(sort: FindingQuery['sort']): Row[] {
    const cached = this.#orders.get(sort)
    if (cached && cached.generation === this.#generation) return cached.rows
    let rows: Row[]
    if (cached) {
      rows = []
      for (const r of cached.rows) {
        const current = this.#rows.get(r.id)
        if (current && current.seq <= cached.seq) rows.push(current)
      }
      for (const r of this.#rows.values()) if (r.seq > cached.seq) rows.push(r)
    } else rows = [...this.#rows.values()]
    const key = SORT_KEYS[sort]
    // Ascending; descending pages read it backwards. Ties break on recency then id, so pages are stable.
    rows.sort((a, b) => key(a, b) || a.lastMs - b.lastMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    this.#orders.set(sort, { rows, generation: this.#generation, seq: this.#seq })
    return rows
  }

  /** The overview from the rows in range and the range's buckets (`bucket(start)`, absent when empty). */
  stats(from: number, to: number, bucket: (start: number) => Bucket | undefined, totals: Totals): ConsoleStats {
    const series: SeriesBucket[] = []
    const rules = new Map<string, number>()
    const namespaces = new Map<string, number>()
    // Every bucket of the range, empty ones as zeros: a chart's time axis is the range asked for.
    for (const start of bucketStarts(from, to)) {
      const b = bucket(start)
      series.push({ start: new Date(start).toISOString(), alerts: b?.alerts ?? 0, severity: b?.severity ?? {}, kind: b?.kind ?? {} })
      if (!b) continue
      for (const [k, n] of Object.entries(b.rule)) rules.set(k, (rules.get(k) ?? 0) + n)
      for (const [k, n] of Object.entries(b.namespace)) namespaces.set(k, (namespaces.get(k) ?? 0) + n)
    }
    const bySeverity: Partial<Record<SeverityLabel, number>> = {}
    const byKind: Partial<Record<SourceKind, number>> = {}
    const findingsPerRule = new Map<string, number>()
    let findings = 0
    let oldest = Infinity
    for (const r of this.#rows.values()) {
      oldest = Math.min(oldest, r.seenMs)
      if (r.seenMs < from || r.seenMs > to) continue
      findings++
      bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + 1
      byKind[r.kind] = (byKind[r.kind] ?? 0) + 1
      findingsPerRule.set(r.rule, (findingsPerRule.get(r.rule) ?? 0) + 1)
    }
    const top = <T>(m: Map<string, number>, make: (k: string, n: number) => T) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([k, n]) => make(k, n))
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucketSecs: BUCKET_MS / 1000,
      findings,
      bySeverity,
      byKind,
      topRules: top(rules, (rule, alerts) => ({ rule, alerts, findings: findingsPerRule.get(rule) ?? 0 })),
      topNamespaces: top(namespaces, (namespace, alerts) => ({ namespace, alerts })),
      series,
      totals: structuredClone(totals),
      index: { findings: this.#rows.size, bytes: this.#bytes, ...(oldest < Infinity ? { oldest: new Date(oldest).toISOString() } : {}) },
    }
  }

  /** Suggestions may be a few seconds old: recomputed at most every 10 s (a pass over every row). */
  facets(): Facets {
    const now = Date.now()
    if (!this.#facets || now - this.#facets.at > 10_000) this.#facets = { at: now, value: this.#computeFacets() }
    return this.#facets.value
  }

  #computeFacets(): Facets {
    const sets = { rule: new Set<string>(), namespace: new Set<string>(), cluster: new Set<string>(), node: new Set<string>(), tag: new Set<string>(), workload: new Set<string>() }
    for (const r of this.#rows.values()) {
      sets.rule.add(r.rule)
      if (r.namespace) sets.namespace.add(r.namespace)
      if (r.cluster) sets.cluster.add(r.cluster)
      if (r.node) sets.node.add(r.node)
      if (r.workload) sets.workload.add(r.workload)
      for (const t of r.tags) sets.tag.add(t)
    }
    const list = (s: Set<string>) => [...s].sort().slice(0, 1000)
    return { rule: list(sets.rule), namespace: list(sets.namespace), cluster: list(sets.cluster), node: list(sets.node), tag: list(sets.tag), workload: list(sets.workload) }
  }
}

/** The starts of the 5-minute buckets a stats range covers (at most 31 days of them). */
export function bucketStarts(from: number, to: number): number[] {
  const out: number[] = []
  const first = Math.floor(Math.max(from, to - MAX_SERIES * BUCKET_MS) / BUCKET_MS) * BUCKET_MS
  for (let start = first; start <= to; start += BUCKET_MS) out.push(start)
  return out
}

/** What one finding's new occurrences add to a bucket (the local index keeps it, the shared one sends it). */
export function bucketKeys(finding: FindingRecord['finding']): { severity: string; kind: SourceKind; rule: string; namespace: string } {
  return { severity: finding.severity, kind: kindOf(finding), rule: finding.event.rule, namespace: finding.event.workload.namespace ?? '(none)' }
}

/** Occurrence-timeline points kept per finding: the first ones and the most recent. */
const TIMELINE = 120

/**
 * A finding's next console record from the one stored: a timeline point per new version, the
 * deliveries and dead letters kept, the archive note only while the finding stays archived.
 */
export function nextRecord(previous: FindingRecord | undefined, finding: FindingRecord['finding'], routedTo: string[], indexedAt: number): FindingRecord {
  const timeline = [...(previous?.timeline ?? [])]
  if (!previous || previous.finding.version !== finding.version) timeline.push([finding.lastObservedAt, finding.count])
  if (timeline.length > TIMELINE) timeline.splice(10, timeline.length - TIMELINE)
  return {
    finding,
    timeline,
    routedTo,
    delivered: previous?.delivered ?? {},
    ...(previous?.deadLettered ? { deadLettered: previous.deadLettered } : {}),
    ...(previous?.archivedBy && finding.archived ? { archivedBy: previous.archivedBy } : {}),
    indexedAt: new Date(indexedAt).toISOString(),
  }
}

/** Occurrences a new version adds to the one stored (a new window counts from zero). */
export function addedBy(previous: { firstObservedAt: string; count: number } | undefined, next: { firstObservedAt: string; count: number }): number {
  return previous && previous.firstObservedAt === next.firstObservedAt ? Math.max(0, next.count - previous.count) : next.count
}

/** Add `added` occurrences of `finding` to a bucket. */
export function addToBucket(b: Bucket, finding: FindingRecord['finding'], added: number): void {
  const k = bucketKeys(finding)
  b.alerts += added
  b.severity[k.severity] = (b.severity[k.severity] ?? 0) + added
  b.kind[k.kind] = (b.kind[k.kind] ?? 0) + added
  bump(b.rule, k.rule, added)
  bump(b.namespace, k.namespace, added)
}

export function bump(counts: Record<string, number>, key: string, n: number): void {
  if (counts[key] === undefined && Object.keys(counts).length >= KEYS_PER_BUCKET) key = '(other)'
  counts[key] = (counts[key] ?? 0) + n
}

export function summaryOf(output: string): string {
  return output.length > SUMMARY_CHARS ? `${output.slice(0, SUMMARY_CHARS)}…` : output
}

const SORT_KEYS: Record<FindingQuery['sort'], (a: Row, b: Row) => number> = {
  lastSeen: (a, b) => a.lastMs - b.lastMs,
  firstSeen: (a, b) => a.firstMs - b.firstMs,
  count: (a, b) => a.count - b.count,
  severity: (a, b) => a.rank - b.rank,
  rule: (a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
}

/**
 * Every row has the same fields in the same order (absent ones undefined), so the query loop reads
 * monomorphic objects: with optional fields spread in, 100,000 rows took several shapes and each
 * property read went megamorphic.
 */
function rowOf(record: FindingRecord, bytes: number, seq: number): Row {
  const f = record.finding
  const e = f.event
  const w = e.workload
  const workload = workloadName(w)
  const node = w.node ?? e.hostname
  const image = w.container?.imageRepository ?? ''
  const text = [e.rule, e.output.slice(0, 500), w.namespace, w.pod, workload, node, image, e.actor?.username, e.actor?.arn, w.iam?.roleArn, f.id, ...e.tags].filter(Boolean).join('\n').toLowerCase()
  return {
    id: copied(f.id),
    severity: f.severity,
    rule: shared(e.rule),
    kind: kindOf(f),
    source: shared(e.source),
    cluster: sharedOrNot(w.cluster),
    namespace: sharedOrNot(w.namespace),
    workload: sharedOrNot(workload),
    pod: w.pod === undefined ? undefined : copied(w.pod),
    node: sharedOrNot(node),
    tags: e.tags.map(shared),
    count: f.count,
    distinctPods: f.distinctPods,
    firstObservedAt: copied(f.firstObservedAt),
    lastObservedAt: copied(f.lastObservedAt),
    archived: f.archived === true,
    rank: SEVERITY_LABELS.indexOf(f.severity),
    lastMs: Date.parse(f.lastObservedAt),
    firstMs: Date.parse(f.firstObservedAt),
    seenMs: Date.parse(record.indexedAt) || 0,
    seq,
    bytes,
    text,
  }
}

/**
 * A row lives as long as its finding stays in the index (up to retention.maxFindings), but the
 * record it is built from was decoded from LMDB by msgpackr, whose short strings are slices of
 * one string holding a run of the record's bytes: keeping any one of them kept that whole run
 * alive, ~0.7 KiB more per row on the bench's findings and ~2.5 KiB on real Falco alerts (heap
 * snapshots of a soak, docs/performance.md). So a row keeps copies: values many rows repeat
 * (rule, namespace, node, tags...) one shared copy each from a bounded table, the rest its own.
 */
function copied(value: string): string {
  // A string decoded from UTF-8 bytes is a fresh sequential string, never a slice of another.
  return Buffer.from(value, 'utf8').toString('utf8')
}

// Emptied when full: values that stop recurring cannot pile up; rows keep the copies they hold.
const shared = stringTable(20_000, copied)

function sharedOrNot(value: string | undefined): string | undefined {
  return value === undefined ? undefined : shared(value)
}

function publicRow(r: Row, summary: string): FindingRow {
  const row: FindingRow = { id: r.id, severity: r.severity, rule: r.rule, kind: r.kind, source: r.source, tags: r.tags, count: r.count, distinctPods: r.distinctPods, firstObservedAt: r.firstObservedAt, lastObservedAt: r.lastObservedAt, archived: r.archived, summary }
  if (r.cluster !== undefined) row.cluster = r.cluster
  if (r.namespace !== undefined) row.namespace = r.namespace
  if (r.workload !== undefined) row.workload = r.workload
  if (r.pod !== undefined) row.pod = r.pod
  if (r.node !== undefined) row.node = r.node
  return row
}
