import { SEVERITY_LABELS } from '../model/severity.js'
import type { FindingPolicy } from '../delivery/stores.js'
import { closeWindow, type FindingState } from './aggregator.js'

/**
 * What the spool is told about findings: queue order by severity (CRITICAL first), the
 * aggregation window, the archived version sent when it closes, and the sinks that track a
 * finding's life. The spool itself knows none of it.
 */
export function findingPolicy(options: { windowMs: number; tracksLifecycle?: (sink: string) => boolean }): FindingPolicy {
  return {
    rank: (state: FindingState) => {
      const i = SEVERITY_LABELS.indexOf(state.severity)
      return i < 0 ? SEVERITY_LABELS.length : SEVERITY_LABELS.length - 1 - i
    },
    ranks: SEVERITY_LABELS.length,
    closeWindow,
    windowMs: options.windowMs,
    tracksLifecycle: options.tracksLifecycle ?? (() => false),
  }
}

/** The rank above which findings are least urgent: MEDIUM and above are kept by the shed policy. */
export const MEDIUM_RANK = SEVERITY_LABELS.length - 1 - SEVERITY_LABELS.indexOf('MEDIUM')
