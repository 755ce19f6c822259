import { Type, type Static } from 'typebox'

/**
 * Falco's eight priorities (syslog's levels) are the one severity scale inside falconet: every
 * source maps onto it, and sinks map it onto their own scale (ASFF labels, PagerDuty severities).
 */
export const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const
export type Priority = (typeof PRIORITIES)[number]

const PRIORITY_BY_LOWER = new Map<string, Priority>(PRIORITIES.map((p) => [p.toLowerCase(), p]))
// Falco's own parser also accepts "info" (falco_common.cpp), and rules files use it.
PRIORITY_BY_LOWER.set('info', 'Informational')

/** Case-insensitive, as Falco itself matches priorities; undefined for anything else. */
export function parsePriority(value: unknown): Priority | undefined {
  return typeof value === 'string' ? PRIORITY_BY_LOWER.get(value.trim().toLowerCase()) : undefined
}

/** 0 = Emergency (most urgent) … 7 = Debug, so "at least Warning" is `rank <= rank('Warning')`. */
export function priorityRank(priority: Priority): number {
  return PRIORITIES.indexOf(priority)
}

export const SEVERITY_LABELS = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const
export const SeverityLabel = Type.Enum(SEVERITY_LABELS)
export type SeverityLabel = Static<typeof SeverityLabel>

export type SeverityMapping = Record<Priority, SeverityLabel>

export const DEFAULT_SEVERITY_MAPPING: SeverityMapping = {
  Emergency: 'CRITICAL',
  Alert: 'CRITICAL',
  Critical: 'CRITICAL',
  Error: 'HIGH',
  Warning: 'MEDIUM',
  Notice: 'LOW',
  Informational: 'INFORMATIONAL',
  Debug: 'INFORMATIONAL',
}

/** The more urgent of two ASFF labels (a tie keeps the first). */
export function moreUrgent(a: SeverityLabel, b: SeverityLabel): SeverityLabel {
  return SEVERITY_LABELS.indexOf(a) >= SEVERITY_LABELS.indexOf(b) ? a : b
}
