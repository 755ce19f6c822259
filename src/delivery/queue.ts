/**
 * What a sink runner drains. Two kinds exist: a sink's queue of findings in the spool (changed
 * findings, most urgent first, re-sent at most once per interval), and an outbox of raw items
 * (audit events forwarded to Falco). The runner does not know which it drains.
 */
export interface QueuedItem<T = unknown> {
  /** For logs and dead letters (a finding Id, an auditID). */
  id: string
  value: T
  /** The version being delivered: a change that arrives meanwhile stays queued. */
  version?: number
}

export interface Due<T> {
  items: QueuedItem<T>[]
  nextDueAt: number | undefined
}

export interface DeliveryQueue<T = unknown> {
  /** Synchronous from the local spool; a promise from a shared store (src/cluster). */
  due(limit: number, now: number, ignoreResend: boolean): Due<T> | Promise<Due<T>>
  /** Delivered; returns per item how many occurrences the delivery covered (for the savings metrics). */
  acknowledge(items: QueuedItem<T>[], now: number): Promise<number[]>
  /** Dead-lettered: out of the queue without delivery. */
  discard(items: QueuedItem<T>[]): Promise<void>
  pending(): number
  onQueued(listener: () => void): () => void
}

/** A queue whose `due` answers at once (the local spool's). */
export interface LocalDeliveryQueue<T = unknown> extends DeliveryQueue<T> {
  due(limit: number, now: number, ignoreResend: boolean): Due<T>
}
