import type { SecurityEvent } from '../model/event.js'
import type { Finding } from '../model/finding.js'
import { moreUrgent, type SeverityMapping } from '../model/severity.js'
import { findingId, type IdOptions } from './finding-id.js'
import { addMs, fromMs } from '../model/time.js'

export interface AggregateOptions extends IdOptions {
  severityMapping: Readonly<SeverityMapping>
  /** A finding idle longer than this starts counting again (same Id: Security Hub updates it). */
  windowMs: number
  /** falconet's clock (tests pass their own). */
  now?: () => number
  /** How far ahead of that clock a sender's time may be (sources refuse later ones); bounds UpdatedAt. */
  maxFutureSkewMs?: number
}

const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000

/** Names kept per finding to count distinct pods / containers; beyond it counts are lower bounds. */
export const TRACKED_NAMES = 500
const SAMPLE = 5

/** What the spool keeps per finding: the finding plus the sets behind its distinct counts. */
export interface FindingState extends Finding {
  pods: string[]
  containers: string[]
}

/**
 * Fold one event into its finding. Pure: the caller (the spool, inside one write transaction)
 * reads the previous state and stores the result, so a repeat is counted exactly once.
 */
export function fold(previous: FindingState | undefined, event: SecurityEvent, id: string, options: AggregateOptions): FindingState {
  const severity = options.severityMapping[event.priority]
  const expired = previous && Date.parse(event.time) - Date.parse(previous.lastObservedAt) > options.windowMs
  if (!previous || expired) {
    const pods = podKey(event)
    const containers = containerKey(event)
    return {
      id,
      event,
      severity,
      firstObservedAt: event.time,
      lastObservedAt: event.time,
      updatedAt: nextUpdatedAt(event.time, previous?.updatedAt, options),
      count: 1,
      pods: pods ? [pods] : [],
      containers: containers ? [containers] : [],
      distinctPods: pods ? 1 : 0,
      distinctContainers: containers ? 1 : 0,
      samplePods: event.workload.pod ? [event.workload.pod] : [],
      ...withAuditId(undefined, event),
      version: (previous?.version ?? 0) + 1,
    }
  }
  const newer = event.time >= previous.lastObservedAt
  const pods = addBounded(previous.pods, podKey(event))
  const containers = addBounded(previous.containers, containerKey(event))
  const lastObservedAt = newer ? event.time : previous.lastObservedAt
  return {
    id,
    event: newer ? event : previous.event,
    severity: moreUrgent(previous.severity, severity),
    firstObservedAt: event.time < previous.firstObservedAt ? event.time : previous.firstObservedAt,
    lastObservedAt,
    updatedAt: nextUpdatedAt(lastObservedAt, previous.updatedAt, options),
    count: previous.count + 1,
    pods,
    containers,
    distinctPods: previous.distinctPods + (pods.length > previous.pods.length ? 1 : 0),
    distinctContainers: previous.distinctContainers + (containers.length > previous.containers.length ? 1 : 0),
    samplePods: event.workload.pod && !previous.samplePods.includes(event.workload.pod) && previous.samplePods.length < SAMPLE
      ? [...previous.samplePods, event.workload.pod]
      : previous.samplePods,
    ...withAuditId(previous.auditIds, event),
    version: previous.version + 1,
  }
}

/**
 * The finding's resolved version: `note` (the event that ends it, e.g. "the source is talking
 * again") as its latest occurrence, archived. Counts and first/last observed times stay those of
 * the problem itself.
 */
export function archive(previous: FindingState, note: SecurityEvent, options: Pick<AggregateOptions, 'now' | 'maxFutureSkewMs'> = {}): FindingState {
  return { ...previous, event: note, archived: true, updatedAt: nextUpdatedAt(note.time, previous.updatedAt, options), version: previous.version + 1 }
}

const AUDIT_IDS = 10

function withAuditId(previous: string[] | undefined, event: SecurityEvent): { auditIds?: string[] } {
  const id = event.fields['ka.auditid']
  if (typeof id !== 'string') return previous ? { auditIds: previous } : {}
  return { auditIds: [...(previous ?? []).filter((p) => p !== id), id].slice(-AUDIT_IDS) }
}

export function idFor(event: SecurityEvent, options: IdOptions): string {
  return findingId(event, options)
}

/** The Finding a sink sees: the state without its bookkeeping sets. */
export function toFinding(state: FindingState): Finding {
  const { pods: _pods, containers: _containers, ...finding } = state
  return finding
}

function podKey(event: SecurityEvent): string | undefined {
  const { namespace, pod } = event.workload
  return pod ? `${namespace ?? ''}/${pod}` : undefined
}

function containerKey(event: SecurityEvent): string | undefined {
  const c = event.workload.container
  return c ? `${event.hostname ?? ''}/${c.id ?? c.name}` : undefined
}

function addBounded(list: string[], value: string | undefined): string[] {
  if (!value || list.includes(value) || list.length >= TRACKED_NAMES) return list
  return [...list, value]
}


/**
 * UpdatedAt: when falconet changed the finding, on falconet's clock — at least the event's time
 * (so it is never before CreatedAt; sources refuse times beyond the skew) and at least 1 ms after
 * the previous version's (Security Hub keeps milliseconds and ignores an update whose UpdatedAt is
 * not later). No sender's time can push it ahead of the clock by more than the skew: an event
 * dated 9999 once made every later update of its finding invisible to Security Hub. A previous
 * value beyond that bound (written before times were bounded) is not carried forward.
 */
function nextUpdatedAt(eventTime: string, previous: string | undefined, options: Pick<AggregateOptions, 'now' | 'maxFutureSkewMs'>): string {
  const now = (options.now ?? Date.now)()
  const ceiling = now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS)
  const eventMs = Date.parse(eventTime)
  let time = eventMs > now && eventMs <= ceiling ? eventTime : fromMs(now)
  if (previous) {
    const prev = Date.parse(previous)
    if (prev <= ceiling && prev >= Date.parse(time)) time = addMs(previous, 1)
  }
  return time
}

/** One event as its own finding (no previous state): for tools that show what an event would produce. */
export function findingFromEvent(event: SecurityEvent, options: Omit<AggregateOptions, 'windowMs'>): Finding {
  return toFinding(fold(undefined, event, findingId(event, options), { ...options, windowMs: Infinity }))
}
