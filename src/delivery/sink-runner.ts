import { errorSummary } from '../aws/errors.js'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Encoded, FailedItem, SendOutcome, Sink } from './sink.js'
import { TokenBucket } from './token-bucket.js'
import { backoffMs } from './backoff.js'
import type { DeadLetter, DeadLetterFile } from './dead-letter.js'
import type { DeliveryQueue, QueuedItem } from './queue.js'
import type { DeliveryMetrics } from './metrics.js'

interface Item<T> {
  item: QueuedItem<T>
  encoded: Encoded
}

/**
 * Drives one sink from its queue (a queue of findings in the spool, or an outbox): takes what is due, batches it
 * by count and bytes, waits for the rate limit, sends, and acts on the outcome — acknowledge,
 * retry the whole batch with backoff, leave the retryable part of a partial failure queued,
 * dead-letter what can never succeed. The sink only encodes, sends and classifies.
 */
export class SinkRunner<T = unknown> {
  readonly sink: Sink<T>
  readonly #logger: Logger
  readonly #queue: DeliveryQueue<T>
  readonly #deadLetters: DeadLetterFile
  readonly #metrics: DeliveryMetrics
  readonly #bucket: { take(signal?: AbortSignal): Promise<void> }
  readonly #stop = new AbortController()
  /** Per finding: how often the service refused it individually with a retryable code. */
  readonly #refusals = new Map<string, number>()
  #ready = false
  #closing = false
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #failures = 0
  #unsubscribe: () => void
  #lastSuccessAt: number | undefined
  #lastError: { at: number; message: string } | undefined

  constructor(
    sink: Sink<T>,
    deps: {
      logger: Logger
      queue: DeliveryQueue<T>
      deadLetters: DeadLetterFile
      metrics: DeliveryMetrics
      /** The rate limit, when it is shared by several replicas (src/cluster); else one of this process. */
      bucket?: { take(signal?: AbortSignal): Promise<void> }
    },
  ) {
    this.sink = sink
    this.#logger = deps.logger.child({ sink: sink.id })
    this.#queue = deps.queue
    this.#deadLetters = deps.deadLetters
    this.#metrics = deps.metrics
    this.#bucket = deps.bucket ?? new TokenBucket(sink.delivery.rateLimit.requestsPerSecond, sink.delivery.rateLimit.burst)
    this.#unsubscribe = this.#queue.onQueued(() => this.#wake?.())
  }

  get ready(): boolean {
    return this.#ready
  }

  get pending(): number {
    return this.#queue.pending()
  }

  /** For GET /api/status: when this sink last delivered, and its latest failure. */
  get lastSuccessAt(): number | undefined {
    return this.#lastSuccessAt
  }

  get lastError(): { at: number; message: string } | undefined {
    return this.#lastError
  }

  #failed(message: string): void {
    this.#lastError = { at: Date.now(), message }
  }

  start(): void {
    this.#loop ??= this.#run().catch((err) => {
      this.#logger.error({ err }, 'sink runner stopped unexpectedly')
    })
  }

  /**
   * Send everything queued — resend intervals ignored — for up to `graceMs`. What is still
   * queued then stays in the spool and is delivered after the next start.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true
    this.start()
    this.#wake?.()
    const outcome = await Promise.race([this.#loop!.then(() => 'done'), sleep(graceMs, 'timeout', { ref: false })])
    if (outcome !== 'done') {
      this.#stop.abort()
      // Everything the loop awaits honours the abort; the bound is for a sink that does not.
      await Promise.race([this.#loop, sleep(2_000, undefined, { ref: false })])
      this.#logger.warn({ pending: this.pending }, 'shutdown grace period over: the rest stays in the spool for the next start')
    }
    this.#unsubscribe()
    await this.sink.close?.()
  }

  async #run(): Promise<void> {
    await this.#startSink()
    const { maxItems, flushIntervalMs } = this.sink.delivery.batch
    let batchOpenedAt: number | undefined
    while (!this.#stop.signal.aborted) {
      try {
        batchOpenedAt = await this.#step(batchOpenedAt, maxItems, flushIntervalMs)
      } catch (err) {
        // A bug must not stop delivery for good: log it, wait, and go on (findings stay queued).
        this.#logger.error({ err: errorSummary(err) }, 'delivery step failed')
        await this.#backoff('delivery step failed')
      }
    }
  }

  /** One pass: wait for due work or a fuller batch, or send one batch. Returns the batch-open time. */
  async #step(batchOpenedAt: number | undefined, maxItems: number, flushIntervalMs: number): Promise<number | undefined> {
    const now = Date.now()
    const { items, nextDueAt } = await this.#queue.due(maxItems, now, this.#closing)
    if (items.length === 0) {
      if (this.#closing) {
        this.#stop.abort() // drained: the loop ends
        return undefined
      }
      await this.#idle(nextDueAt === undefined ? undefined : nextDueAt - now)
      return undefined
    }
    // Let a batch fill for up to flushIntervalMs after its first item became due.
    const opened = batchOpenedAt ?? now
    if (!this.#closing && items.length < maxItems && now - opened < flushIntervalMs) {
      await this.#idle(opened + flushIntervalMs - now)
      return opened
    }
    const batch = await this.#encode(items)
    if (batch.length > 0) await this.#deliver(batch)
    return undefined
  }

  async #startSink(): Promise<void> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        await this.sink.start(this.#stop.signal)
        this.#ready = true
        return
      } catch (err) {
        const wait = backoffMs(attempt, this.sink.delivery.retry.initialBackoffMs, this.sink.delivery.retry.maxBackoffMs)
        this.#failed(`cannot start: ${errorSummary(err).message}`)
        this.#logger.error({ err: errorSummary(err), retryInMs: wait }, 'sink cannot start yet')
        await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
      }
    }
  }

  /** Until new work is queued, close() is called, or `ms` pass (no `ms`: no timeout). */
  #idle(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal
      let timer: NodeJS.Timeout | undefined
      const done = () => {
        signal.removeEventListener('abort', done)
        if (timer) clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
      if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms))
    })
  }

  /** Encode and cut by bytes; an item that alone exceeds a request can never be sent. */
  async #encode(items: QueuedItem<T>[]): Promise<Item<T>[]> {
    const { maxBytes } = this.sink.delivery.batch
    const batch: Item<T>[] = []
    let bytes = 0
    for (const item of items) {
      let encoded: Encoded
      try {
        encoded = this.sink.encode(item.value)
      } catch (err) {
        await this.#deadLetter([{ item, encoded: { id: item.id, bytes: 0, payload: item.value } }], 'EncodeFailed', errorSummary(err).message)
        continue
      }
      if (encoded.bytes > maxBytes) {
        await this.#deadLetter([{ item, encoded }], 'TooLarge', `${encoded.bytes} bytes is more than one request may carry (${maxBytes})`)
        continue
      }
      if (batch.length > 0 && bytes + encoded.bytes > maxBytes) break
      bytes += encoded.bytes
      batch.push({ item, encoded })
    }
    return batch
  }

  async #deliver(batch: Item<T>[]): Promise<void> {
    await this.#bucket.take(this.#stop.signal).catch(() => {})
    if (this.#stop.signal.aborted) return
    const started = performance.now()
    const outcome = await this.#send(batch)
    this.#metrics.request(this.sink.id, outcome.kind, (performance.now() - started) / 1000)
    switch (outcome.kind) {
      case 'ok':
        this.#failures = 0
        await this.#acknowledge(batch)
        return
      case 'retry':
        this.#metrics.retried(this.sink.id, batch.length)
        await this.#backoff(outcome.reason, outcome.retryAfterMs)
        return
      case 'partial':
        await this.#partial(batch, outcome.failed)
        return
      case 'drop':
        // One bad finding must not take 99 good ones with it: halve until it is alone.
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2)
          await this.#deliver(batch.slice(0, half))
          await this.#deliver(batch.slice(half))
        } else {
          await this.#deadLetter(batch, 'Rejected', outcome.reason)
        }
        return
    }
  }

  async #send(batch: Item<T>[]): Promise<SendOutcome> {
    const timeout = AbortSignal.timeout(this.sink.delivery.requestTimeoutMs)
    const signal = AbortSignal.any([timeout, this.#stop.signal])
    try {
      return await this.sink.send(
        batch.map((i) => i.encoded),
        signal,
      )
    } catch (err) {
      // A sink should classify its own errors; anything that escapes is treated as temporary.
      return { kind: 'retry', reason: timeout.aborted ? 'request timed out' : errorSummary(err).message }
    }
  }

  async #acknowledge(items: Item<T>[]): Promise<void> {
    if (items.length === 0) return
    this.#lastSuccessAt = Date.now()
    const covered = await this.#queue.acknowledge(
      items.map((i) => i.item),
      Date.now(),
    )
    items.forEach((i, n) => {
      this.#refusals.delete(i.item.id)
      this.#metrics.delivered(this.sink.id, covered[n] ?? 1, i.encoded.bytes)
    })
  }

  async #partial(batch: Item<T>[], failed: FailedItem[]): Promise<void> {
    const failedAt = new Map(failed.map((f) => [f.index, f]))
    await this.#acknowledge(batch.filter((_, i) => !failedAt.has(i)))
    let retrying = 0
    let retryAfterMs: number | undefined
    for (const [index, f] of failedAt) {
      const entry = batch[index]
      if (!entry) continue
      if (f.transient) {
        retrying++ // stays queued; the service was busy, this item was not refused
        retryAfterMs = Math.max(retryAfterMs ?? 0, f.retryAfterMs ?? 0) || undefined
        continue
      }
      const attempts = (this.#refusals.get(entry.item.id) ?? 0) + 1
      this.#refusals.set(entry.item.id, attempts)
      if (f.retryable && attempts < this.sink.delivery.retry.maxAttemptsPerItem) {
        retrying++ // stays queued
      } else {
        this.#refusals.delete(entry.item.id)
        await this.#deadLetter([entry], f.code, f.retryable ? `${f.message} (still failing after ${attempts} attempts)` : f.message)
      }
    }
    if (retrying > 0) {
      this.#metrics.retried(this.sink.id, retrying)
      await this.#backoff(`${retrying} findings not delivered yet (busy service or retryable code)`, retryAfterMs)
    }
  }

  async #backoff(reason: string, retryAfterMs?: number): Promise<void> {
    const { initialBackoffMs, maxBackoffMs } = this.sink.delivery.retry
    const wait = Math.max(retryAfterMs ?? 0, backoffMs(this.#failures++, initialBackoffMs, maxBackoffMs))
    this.#failed(reason)
    this.#logger.warn({ reason, retryInMs: wait, pending: this.pending }, 'delivery failed, will retry')
    await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
  }

  async #deadLetter(items: Item<T>[], code: string, reason: string): Promise<void> {
    this.#metrics.deadLettered(this.sink.id, items.length)
    this.#failed(`${code}: ${reason}`)
    // The queued item too (the finding, or the audit event): what a redrive queues again.
    const letters: DeadLetter[] = items.map((i) => ({ findingId: i.item.id, code, reason, payload: i.encoded.payload, item: i.item.value }))
    try {
      await this.#deadLetters.write(this.sink.id, letters)
      await this.#queue.discard(items.map((i) => i.item))
    } catch (err) {
      // Not written: leave them queued rather than lose them.
      this.#logger.error({ err: errorSummary(err), findingIds: letters.map((l) => l.findingId) }, 'cannot write dead letters; findings stay queued')
    }
  }
}
