import type { SecurityEvent } from '../model/event.js'
import { findingFromEvent, type FindingOptions } from '../aggregate/findings.js'
import type { SinkRunner } from '../delivery/sink-runner.js'

/**
 * The path from a normalized event to the sinks, as one function the sources are handed.
 * Sources never see sinks; later stages (detect, enrich, aggregate, route) slot in here.
 */
export type Ingest = (events: SecurityEvent[]) => void

export function createPipeline(options: FindingOptions, runners: readonly SinkRunner[]): Ingest {
  return (events) => {
    for (const event of events) {
      const finding = findingFromEvent(event, options)
      for (const runner of runners) runner.enqueue(finding)
    }
  }
}
