import type { SecurityEvent } from '../model/event.js'
import type { Finding } from '../model/finding.js'
import type { SeverityMapping } from '../model/severity.js'
import { findingId, type IdOptions } from './finding-id.js'

export interface FindingOptions extends IdOptions {
  severityMapping: Readonly<SeverityMapping>
}

/** One event → one finding. Aggregation of repeats into counts builds on this (issue 3). */
export function findingFromEvent(event: SecurityEvent, options: FindingOptions): Finding {
  return {
    id: findingId(event, options),
    event,
    severity: options.severityMapping[event.priority],
    firstObservedAt: event.time,
    lastObservedAt: event.time,
    updatedAt: event.time,
    count: 1,
  }
}
