import type { SecurityEvent } from '../model/event.js'
import { fold, idFor, type AggregateOptions, type FindingState } from '../aggregate/aggregator.js'
import { SpoolFullError, type RecordOptions, type Spool } from '../delivery/spool.js'
import { errors } from '../errors.js'

/**
 * The path from normalized events to the sinks' queues, as the one function sources are handed:
 * it resolves once the events are durably folded into their findings and queued for every sink.
 * Sources answer their client only then. Later stages (detect, enrich, route) slot in here.
 */
export type Ingest = (events: SecurityEvent[], options?: IngestOptions) => Promise<IngestResult>

/** Committed with the findings, in the same transaction (see Spool.record). */
export type IngestOptions = RecordOptions

export interface IngestResult {
  duplicate: boolean
}

/** Seconds a client is asked to wait when the spool is full. */
export const RETRY_AFTER_SECS = 5

export function createPipeline(
  options: AggregateOptions,
  spool: Pick<Spool, 'record'>,
  sinks: readonly string[] | ((finding: FindingState) => readonly string[]),
  enrich: (event: SecurityEvent) => SecurityEvent = (e) => e,
): Ingest {
  return async (events, ingestOptions = {}) => {
    if (events.length === 0 && ingestOptions.dedupeKey === undefined && !ingestOptions.markSeen?.length && !ingestOptions.outbox?.items.length && !ingestOptions.state?.length) return { duplicate: false }
    // The Id comes from the event as received, so it is the same whether or not enrichment knew
    // the pod (before the first sync, in node mode, after the grace period).
    const items = events.map((received) => {
      const id = idFor(received, options)
      const event = enrich(received)
      return { id, apply: (previous: Parameters<typeof fold>[0]) => fold(previous, event, id, options) }
    })
    try {
      return { duplicate: await spool.record(items, sinks, ingestOptions) }
    } catch (err) {
      if (err instanceof SpoolFullError) {
        throw Object.assign(new errors.FALCONET_ERR_OVERLOADED(err.message), { headers: { 'retry-after': String(RETRY_AFTER_SECS) } })
      }
      throw err
    }
  }
}
