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

export interface DeliveryQueue<T = unknown> {
  /** May answer asynchronously: a queue in a shared store (several replicas) is read over the network. */
  due(limit: number, now: number, ignoreResend: boolean): DueItems<T> | Promise<DueItems<T>>
  /** Delivered; returns per item how many occurrences the delivery covered (for the savings metrics). */
  acknowledge(items: QueuedItem<T>[], now: number): Promise<number[]>
  /** Dead-lettered: out of the queue without delivery. */
  discard(items: QueuedItem<T>[]): Promise<void>
  /** Items owed now (a store across the network may answer from a recent reading). */
  pending(): number
  onQueued(listener: () => void): () => void
}

export interface DueItems<T = unknown> {
  items: QueuedItem<T>[]
  /** When the next waiting item becomes due (epoch ms), if any is waiting. */
  nextDueAt: number | undefined
}

/** A queue answered from local storage (the LMDB spool): `due` is synchronous. */
export type LocalQueue<T = unknown> = Omit<DeliveryQueue<T>, 'due'> & { due(limit: number, now: number, ignoreResend: boolean): DueItems<T> }
