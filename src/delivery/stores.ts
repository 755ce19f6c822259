import type { FindingState } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import type { DeliveryQueue } from './queue.js'
import type { IngestOptions } from '../model/ingest.js'

/**
 * The two stores behind delivery, as the rest of falconet sees them. The local LMDB spool
 * (`delivery/spool/`) implements both; a shared store for several replicas (Valkey) implements the
 * same two beside it. Everything is asynchronous and batched, so an implementation may sit across
 * a network; the LMDB one answers from one local write transaction.
 *
 * What a finding *is* stays outside: how it folds (`apply`), how urgent it is (`rank`) and what
 * its archived version looks like (`closeWindow`) are handed in by the aggregator's side.
 */

/** One finding to change: `apply` gets its stored state (undefined: none) and returns the next, or undefined for "unchanged". */
export interface FindingChange {
  id: string
  apply: (previous: FindingState | undefined) => FindingState | undefined
}

/** Which sinks a changed finding is owed to: fixed, or chosen per finding (routing). */
export type SinksFor = readonly string[] | ((finding: FindingState) => readonly string[])

/** What a write commits besides the findings, atomically with them (the ingest options). */
export type RecordOptions = IngestOptions

/** What a finding is, as far as storing and queueing it goes: handed in, never re-implemented. */
export interface FindingPolicy {
  /** Queue order: 0 is the most urgent; `ranks` is how many there are. */
  rank(state: FindingState): number
  ranks: number
  /** The version sent when a finding's window closed with no repeat (Security Hub ARCHIVED, a resolve). */
  closeWindow(state: FindingState, now: number): FindingState
  /** The aggregation window: idle longer than this (falconet's clock, FindingState.changedAt) and it closes. */
  windowMs: number
  /** Sinks that track a finding's life and so get its archived version. */
  tracksLifecycle(sink: string): boolean
}

/**
 * Findings and the per-sink queues of their versions. The delivery promise lives here: a finding
 * version is queued for a sink unless that sink already delivered that version; acknowledging
 * version v takes it out, and a newer version that arrived meanwhile stays owed (due again after
 * the sink's resend interval).
 */
export interface FindingLedger {
  /**
   * Fold changes into findings and queue each changed finding for its sinks, atomically with
   * `options`; resolves once durable. With `dedupeKey`, a body seen before changes nothing and
   * resolves true (duplicate). Rejects with SpoolFullError, having written nothing, at the budget.
   */
  record(changes: FindingChange[], sinks: SinksFor, options?: RecordOptions): Promise<boolean>
  /** The queue one sink's runner drains. */
  findingQueue(sink: string): DeliveryQueue<Finding>
  /** Findings owed to `sink` (the readiness and status figures). */
  pendingCount(sink: string): number
  /** Epoch ms since when the longest-owed finding of `sink` is owed; undefined when none is. */
  oldestPendingAt(sink: string): number | undefined
  /** Called whenever new work is queued. */
  onQueued(listener: () => void): () => void
}

/** Housekeeping, one bounded step per call: its cost never grows with the size of the store. */
export interface Housekeeping {
  housekeep(now: number, budget?: Partial<StepBudget>): Promise<HousekeepingStep>
}

export interface StepBudget {
  /** Most findings looked at per step (closing windows, forgetting). */
  findings: number
  /** Most seen-key buckets dropped per step. */
  seenBuckets: number
}

export interface HousekeepingStep {
  /** Findings looked at: at most the step budget. */
  visited: number
  /** Archived versions queued for lifecycle sinks. */
  archived: number
  /** Findings forgotten because their window closed and nothing is owed. */
  forgotten: number
  /** Delivered findings forgotten early to make room (budget pressure). */
  gaveWay: number
  /** Seen-key buckets dropped (expired, or the seen keys' own budget reached). */
  seenBucketsDropped: number
}
