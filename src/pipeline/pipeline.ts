import type { SecurityEvent } from '../model/event.js'
import { archive, fold, idFor, type AggregateOptions, type FindingState } from '../aggregate/aggregator.js'
import { SpoolFullError } from '../delivery/spool.js'
import type { FindingLedger } from '../delivery/stores.js'
import type { Ingest, IngestOptions, Resolve } from '../model/ingest.js'
import { errors } from '../errors.js'
import { trimForStorage } from '../aggregate/trim.js'
import { BurstBound, FOLDED_FIELD } from './burst.js'

export type { Ingest, IngestOptions, IngestResult, Resolve } from '../model/ingest.js'

/** Seconds a client is asked to wait when the spool is full. */
export const RETRY_AFTER_SECS = 5

/** What watches the path without being part of it (src/monitor): metrics, source liveness. */
export interface PipelineHooks {
  /** Before folding: may take events out (Falco's heartbeats are not findings) or re-grade them. */
  accept?: (events: SecurityEvent[]) => SecurityEvent[]
  /** After the commit: the finding versions it wrote. */
  committed?: (findings: readonly FindingState[]) => void
}

type Sinks = readonly string[] | ((finding: FindingState) => readonly string[])

export function createPipeline(
  options: AggregateOptions,
  spool: Pick<FindingLedger, 'record'>,
  sinks: Sinks,
  enrich: (event: SecurityEvent) => SecurityEvent = (e) => e,
  hooks: PipelineHooks = {},
  burst = new BurstBound(),
): Ingest {
  return async (received, ingestOptions = {}) => {
    const events = hooks.accept ? hooks.accept(received) : received
    if (events.length === 0 && ingestOptions.dedupeKey === undefined && !ingestOptions.markSeen?.length && !ingestOptions.outbox?.items.length && !ingestOptions.state?.length) return { duplicate: false }
    // The Id comes from the event as received, so it is the same whether or not enrichment knew
    // the pod (before the first sync, in node mode, after the grace period).
    const written: FindingState[] = []
    const now = Date.now() // one receipt time per request: the clock windows and expiry use
    const items = events.map((original) => {
      let folded = false
      const id = burst.idFor(original, idFor(original, options), () => {
        folded = true
        return idFor(original, { ...options, keyFields: { ...options.keyFields, [original.rule]: [] } })
      }, now)
      // Stored cut to what any sink can carry (a 1 MB rule name is not kept whole for a day).
      const enriched = trimForStorage(enrich(original))
      const event = folded ? { ...enriched, fields: { ...enriched.fields, [FOLDED_FIELD]: `more than ${burst.perRule} distinct findings of this rule within ${burst.windowMs / 1000} s: the rest are counted here` } } : enriched
      return { id, apply: (previous: FindingState | undefined) => keep(written, fold(previous, event, id, options, now)) }
    })
    const duplicate = await record(spool, items, sinks, ingestOptions)
    if (!duplicate) hooks.committed?.(written)
    return { duplicate }
  }
}

/** Archives the finding an event belongs to: Security Hub gets RecordState ARCHIVED, PagerDuty a resolve. */
export function createResolver(options: AggregateOptions, spool: Pick<FindingLedger, 'record'>, sinks: Sinks, enrich: (event: SecurityEvent) => SecurityEvent = (e) => e, hooks: PipelineHooks = {}): Resolve {
  return async (original, ingestOptions = {}) => {
    const id = idFor(original, options)
    const event = trimForStorage(enrich(original))
    const written: FindingState[] = []
    const now = Date.now()
    await record(spool, [{ id, apply: (previous) => (previous && !previous.archived ? keep(written, archive(previous, event, now)) : undefined) }], sinks, ingestOptions)
    hooks.committed?.(written)
    return written.length > 0
  }
}

function keep(written: FindingState[], state: FindingState): FindingState {
  written.push(state)
  return state
}

async function record(spool: Pick<FindingLedger, 'record'>, items: Parameters<FindingLedger['record']>[0], sinks: Sinks, options: IngestOptions): Promise<boolean> {
  try {
    return await spool.record(items, sinks, options)
  } catch (err) {
    if (err instanceof SpoolFullError) {
      throw Object.assign(new errors.FALCONET_ERR_OVERLOADED(err.message), { headers: { 'retry-after': String(RETRY_AFTER_SECS) } })
    }
    throw err
  }
}
