import type { SecurityEvent } from './event.js'
import type { SeverityLabel } from './severity.js'

/**
 * A finding is what sinks deliver: one fingerprint's latest event plus what is known about its
 * repeats. It is format-neutral; each sink encodes it (ASFF for Security Hub and the findings file).
 */
export interface Finding {
  /** Stable: the same alert facts always give the same Id, so a resend updates instead of duplicating. */
  id: string
  /** The latest occurrence. */
  event: SecurityEvent
  /** The most urgent severity any occurrence had. */
  severity: SeverityLabel
  firstObservedAt: string
  lastObservedAt: string
  /** Moves forward on every change: Security Hub ignores an update whose UpdatedAt is not later. */
  updatedAt: string
  /** Occurrences folded into this finding inside the aggregation window. */
  count: number
  /** Distinct pods and containers seen (ASFF has no count field; ProductFields carry these, as GuardDuty does). */
  distinctPods: number
  distinctContainers: number
  /** Up to a few names, for people reading the finding. */
  samplePods: string[]
  /** The latest audit events (auditIDs) a finding from the audit log is built from, newest last (at most 10). */
  auditIds?: string[]
  /** Bumped on every change, so a sink acknowledges exactly the version it delivered. */
  version: number
  /** The aggregation window closed with no repeat: Security Hub gets RecordState ARCHIVED, PagerDuty a resolve. */
  archived?: boolean
}
