import type { TSchema } from 'typebox'
import type { Logger } from 'pino'
import type { Finding } from '../model/finding.js'
import type { DeliveryConfig } from '../delivery/config.js'
import type { AsffContext } from '../asff/context.js'

/**
 * What a sink is: encode a finding, send a batch, say what happened. Everything else — batching,
 * rate limiting, retries with backoff, partial failures, dead letters, counting — is the delivery
 * layer's (src/delivery/), so every sink gets the same guarantees and none re-implements them.
 */
export interface Encoded {
  /** The finding Id, for logs and dead letters. */
  id: string
  /** Size of the payload as sent, for byte-limited batches. */
  bytes: number
  payload: unknown
}

export type SendOutcome =
  /** Every item was accepted. */
  | { kind: 'ok' }
  /** Nothing was accepted and trying again later may work (throttling, 5xx, network, credentials). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** Some items were refused individually (BatchImportFindings' FailedFindings). Indexes into the batch. */
  | { kind: 'partial'; failed: FailedItem[] }
  /** The request can never succeed as it is: every item goes to the dead-letter file. */
  | { kind: 'drop'; reason: string }

export interface FailedItem {
  index: number
  code: string
  message: string
  retryable: boolean
  /** The service was busy (429, 5xx), not refusing this item: retried like a whole request, never counted against it. */
  transient?: boolean
  retryAfterMs?: number
}

export interface Sink<T = Finding> {
  readonly id: string
  readonly delivery: DeliveryConfig
  /** Resolves once the sink can send (identity known, destination exists); retried on throw; aborted on shutdown. */
  start(signal: AbortSignal): Promise<void>
  encode(item: T): Encoded
  send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome>
  close?(): Promise<void>
}

export interface SinkDeps {
  dataDir: string
  logger: Logger
  /** The account / region / cluster facts every ASFF encoder needs, resolved once at start. */
  asffContext: (signal?: AbortSignal) => Promise<AsffContext>
}

/** One entry of the sink registry: its config slice and how to build it. */
export interface SinkDefinition<S extends TSchema = TSchema> {
  id: string
  description: string
  schema: S
  /** What it delivers: findings (default), or the raw audit events of the audit path. */
  consumes?: 'findings' | 'audit-events'
  create(config: any, deps: SinkDeps): Sink<any>
}
