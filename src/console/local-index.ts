import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import type { Logger } from 'pino'
import { toFinding, type FindingState } from '../aggregate/aggregator.js'
import { workloadName } from '../aggregate/workload.js'
import { SEVERITY_LABELS, type SeverityLabel } from '../model/severity.js'
import {
  kindOf,
  type ConsoleStats,
  type FindingIndex,
  type FindingPage,
  type FindingQuery,
  type FindingRecord,
  type FindingRow,
  type SeriesBucket,
  type SourceKind,
} from './findings-index.js'

export interface Retention {
  days: number
  maxFindings: number
  maxBytes: number
}

/** Occurrence-timeline points kept per finding: the first ones and the most recent. */
const TIMELINE = 120
const BUCKET_MS = 5 * 60_000
/** Rules / namespaces counted per bucket; beyond it they add to "(other)" — memory stays bounded. */
const KEYS_PER_BUCKET = 200
const FLUSH_MS = 200
/** Buckets one stats answer holds at most (31 days of 5 minutes). */
const MAX_SERIES = 31 * 288
const SUMMARY_CHARS = 240

/** In memory per finding (about 1–2 KB): what filters and sorts read. The summary is read from LMDB for the page's rows only. */
interface Row extends Omit<FindingRow, 'cluster' | 'namespace' | 'workload' | 'pod' | 'node' | 'summary'> {
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

interface Bucket {
  alerts: number
  severity: Record<string, number>
  kind: Record<string, number>
  rule: Record<string, number>
  namespace: Record<string, number>
}

interface Totals {
  alertsReceived: number
  findingVersions: number
  securityHub: { calls: number; findingsSent: number }
}

const F = 'f/'
const S = 's/'
const TOTALS = 't'

/**
 * The console's own bounded index on this replica: full records in LMDB under dataDir/console
 * (compressed), one compact row per finding in memory for filtering and sorting, and 5-minute
 * buckets of counts for the charts. The pipeline hook only queues; writes happen in the
 * background every 200 ms, coalesced per finding, so the ingest path never waits on it.
 */
export class LocalFindingIndex implements FindingIndex {
  /** Values: FindingRecord under f/<id>, Bucket under s/<start>, Totals under t. */
  readonly #db: RootDatabase<unknown, string>
  readonly #rows = new Map<string, Row>()
  readonly #buckets = new Map<number, Bucket>()
  readonly #pending = new Map<string, { state: FindingState; sinks: string[] }>()
  readonly #deliveries = new Map<string, Record<string, { version: number; at: string }>>()
  readonly #listeners = new Set<(ids: string[]) => void>()
  /** Acknowledgements that came before their finding was indexed, and how often they were tried. */
  readonly #early = new Map<string, number>()
  readonly #retention: Retention
  readonly #logger: Logger
  readonly #now: () => number
  #totals: Totals
  #bytes = 0
  /** Bumped on every row change; cached orders older than it are rebuilt on the next query. */
  #generation = 0
  #seq = 0
  readonly #orders = new Map<FindingQuery['sort'], { rows: Row[]; generation: number; seq: number }>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()
  readonly #sweeper: NodeJS.Timeout

  constructor(dataDir: string, retention: Retention, deps: { logger: Logger; now?: () => number }) {
    this.#db = open({ path: join(dataDir, 'console'), compression: true })
    this.#retention = retention
    this.#logger = deps.logger
    this.#now = deps.now ?? Date.now
    this.#totals = (this.#db.get(TOTALS) as Totals | undefined) ?? { alertsReceived: 0, findingVersions: 0, securityHub: { calls: 0, findingsSent: 0 } }
    for (const { key, value } of this.#db.getRange({ start: F, end: 'f0' })) {
      const bytes = JSON.stringify(value).length
      this.#rows.set(String(key).slice(F.length), rowOf(value as FindingRecord, bytes, ++this.#seq))
      this.#bytes += bytes
    }
    for (const { key, value } of this.#db.getRange({ start: S, end: 's0' })) this.#buckets.set(Number(String(key).slice(S.length)), value as Bucket)
    this.#sweeper = setInterval(() => void this.#sweep(), 60_000).unref()
    void this.#sweep()
  }

  record(findings: readonly FindingState[], routedTo: (f: FindingState) => readonly string[]): void {
    for (const state of findings) this.#pending.set(state.id, { state, sinks: [...routedTo(state)] })
    this.#schedule()
  }

  delivered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, at: number): void {
    const time = new Date(at).toISOString()
    for (const { id, version } of items) {
      const d = this.#deliveries.get(id) ?? {}
      if ((d[sink]?.version ?? 0) <= version) d[sink] = { version, at: time }
      this.#deliveries.set(id, d)
    }
    this.#schedule()
  }

  sent(sink: string, items: number): void {
    if (sink !== 'securityhub') return
    this.#totals.securityHub.calls++
    this.#totals.securityHub.findingsSent += items
    this.#schedule()
  }

  async annotate(id: string, note: Pick<FindingRecord, 'archivedBy'>): Promise<void> {
    await this.flush()
    const record = this.get(id)
    if (record) await this.#put(id, { ...record, ...note })
  }

  get(id: string): FindingRecord | undefined {
    return this.#rows.has(id) ? (this.#db.get(F + id) as FindingRecord | undefined) : undefined
  }

  /**
   * One pass over the rows in the asked order: filters, the severity counts, and the page's window.
   * The order is cached per sort key and re-sorted only after changes, from the previous order, so
   * the sort sees nearly sorted input (TimSort: close to linear) and a query stays O(n) with cheap checks.
   */
  query(q: FindingQuery): FindingPage {
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
      if (total >= q.offset && total < end) items.push(publicRow(r, (this.#db.get(F + r.id) as FindingRecord | undefined)?.finding.event.output ?? ''))
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

  stats(from: number, to: number): ConsoleStats {
    const series: SeriesBucket[] = []
    const rules = new Map<string, number>()
    const namespaces = new Map<string, number>()
    // Every bucket of the range, empty ones as zeros: a chart's time axis is the range asked for.
    const first = Math.floor(Math.max(from, to - MAX_SERIES * BUCKET_MS) / BUCKET_MS) * BUCKET_MS
    for (let start = first; start <= to; start += BUCKET_MS) {
      const b = this.#buckets.get(start)
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
    const top = <T>(m: Map<string, number>, make: (k: string, n: number) => T) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => make(k, n))
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
      totals: structuredClone(this.#totals),
      index: { findings: this.#rows.size, bytes: this.#bytes, ...(oldest < Infinity ? { oldest: new Date(oldest).toISOString() } : {}) },
    }
  }

  #facets: { at: number; value: ReturnType<FindingIndex['facets']> } | undefined

  /** Suggestions may be a few seconds old: recomputed at most every 10 s (a pass over every row). */
  facets(): ReturnType<FindingIndex['facets']> {
    const now = Date.now()
    if (!this.#facets || now - this.#facets.at > 10_000) this.#facets = { at: now, value: this.#computeFacets() }
    return this.#facets.value
  }

  #computeFacets(): ReturnType<FindingIndex['facets']> {
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

  onChange(listener: (ids: string[]) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#flushing = this.#flushing.then(() => this.#write()).catch((err) => this.#logger.error({ err }, 'console index: write failed'))
    return this.#flushing
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    await this.flush()
    await this.#db.close()
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
  }

  async #write(): Promise<void> {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    const deliveries = [...this.#deliveries.entries()]
    this.#deliveries.clear()
    const changed = new Set<string>()
    const writes: Array<Promise<unknown>> = []
    // LMDB puts commit asynchronously: what this pass wrote is read from here, not the database.
    const written = new Map<string, FindingRecord>()
    for (const { state, sinks } of pending) {
      const previous = written.get(state.id) ?? (this.#db.get(F + state.id) as FindingRecord | undefined)
      const sameWindow = previous && previous.finding.firstObservedAt === state.firstObservedAt
      const added = sameWindow ? Math.max(0, state.count - previous.finding.count) : state.count
      const finding = toFinding(state)
      const timeline = [...(previous?.timeline ?? [])]
      if (!previous || previous.finding.version !== state.version) timeline.push([state.lastObservedAt, state.count])
      if (timeline.length > TIMELINE) timeline.splice(10, timeline.length - TIMELINE)
      const record: FindingRecord = {
        finding,
        timeline,
        routedTo: sinks,
        delivered: previous?.delivered ?? {},
        ...(previous?.archivedBy && state.archived ? { archivedBy: previous.archivedBy } : {}),
        indexedAt: new Date(this.#now()).toISOString(),
      }
      written.set(state.id, record)
      writes.push(this.#put(state.id, record))
      changed.add(state.id)
      this.#totals.findingVersions++
      if (added > 0) this.#count(finding, added)
    }
    for (const [id, sinks] of deliveries) {
      const record = written.get(id) ?? (this.#db.get(F + id) as FindingRecord | undefined)
      if (!record) {
        // An acknowledgement can overtake the hook that indexes the finding: try again next pass, a few times.
        const tries = (this.#early.get(id) ?? 0) + 1
        if (tries <= 5) {
          this.#early.set(id, tries)
          this.#deliveries.set(id, { ...sinks, ...this.#deliveries.get(id) })
          this.#schedule()
        } else this.#early.delete(id)
        continue
      }
      this.#early.delete(id)
      writes.push(this.#put(id, { ...record, delivered: { ...record.delivered, ...sinks } }))
      changed.add(id)
    }
    writes.push(this.#db.put(TOTALS, this.#totals))
    await Promise.all(writes)
    if (changed.size > 0) for (const l of this.#listeners) l([...changed])
  }

  /** Occurrences counted at arrival time: a replayed or skewed event still shows in "the last hour". */
  #count(finding: FindingRecord['finding'], added: number): void {
    this.#totals.alertsReceived += added
    const start = Math.floor(this.#now() / BUCKET_MS) * BUCKET_MS
    const b = this.#buckets.get(start) ?? { alerts: 0, severity: {}, kind: {}, rule: {}, namespace: {} }
    b.alerts += added
    b.severity[finding.severity] = (b.severity[finding.severity] ?? 0) + added
    const kind = kindOf(finding)
    b.kind[kind] = (b.kind[kind] ?? 0) + added
    bump(b.rule, finding.event.rule, added)
    bump(b.namespace, finding.event.workload.namespace ?? '(none)', added)
    this.#buckets.set(start, b)
    void this.#db.put(S + start, b)
  }

  async #put(id: string, record: FindingRecord): Promise<void> {
    const bytes = JSON.stringify(record).length
    const before = this.#rows.get(id)
    this.#bytes += bytes - (before?.bytes ?? 0)
    this.#rows.set(id, rowOf(record, bytes, before?.seq ?? ++this.#seq))
    this.#generation++
    await this.#db.put(F + id, record)
    if (this.#rows.size > this.#retention.maxFindings * 1.05 || this.#bytes > this.#retention.maxBytes * 1.05) void this.#sweep()
  }

  #sweeping = false

  /** Retention: by age, then count, then bytes; least recently stored first. */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return
    this.#sweeping = true
    try {
      const cutoff = this.#now() - this.#retention.days * 86_400_000
      // Over a limit, trim to 95% of it: the next sweep is then some way off (inserts trigger one at 105%).
      const maxFindings = this.#rows.size > this.#retention.maxFindings ? Math.floor(this.#retention.maxFindings * 0.95) : this.#retention.maxFindings
      const maxBytes = this.#bytes > this.#retention.maxBytes ? Math.floor(this.#retention.maxBytes * 0.95) : this.#retention.maxBytes
      const byAge = [...this.#rows.values()].sort((a, b) => a.seenMs - b.seenMs)
      const drop: Row[] = []
      let count = this.#rows.size
      let bytes = this.#bytes
      for (const r of byAge) {
        if (r.seenMs >= cutoff && count <= maxFindings && bytes <= maxBytes) break
        drop.push(r)
        count--
        bytes -= r.bytes
      }
      if (drop.length > 0) this.#generation++
      for (const r of drop) {
        this.#rows.delete(r.id)
        this.#bytes -= r.bytes
        void this.#db.remove(F + r.id)
      }
      for (const start of this.#buckets.keys()) {
        if (start < cutoff - BUCKET_MS) {
          this.#buckets.delete(start)
          void this.#db.remove(S + start)
        }
      }
      if (drop.length > 0) {
        this.#logger.info({ removed: drop.length, kept: this.#rows.size, bytes: this.#bytes }, 'console index: retention removed findings')
        for (const l of this.#listeners) l(drop.map((r) => r.id))
      }
    } finally {
      this.#sweeping = false
    }
  }
}

function bump(counts: Record<string, number>, key: string, n: number): void {
  if (counts[key] === undefined && Object.keys(counts).length >= KEYS_PER_BUCKET) key = '(other)'
  counts[key] = (counts[key] ?? 0) + n
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
    id: f.id,
    severity: f.severity,
    rule: e.rule,
    kind: kindOf(f),
    source: e.source,
    cluster: w.cluster,
    namespace: w.namespace,
    workload,
    pod: w.pod,
    node,
    tags: e.tags,
    count: f.count,
    distinctPods: f.distinctPods,
    firstObservedAt: f.firstObservedAt,
    lastObservedAt: f.lastObservedAt,
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

function publicRow(r: Row, output: string): FindingRow {
  const summary = output.length > SUMMARY_CHARS ? `${output.slice(0, SUMMARY_CHARS)}…` : output
  const row: FindingRow = { id: r.id, severity: r.severity, rule: r.rule, kind: r.kind, source: r.source, tags: r.tags, count: r.count, distinctPods: r.distinctPods, firstObservedAt: r.firstObservedAt, lastObservedAt: r.lastObservedAt, archived: r.archived, summary }
  if (r.cluster !== undefined) row.cluster = r.cluster
  if (r.namespace !== undefined) row.namespace = r.namespace
  if (r.workload !== undefined) row.workload = r.workload
  if (r.pod !== undefined) row.pod = r.pod
  if (r.node !== undefined) row.node = r.node
  return row
}
