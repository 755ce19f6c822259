import type { Encoded, Sink } from '../delivery/sink.js'
import type { FindingIndex } from './findings-index.js'

/**
 * A sink seen from outside: the same sink, whose outcomes are reported to the console index
 * (which version of which finding each sink acknowledged, and when). It wraps the Sink contract
 * only, so it does not depend on how the delivery layer queues or retries.
 */
export function trackDelivery<T>(sink: Sink<T>, index: Pick<FindingIndex, 'delivered' | 'sent'>, now: () => number = Date.now): Sink<T> {
  const versions = new WeakMap<Encoded, number>()
  return {
    id: sink.id,
    delivery: sink.delivery,
    start: (signal) => sink.start(signal),
    encode(item) {
      const encoded = sink.encode(item)
      const version = (item as { version?: unknown }).version
      if (typeof version === 'number') versions.set(encoded, version)
      return encoded
    },
    async send(batch, signal) {
      const outcome = await sink.send(batch, signal)
      index.sent(sink.id, batch.length)
      const failed = outcome.kind === 'partial' ? new Set(outcome.failed.map((f) => f.index)) : undefined
      if (outcome.kind === 'ok' || failed) {
        const acknowledged = batch.flatMap((e, i) => (failed?.has(i) || !versions.has(e) ? [] : [{ id: e.id, version: versions.get(e)! }]))
        if (acknowledged.length > 0) index.delivered(sink.id, acknowledged, now())
      }
      return outcome
    },
    ...(sink.close ? { close: () => sink.close!() } : {}),
  }
}
