import type { SecurityEvent } from '../model/event.js'
import type { Finding } from '../model/finding.js'
import { moreUrgent, type SeverityMapping } from '../model/severity.js'
import { findingId, type IdOptions } from './finding-id.js'
import { addMs, fromMs, laterMs } from '../model/time.js'

export interface AggregateOptions extends IdOptions {
  severityMapping: Readonly<SeverityMapping>
  /**
   * A finding idle longer than this starts counting again (same Id: Security Hub updates it).
   * Idle is measured on falconet's clock (when occurrences were received), the clock expiry uses
   * too: a backlog of old events (Fluent Bit retrying, `falconet replay`) folds like live ones.
   */
  windowMs: number
}

/** Names kept per finding to count distinct pods / containers; beyond it counts are lower bounds. */
export const TRACKED_NAMES = 500
const SAMPLE = 5

/** What the spool keeps per finding: the finding plus the sets behind its distinct counts. */
export interface FindingState extends Finding {
  pods: string[]
  containers: string[]
  /**
   * Epoch ms (falconet's clock) of the latest change: the aggregation window and expiry are both
   * measured from it. Absent in states written before it existed (then UpdatedAt stands in).
   */
  changedAt?: number
}

/** When the finding last changed on falconet's clock: what its window is measured from. */
export function changedAt(state: FindingState): number {
  return state.changedAt ?? Date.parse(state.updatedAt)
}

/**
 * Fold one event into its finding. Pure: the caller (the spool, inside one write transaction)
 * reads the previous state and stores the result, so a repeat is counted exactly once.
 * `now` is when falconet received the event (epoch ms); tools without a receiver (the CLI's
 * `asff`) leave it out and the event's own time stands in.
 */
export function fold(previous: FindingState | undefined, event: SecurityEvent, id: string, options: AggregateOptions, now = Date.parse(event.time)): FindingState {
  const severity = options.severityMapping[event.priority]
  const expired = previous && now - changedAt(previous) > options.windowMs
  if (!previous || expired) {
    const pods = podKey(event)
    const containers = containerKey(event)
    return {
      id,
      event,
      severity,
      firstObservedAt: event.time,
      lastObservedAt: event.time,
      updatedAt: updatedAt(now, event.time, previous?.updatedAt),
      changedAt: now,
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
  const firstObservedAt = event.time < previous.firstObservedAt ? event.time : previous.firstObservedAt
  return {
    id,
    event: newer ? event : previous.event,
    severity: moreUrgent(previous.severity, severity),
    firstObservedAt,
    lastObservedAt,
    updatedAt: updatedAt(now, firstObservedAt, previous.updatedAt),
    changedAt: now,
    count: previous.count + 1,
    pods,
    containers,
    distinctPods: previous.distinctPods + (pods.length > previous.pods.length ? 1 : 0),
    distinctContainers: previous.distinctContainers + (containers.length > previous.containers.length ? 1 : 0),
    samplePods: event.workload.pod && !previous.samplePods.includes(event.workload.pod) && previous.samplePods.length < SAMPLE ? [...previous.samplePods, event.workload.pod] : previous.samplePods,
    ...withAuditId(previous.auditIds, event),
    version: previous.version + 1,
  }
}

/**
 * The finding's resolved version: `note` (the event that ends it, e.g. "the source is talking
 * again") as its latest occurrence, archived. Counts and first/last observed times stay those of
 * the problem itself.
 */
export function archive(previous: FindingState, note: SecurityEvent, now = Date.parse(note.time)): FindingState {
  return { ...previous, event: note, archived: true, updatedAt: updatedAt(now, previous.firstObservedAt, previous.updatedAt), changedAt: now, version: previous.version + 1 }
}

/**
 * The window closed with no repeat: the same finding, archived (Security Hub ARCHIVED, PagerDuty
 * resolve). It stays as idle as it was (changedAt kept), so it is forgotten once delivered.
 */
export function closeWindow(previous: FindingState, now: number): FindingState {
  return { ...archive(previous, previous.event, now), changedAt: changedAt(previous) }
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
  const { pods: _pods, containers: _containers, changedAt: _changedAt, ...finding } = state
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
 * UpdatedAt: when falconet changed the finding (ASFF: when the provider last updated the record),
 * never before its CreatedAt (FirstObservedAt), and always at least 1 ms after the previous
 * version's. Derived from falconet's clock, an event's time cannot move it backwards (a replayed
 * backlog) nor far forward. Security Hub keeps milliseconds and ignores an update whose UpdatedAt
 * is not later, so "later" is judged in whole milliseconds.
 */
function updatedAt(now: number, createdAt: string, previous: string | undefined): string {
  const received = fromMs(now)
  return laterThan(received > createdAt ? received : createdAt, previous)
}

function laterThan(time: string, previous: string | undefined): string {
  if (!previous || laterMs(time, previous)) return time
  return addMs(previous, 1)
}

/** One event as its own finding (no previous state): for tools that show what an event would produce. */
export function findingFromEvent(event: SecurityEvent, options: Omit<AggregateOptions, 'windowMs'>): Finding {
  return toFinding(fold(undefined, event, findingId(event, options), { ...options, windowMs: Infinity }))
}
