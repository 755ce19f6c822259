import type { SecurityEvent } from '../model/event.js'
import { archive, fold, idFor, type AggregateOptions, type FindingState } from '../aggregate/aggregator.js'
import { SpoolFullError, type Spool } from '../delivery/spool.js'
import type { Ingest, IngestOptions, Resolve } from '../model/ingest.js'
import { errors } from '../errors.js'

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

/**
 * With a shared store (src/cluster): what each commit also carries so that the store can merge it
 * later, in batches — the occurrences as deltas in an outbox, committed with the findings, so what
 * a source was acknowledged is what the store eventually gets, exactly once.
 */
export interface Replication {
  occurrences(events: ReadonlyArray<{ id: string; event: SecurityEvent }>): IngestOptions
  resolution(id: string, event: SecurityEvent): IngestOptions
}

/** Both commits' extras in one (outboxes and state writes add up). */
export function withOptions(a: IngestOptions, b: IngestOptions): IngestOptions {
  const outbox = [a.outbox ?? [], b.outbox ?? []].flat(2)
  const state = [...(a.state ?? []), ...(b.state ?? [])]
  return { ...a, ...b, ...(outbox.length ? { outbox } : {}), ...(state.length ? { state } : {}), markSeen: [...(a.markSeen ?? []), ...(b.markSeen ?? [])] }
}

export function createPipeline(
  options: AggregateOptions,
  spool: Pick<Spool, 'record'>,
  sinks: Sinks,
  enrich: (event: SecurityEvent) => SecurityEvent = (e) => e,
  hooks: PipelineHooks = {},
  replication?: Replication,
): Ingest {
  return async (received, ingestOptions = {}) => {
    const events = hooks.accept ? hooks.accept(received) : received
    if (events.length === 0 && ingestOptions.dedupeKey === undefined && !ingestOptions.markSeen?.length && ![ingestOptions.outbox ?? []].flat().some((o) => o.items.length) && !ingestOptions.state?.length) return { duplicate: false }
    // The Id comes from the event as received, so it is the same whether or not enrichment knew
    // the pod (before the first sync, in node mode, after the grace period).
    const written: FindingState[] = []
    const enriched = events.map((original) => ({ id: idFor(original, options), event: enrich(original) }))
    const items = enriched.map(({ id, event }) => ({ id, apply: (previous: FindingState | undefined) => keep(written, fold(previous, event, id, options)) }))
    const commitOptions = replication && enriched.length ? withOptions(ingestOptions, replication.occurrences(enriched)) : ingestOptions
    const duplicate = await record(spool, items, sinks, commitOptions)
    if (!duplicate) hooks.committed?.(written)
    return { duplicate }
  }
}

/** Archives the finding an event belongs to: Security Hub gets RecordState ARCHIVED, PagerDuty a resolve. */
export function createResolver(options: AggregateOptions, spool: Pick<Spool, 'record'>, sinks: Sinks, enrich: (event: SecurityEvent) => SecurityEvent = (e) => e, hooks: PipelineHooks = {}, replication?: Replication): Resolve {
  return async (original, ingestOptions = {}) => {
    const id = idFor(original, options)
    const event = enrich(original)
    const written: FindingState[] = []
    // With a shared store the finding may have been raised by another replica: the store archives it.
    const commitOptions = replication ? withOptions(ingestOptions, replication.resolution(id, event)) : ingestOptions
    await record(spool, [{ id, apply: (previous) => (previous && !previous.archived ? keep(written, archive(previous, event)) : undefined) }], sinks, commitOptions)
    hooks.committed?.(written)
    return written.length > 0
  }
}

function keep(written: FindingState[], state: FindingState): FindingState {
  written.push(state)
  return state
}

async function record(spool: Pick<Spool, 'record'>, items: Parameters<Spool['record']>[0], sinks: Sinks, options: IngestOptions): Promise<boolean> {
  try {
    return await spool.record(items, sinks, options)
  } catch (err) {
    if (err instanceof SpoolFullError) {
      throw Object.assign(new errors.FALCONET_ERR_OVERLOADED(err.message), { headers: { 'retry-after': String(RETRY_AFTER_SECS) } })
    }
    throw err
  }
}
