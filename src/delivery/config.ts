import { Type, type Static, type TProperties } from 'typebox'

/**
 * The delivery settings every sink shares (batching, rate limit, retry). Each sink composes this
 * with defaults fitted to its service's documented limits, so a new sink writes no delivery code.
 */
export interface DeliveryDefaults {
  maxItems: number
  maxBytes: number
  flushIntervalMs: number
  requestsPerSecond: number
  burst: number
  initialBackoffMs?: number
  maxBackoffMs?: number
  maxAttemptsPerItem?: number
  resendIntervalMs?: number
}

export function deliverySchema(d: DeliveryDefaults) {
  return Type.Object(
    {
      batch: Type.Object(
        {
          maxItems: Type.Integer({ minimum: 1, maximum: d.maxItems, default: d.maxItems, description: 'Most items in one request.' }),
          maxBytes: Type.Integer({ minimum: 1024, maximum: d.maxBytes, default: d.maxBytes, description: 'Most bytes of payload in one request.' }),
          flushIntervalMs: Type.Integer({
            minimum: 0,
            default: d.flushIntervalMs,
            description: 'Longest a ready item waits for its batch to fill before it is sent.',
          }),
        },
        { default: {} },
      ),
      rateLimit: Type.Object(
        {
          requestsPerSecond: Type.Number({ exclusiveMinimum: 0, default: d.requestsPerSecond, description: 'Sustained request rate.' }),
          burst: Type.Integer({ minimum: 1, default: d.burst, description: 'Requests allowed at once after an idle period.' }),
        },
        { default: {} },
      ),
      retry: Type.Object(
        {
          initialBackoffMs: Type.Integer({ minimum: 1, default: d.initialBackoffMs ?? 500, description: 'First wait after a failed request (full jitter).' }),
          maxBackoffMs: Type.Integer({ minimum: 1, default: d.maxBackoffMs ?? 60_000, description: 'Longest wait between retries; whole-request failures are retried for ever.' }),
          maxAttemptsPerItem: Type.Integer({
            minimum: 1,
            default: d.maxAttemptsPerItem ?? 100,
            description: 'Attempts for an item the service rejected individually with a retryable code before it is dead-lettered.',
          }),
        },
        { default: {} },
      ),
      resendIntervalMs: Type.Integer({
        minimum: 0,
        default: d.resendIntervalMs ?? 60_000,
        description: 'Storm control: a finding already delivered is delivered again (with its new count) at most this often. New findings go at once.',
      }),
      requestTimeoutMs: Type.Integer({ minimum: 100, default: 15_000, description: 'Abort a request that takes longer.' }),
    },
    { default: {} },
  )
}

export type DeliveryConfig = Static<ReturnType<typeof deliverySchema>>

/**
 * A sink's whole config slice: `enabled`, its own settings, and the shared delivery settings with
 * defaults fitted to the service. Every sink declares its config through this.
 */
export function sinkSchema<P extends TProperties>(options: { enabled: boolean; enabledHelp?: string }, defaults: DeliveryDefaults, own: P) {
  return Type.Object(
    {
      enabled: Type.Boolean({ default: options.enabled, ...(options.enabledHelp ? { description: options.enabledHelp } : {}) }),
      ...own,
      ...deliverySchema(defaults).properties,
    },
    { default: {} },
  )
}
