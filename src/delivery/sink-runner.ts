import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Finding } from '../model/finding.js'
import type { Encoded, FailedItem, SendOutcome, Sink } from '../sinks/sink.js'
import { TokenBucket } from './token-bucket.js'
import { backoffMs } from './backoff.js'
import type { DeadLetter, DeadLetterFile } from './dead-letter.js'

interface Entry {
  finding: Finding
  /** Times the service refused this item individually with a retryable code. */
  attempts: number
  encoded?: Encoded
}

export interface RunnerStats {
  requests: number
  delivered: number
  retriedRequests: number
  retriedItems: number
  deadLettered: number
}

/**
 * Drives one sink: batches findings by count, bytes and age; waits for the rate limit; sends;
 * and acts on the outcome — retry the whole batch with backoff, re-queue the retryable part of a
 * partial failure, dead-letter what can never succeed. The sink only encodes, sends and classifies.
 */
export class SinkRunner {
  readonly sink: Sink
  readonly stats: RunnerStats = { requests: 0, delivered: 0, retriedRequests: 0, retriedItems: 0, deadLettered: 0 }
  readonly #logger: Logger
  readonly #deadLetters: DeadLetterFile
  readonly #bucket: TokenBucket
  readonly #stop = new AbortController()
  #queue: Entry[] = []
  #inFlight: Entry[] = []
  #ready = false
  #closing = false
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #failures = 0
  /** Dead-letter writes started outside the loop (enqueue); close() waits for them. */
  readonly #writes = new Set<Promise<void>>()

  constructor(sink: Sink, deps: { logger: Logger; deadLetters: DeadLetterFile }) {
    this.sink = sink
    this.#logger = deps.logger.child({ sink: sink.id })
    this.#deadLetters = deps.deadLetters
    this.#bucket = new TokenBucket(sink.delivery.rateLimit.requestsPerSecond, sink.delivery.rateLimit.burst)
  }

  get ready(): boolean {
    return this.#ready
  }

  get pending(): number {
    return this.#queue.length + this.#inFlight.length
  }

  start(): void {
    this.#loop ??= this.#run().catch((err) => {
      if (!this.#stop.signal.aborted) this.#logger.error({ err }, 'sink runner stopped unexpectedly')
    })
  }

  enqueue(finding: Finding): void {
    if (this.#queue.length >= this.sink.delivery.queueLimit) {
      this.#track(this.#deadLetter([{ finding, attempts: 0 }], 'QueueFull', `more than ${this.sink.delivery.queueLimit} findings waiting for ${this.sink.id}`))
      return
    }
    this.#queue.push({ finding, attempts: 0 })
    this.#wake?.()
  }

  /** Flush what is pending for up to `graceMs`; what is still undelivered then is dead-lettered. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true
    this.#wake?.()
    this.start()
    const timer = sleep(graceMs, 'timeout', { ref: false })
    const outcome = await Promise.race([this.#loop!.then(() => 'done'), timer])
    if (outcome !== 'done') {
      this.#stop.abort()
      await this.#loop
    }
    const left = [...this.#inFlight, ...this.#queue]
    this.#inFlight = []
    this.#queue = []
    if (left.length > 0) await this.#deadLetter(left, 'Shutdown', `not delivered within the ${graceMs} ms shutdown grace period`)
    await Promise.all(this.#writes)
    await this.sink.close?.()
  }

  async #run(): Promise<void> {
    await this.#startSink()
    const signal = this.#stop.signal
    while (!signal.aborted) {
      if (this.#queue.length === 0) {
        if (this.#closing) return
        await this.#idle()
        continue
      }
      await this.#waitForBatch()
      if (signal.aborted) return
      const batch = this.#takeBatch()
      if (batch.length === 0) continue
      await this.#bucket.take(signal)
      await this.#deliver(batch)
    }
  }

  async #startSink(): Promise<void> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        await this.sink.start()
        this.#ready = true
        return
      } catch (err) {
        const wait = backoffMs(attempt, this.sink.delivery.retry.initialBackoffMs, this.sink.delivery.retry.maxBackoffMs)
        this.#logger.error({ err: errorSummary(err), retryInMs: wait }, 'sink cannot start yet')
        await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
      }
    }
  }

  /** Resolves on the next enqueue or close (or stop); `#wake()` also cancels a pending idle. */
  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal
      const done = () => {
        signal.removeEventListener('abort', done)
        this.#wake = undefined
        resolve()
      }
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Let a batch fill for up to flushIntervalMs after its oldest item arrived, unless it is full. */
  async #waitForBatch(): Promise<void> {
    const { maxItems, flushIntervalMs } = this.sink.delivery.batch
    if (this.#closing || flushIntervalMs === 0 || this.#queue.length >= maxItems) return
    const deadline = Date.now() + flushIntervalMs
    while (!this.#closing && this.#queue.length < maxItems && Date.now() < deadline) {
      await Promise.race([this.#idle(), sleep(Math.max(0, deadline - Date.now()))])
      this.#wake?.()
    }
  }

  #takeBatch(): Entry[] {
    const { maxItems, maxBytes } = this.sink.delivery.batch
    const batch: Entry[] = []
    let bytes = 0
    while (this.#queue.length > 0 && batch.length < maxItems) {
      const entry = this.#queue[0]!
      entry.encoded ??= this.sink.encode(entry.finding)
      if (entry.encoded.bytes > maxBytes) {
        this.#queue.shift()
        this.#track(this.#deadLetter([entry], 'TooLarge', `${entry.encoded.bytes} bytes is more than one request may carry (${maxBytes})`))
        continue
      }
      if (batch.length > 0 && bytes + entry.encoded.bytes > maxBytes) break
      bytes += entry.encoded.bytes
      batch.push(this.#queue.shift()!)
    }
    this.#inFlight = batch
    return batch
  }

  async #deliver(batch: Entry[]): Promise<void> {
    this.stats.requests++
    const outcome = await this.#send(batch)
    this.#inFlight = []
    switch (outcome.kind) {
      case 'ok':
        this.#failures = 0
        this.stats.delivered += batch.length
        return
      case 'retry':
        this.stats.retriedRequests++
        this.#queue.unshift(...batch)
        await this.#backoff(outcome.reason, outcome.retryAfterMs)
        return
      case 'partial':
        await this.#partial(batch, outcome.failed)
        return
      case 'drop':
        await this.#deadLetter(batch, 'Rejected', outcome.reason)
        return
    }
  }

  async #send(batch: Entry[]): Promise<SendOutcome> {
    const timeout = AbortSignal.timeout(this.sink.delivery.requestTimeoutMs)
    const signal = AbortSignal.any([timeout, this.#stop.signal])
    try {
      return await this.sink.send(
        batch.map((e) => e.encoded!),
        signal,
      )
    } catch (err) {
      // A sink should classify its own errors; anything that escapes is treated as temporary.
      return { kind: 'retry', reason: timeout.aborted ? 'request timed out' : String((err as Error)?.message ?? err) }
    }
  }

  async #partial(batch: Entry[], failed: FailedItem[]): Promise<void> {
    const failedIndexes = new Set(failed.map((f) => f.index))
    this.stats.delivered += batch.length - failedIndexes.size
    const retry: Entry[] = []
    for (const f of failed) {
      const entry = batch[f.index]
      if (!entry) continue
      entry.attempts++
      if (f.retryable && entry.attempts < this.sink.delivery.retry.maxAttemptsPerItem) {
        retry.push(entry)
      } else {
        const why = f.retryable ? `${f.message} (still failing after ${entry.attempts} attempts)` : f.message
        await this.#deadLetter([entry], f.code, why)
      }
    }
    if (retry.length > 0) {
      this.stats.retriedItems += retry.length
      this.#queue.unshift(...retry)
      await this.#backoff(`${retry.length} findings refused with a retryable code`)
    } else {
      this.#failures = 0
    }
  }

  async #backoff(reason: string, retryAfterMs?: number): Promise<void> {
    const { initialBackoffMs, maxBackoffMs } = this.sink.delivery.retry
    const wait = Math.max(retryAfterMs ?? 0, backoffMs(this.#failures++, initialBackoffMs, maxBackoffMs))
    this.#logger.warn({ reason, retryInMs: wait, pending: this.pending }, 'delivery failed, will retry')
    await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
  }

  #track(write: Promise<void>): void {
    this.#writes.add(write)
    void write.finally(() => this.#writes.delete(write))
  }

  async #deadLetter(entries: Entry[], code: string, reason: string): Promise<void> {
    this.stats.deadLettered += entries.length
    const letters: DeadLetter[] = entries.map((e) => ({
      findingId: e.finding.id,
      code,
      reason,
      payload: e.encoded?.payload ?? e.finding,
    }))
    try {
      await this.#deadLetters.write(this.sink.id, letters)
    } catch (err) {
      this.#logger.error({ err: errorSummary(err), findingIds: letters.map((l) => l.findingId) }, 'cannot write dead letters')
    }
  }
}

/** Error name and message only: SDK errors carry request objects that must not reach a log line. */
export function errorSummary(err: unknown): { name?: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code
    return { name: err.name, message: err.message, ...(code ? { code } : {}) }
  }
  return { message: String(err) }
}
