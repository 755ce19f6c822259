import type { Static, TSchema } from 'typebox'
import type { Logger } from 'pino'
import type { Finding } from '../model/finding.js'
import type { DeliveryConfig } from './config.js'
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
  /**
   * One rule for every id (also in docs/configuration.md, from config/docs.ts): a built-in sink's id is its camelCase config key
   * (`securityHub`, `cloudwatchLogs`, `eventBridge`: `sinks.<id>`, env FALCONET__SINKS__<ID_IN_SNAKE_CASE>__*);
   * a receiver's is `receiver-` + the name the user gave it (`receiver-slack-sec`): user names are
   * kept as written, and the prefix keeps them apart from the built-in ids. The id names the sink's
   * data and figures: its spool queue and delivery records, its dead-letter file
   * (`dead-letter/<id>.jsonl`), its queue in the shared store, the `sink` metric label, the
   * `--sink` of `falconet dead-letters`. A renamed id is listed in delivery/renamed-sinks.ts,
   * which moves what was written under the old one.
   */
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
  /** The account / region / cluster facts every ASFF encoder needs, resolved once at start by the root. */
  asffContext: (signal?: AbortSignal) => Promise<AsffContext>
}

/**
 * What a sink needs from the AWS settings. The composition root takes the union over every enabled
 * sink and resolves it once at start: a needed region must be configured (never guessed), a needed
 * account is looked up with sts:GetCallerIdentity when not configured, and start-up fails with the
 * setting to fix when either cannot be had.
 */
export interface SinkNeeds {
  region?: boolean
  accountId?: boolean
}

/**
 * One entry of the sink registry: its config slice, what it needs, and how to build it. `needs` and
 * `create` are methods so a definition for one schema is also a `SinkDefinition` (the registry's
 * list): each is called with the slice its own schema validated.
 */
export interface SinkDefinition<S extends TSchema = TSchema, I extends string = string> {
  id: I
  description: string
  schema: S
  /** What it delivers: findings (default), or the raw audit events of the audit path. */
  consumes?: 'findings' | 'audit-events'
  /** AWS settings it needs, given its config (e.g. CloudWatch Logs needs the account only for ASFF). */
  needs?(config: Static<S>): SinkNeeds
  /** Gets a finding's archived version when its window closes (Security Hub's RecordState ARCHIVED). */
  tracksLifecycle?: boolean
  create(config: Static<S>, deps: SinkDeps): Sink<unknown>
}

/** A sink's behaviour: `defineSink` adds its id and delivery settings, so neither is written twice. */
export type SinkBody<T> = Omit<Sink<T>, 'id' | 'delivery'>

/**
 * Declares a sink: the registry entry from its id, schema and a `create` that returns only the
 * sink's behaviour (start, encode, send, close).
 */
export function defineSink<S extends TSchema, T = Finding, const I extends string = string>(definition: Omit<SinkDefinition<S, I>, 'create'> & { create(config: Static<S>, deps: SinkDeps): SinkBody<T> }): SinkDefinition<S, I> {
  return {
    ...definition,
    create(config, deps): Sink<T> {
      const body = definition.create(config, deps)
      return {
        id: definition.id,
        delivery: config as DeliveryConfig,
        start: (signal) => body.start(signal),
        encode: (item) => body.encode(item),
        send: (batch, signal) => body.send(batch, signal),
        ...(body.close ? { close: () => body.close!() } : {}),
      }
    },
  }
}
