import type { SecurityEvent } from '../model/event.js'
import { archive, fold, idFor, type AggregateOptions, type FindingState } from '../aggregate/aggregator.js'
import { SpoolFullError } from '../delivery/spool.js'
import type { FindingLedger } from '../delivery/stores.js'
import { RETRY_AFTER_SECS, type Ingest, type IngestOptions, type Resolve } from '../model/ingest.js'
import { errors } from '../errors.js'
import { trimForStorage } from '../aggregate/trim.js'
import { BurstBound, FOLDED_FIELD } from './burst.js'

export type { Ingest, IngestOptions, IngestResult, Resolve } from '../model/ingest.js'

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

export function createPipeline(options: AggregateOptions, spool: Pick<FindingLedger, 'record'>, sinks: Sinks, enrich: (event: SecurityEvent) => SecurityEvent = (e) => e, hooks: PipelineHooks = {}, burst = new BurstBound(), replication?: Replication): Ingest {
  return async (received, ingestOptions = {}) => {
    const events = hooks.accept ? hooks.accept(received) : received
    if (events.length === 0 && ingestOptions.dedupeKey === undefined && !ingestOptions.markSeen?.length && ![ingestOptions.outbox ?? []].flat().some((o) => o.items.length) && !ingestOptions.state?.length) return { duplicate: false }
    // The Id comes from the event as received, so it is the same whether or not enrichment knew
    // the pod (before the first sync, in node mode, after the grace period).
    const written: Written = new Map()
    const now = Date.now() // one receipt time per request: the clock windows and expiry use
    const occurrences: Array<{ id: string; event: SecurityEvent }> = []
    const items = events.map((original) => {
      let folded = false
      const id = burst.idFor(
        original,
        idFor(original, options),
        () => {
          folded = true
          return idFor(original, { ...options, keyFields: { ...options.keyFields, [original.rule]: [] } })
        },
        now,
      )
      // Stored cut to what any sink can carry (a 1 MB rule name is not kept whole for a day).
      const enriched = trimForStorage(enrich(original))
      const event = folded ? { ...enriched, fields: { ...enriched.fields, [FOLDED_FIELD]: `more than ${burst.perRule} distinct findings of this rule within ${burst.windowMs / 1000} s: the rest are counted here` } } : enriched
      if (replication) occurrences.push({ id, event })
      return { id, apply: (previous: FindingState | undefined) => keep(written, fold(previous, event, id, options, now)) }
    })
    const commitOptions = replication && occurrences.length ? withOptions(ingestOptions, replication.occurrences(occurrences)) : ingestOptions
    const duplicate = await record(spool, items, sinks, commitOptions)
    if (!duplicate) hooks.committed?.([...written.values()])
    return { duplicate }
  }
}

/** Archives the finding an event belongs to: Security Hub gets RecordState ARCHIVED, PagerDuty a resolve. */
export function createResolver(options: AggregateOptions, spool: Pick<FindingLedger, 'record'>, sinks: Sinks, enrich: (event: SecurityEvent) => SecurityEvent = (e) => e, hooks: PipelineHooks = {}, replication?: Replication): Resolve {
  return async (original, ingestOptions = {}) => {
    const id = idFor(original, options)
    const event = trimForStorage(enrich(original))
    const written: Written = new Map()
    const now = Date.now()
    // With a shared store the finding may have been raised by another replica: the store archives it.
    const commitOptions = replication ? withOptions(ingestOptions, replication.resolution(id, event)) : ingestOptions
    await record(spool, [{ id, apply: (previous) => (previous && !previous.archived ? keep(written, archive(previous, event, now)) : undefined) }], sinks, commitOptions)
    hooks.committed?.([...written.values()])
    return written.size > 0
  }
}

/**
 * Each version of a finding once: the spool may fold again (a batch retried write by write), and
 * the hook gets the versions in the order they were first written. A finding's first version in a
 * request is keyed by its Id alone (the Id string is the memoised one: its hash is kept, no key is
 * built), its later versions by version and Id (an Id begins with "falconet/", so the keys never meet).
 */
type Written = Map<string, FindingState>

function keep(written: Written, state: FindingState): FindingState {
  const first = written.get(state.id)
  written.set(first === undefined || first.version === state.version ? state.id : `${state.version} ${state.id}`, state)
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
