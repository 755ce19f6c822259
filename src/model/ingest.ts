import type { SecurityEvent } from './event.js'
import type { AuditEvent } from './audit-event.js'
import type { Provenance } from './event.js'

/** Seconds a sender is asked to wait (Retry-After) when the pipeline cannot take its events now: the pipeline's and every source's 429/503. */
export const RETRY_AFTER_SECS = 5

/**
 * The functions sources are handed (built by the pipeline, src/pipeline/): they resolve once the
 * events are durably folded into their findings and queued for every sink, and sources answer
 * their client only then. Declared here, with the shapes they carry, so sources, the monitor and
 * the server depend on the model and never on the pipeline's implementation.
 */
export type Ingest = (events: SecurityEvent[], options?: IngestOptions) => Promise<IngestResult>

/** Committed with the findings, in the same transaction (the spool's record options). */
export interface IngestOptions {
  /** A hash of the request body: the same body again is acknowledged but not counted again. */
  dedupeKey?: string
  /** Keys to remember as taken (already checked as unseen by the caller), e.g. audit IDs. */
  markSeen?: readonly string[]
  /** Raw items for outboxes (the Falco bridge's feed, the occurrences a shared store has yet to merge). */
  outbox?: Outbox | Outbox[]
  /** Detector state (first-seen baselines, aws-auth content) that these findings came from. */
  state?: ReadonlyArray<{ key: string; value: unknown }>
}

export interface Outbox {
  name: string
  items: Array<{ id: string; value: unknown }>
}

export interface IngestResult {
  duplicate: boolean
}

/**
 * Archive the finding `event` belongs to (the same Id), with `event` — the recovery note — as its
 * latest occurrence. Resolves false when there is nothing active to archive.
 */
export type Resolve = (event: SecurityEvent, options?: IngestOptions) => Promise<boolean>

/** Audit events from any source → detectors → the spool, deduplicated on auditID. */
/** `provenance`: how the events were received (stamped on the findings they produce). */
export type AuditIngest = (events: AuditEvent[], provenance?: Provenance) => Promise<{ events: number; duplicates: number; findings: number; undetectable?: number }>
