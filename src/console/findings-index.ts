import type { Finding } from '../model/finding.js'
import type { FindingState } from '../aggregate/aggregator.js'
import type { SeverityLabel } from '../model/severity.js'

/**
 * What the console shows, behind one interface: the local implementation (LMDB under the data
 * dir, ./local-index.ts) serves one replica; the shared one (./shared-index.ts, in the cluster's
 * Valkey store) makes every replica show the same. Reads may answer a promise (the shared index
 * reads full records from the store); the API awaits them either way.
 */
type Awaitable<T> = T | Promise<T>
export type SourceKind = 'runtime' | 'audit' | 'monitor'
export const SOURCE_KINDS: readonly SourceKind[] = ['runtime', 'audit', 'monitor']

/** One line of the findings list: what a responder scans, no raw event. */
export interface FindingRow {
  id: string
  severity: SeverityLabel
  rule: string
  kind: SourceKind
  source: string
  cluster?: string
  namespace?: string
  workload?: string
  pod?: string
  node?: string
  tags: string[]
  count: number
  distinctPods: number
  firstObservedAt: string
  lastObservedAt: string
  archived: boolean
  summary: string
}

export interface Delivery {
  version: number
  at: string
}

export interface DeadLettered extends Delivery {
  code: string
  reason: string
}

/** Everything known about one finding: the latest version, its history and where it went. */
export interface FindingRecord {
  finding: Finding
  /** [time, count] after each stored version (bounded), oldest first: the occurrence timeline. */
  timeline: Array<[string, number]>
  /** The sinks the latest version was queued for. */
  routedTo: string[]
  /** Per sink: the last version it acknowledged, and when. */
  delivered: Record<string, Delivery>
  /** Per sink: the last version it gave up on (dead letter), why, and when. */
  deadLettered?: Record<string, DeadLettered>
  archivedBy?: { who: string; at: string; comment: string }
  /** When this replica last stored a version (arrival time: retention and the charts use it, not the event's own clock). */
  indexedAt: string
}

export const SORTS = ['lastSeen', 'firstSeen', 'count', 'severity', 'rule'] as const
export type Sort = (typeof SORTS)[number]

export interface FindingQuery {
  severity?: SeverityLabel[]
  rule?: string
  kind?: SourceKind[]
  cluster?: string
  namespace?: string
  workload?: string
  node?: string
  tag?: string
  /** Last received by falconet at or after / before (epoch ms; arrival, so replays and skewed clocks still fall in "the last hour"). */
  from?: number
  to?: number
  /** Free text, case-insensitive, over rule, output, names, image and principal. */
  text?: string
  archived?: boolean
  sort: Sort
  order: 'asc' | 'desc'
  offset: number
  limit: number
}

export interface FindingPage {
  items: FindingRow[]
  total: number
  offset: number
  limit: number
  /** Per severity, over the whole filtered set (the list's counts). */
  bySeverity: Partial<Record<SeverityLabel, number>>
}

export interface SeriesBucket {
  start: string
  alerts: number
  severity: Partial<Record<SeverityLabel, number>>
  kind: Partial<Record<SourceKind, number>>
}

export interface ConsoleStats {
  from: string
  to: string
  bucketSecs: number
  findings: number
  bySeverity: Partial<Record<SeverityLabel, number>>
  byKind: Partial<Record<SourceKind, number>>
  topRules: Array<{ rule: string; alerts: number; findings: number }>
  topNamespaces: Array<{ namespace: string; alerts: number }>
  series: SeriesBucket[]
  /** The range and buckets are arrival times at this falconet. What aggregation saved, since the index was created: */
  totals: { alertsReceived: number; findingVersions: number; securityHub: { calls: number; findingsSent: number } }
  index: { findings: number; bytes: number; oldest?: string }
}

export interface FindingIndex {
  /** The pipeline hook: versions just committed, and the sinks each was queued for. */
  record(findings: readonly FindingState[], routedTo: (f: FindingState) => readonly string[]): void
  /** Delivery observed: `sink` acknowledged these versions. */
  delivered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, at: number): void
  /** A sink gave up on these versions (dead letters). */
  deadLettered(sink: string, items: ReadonlyArray<{ id: string; version: number }>, why: { code: string; reason: string }, at: number): void
  /** A request to a sink (Security Hub calls, for the savings). */
  sent(sink: string, items: number): void
  annotate(id: string, note: Pick<FindingRecord, 'archivedBy'>): Promise<void>
  query(q: FindingQuery): Awaitable<FindingPage>
  get(id: string): Awaitable<FindingRecord | undefined>
  stats(from: number, to: number): Awaitable<ConsoleStats>
  /** Values seen, for the filters' suggestions. */
  facets(): Awaitable<Record<'rule' | 'namespace' | 'cluster' | 'node' | 'tag' | 'workload', string[]>>
  /** Called after stored changes, with the ids changed (coalesced). */
  onChange(listener: (ids: string[]) => void): () => void
  /** Writes what is pending. */
  flush(): Promise<void>
  close(): Promise<void>
}

export function kindOf(f: Pick<Finding, 'event'>): SourceKind {
  const { input, source } = f.event
  if (input === 'monitor' || source === 'internal') return 'monitor'
  if (source === 'k8s_audit' || input === 'k8s-audit' || input === 'eks-audit') return 'audit'
  return 'runtime'
}
