import type { SecurityEvent } from './event.js'
import type { SeverityLabel } from './severity.js'

/**
 * A finding is what sinks deliver: the latest event of a fingerprint plus what is known about its
 * repeats. It is format-neutral; each sink encodes it (ASFF for Security Hub and the findings file).
 */
export interface Finding {
  /** Stable: the same alert facts always give the same Id, so a resend updates instead of duplicating. */
  id: string
  event: SecurityEvent
  severity: SeverityLabel
  firstObservedAt: string
  lastObservedAt: string
  /** When this version of the finding was produced; Security Hub ignores updates that do not move it forward. */
  updatedAt: string
  /** Occurrences folded into this finding (1 until aggregation folds repeats). */
  count: number
}
