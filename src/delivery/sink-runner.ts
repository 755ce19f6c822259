import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Encoded, FailedItem, SendOutcome, Sink } from '../sinks/sink.js'
import { TokenBucket } from './token-bucket.js'
import { backoffMs } from './backoff.js'
import type { DeadLetter, DeadLetterFile } from './dead-letter.js'
import type { Due, Spool } from './spool.js'
import { toFinding } from '../aggregate/aggregator.js'
import type { DeliveryMetrics } from './metrics.js'

interface Item {
  due: Due
  encoded: Encoded
}

/**
 * Drives one sink from its queue in the spool: takes what is due (most urgent first), batches it
 * by count and bytes, waits for the rate limit, sends, and acts on the outcome — acknowledge,
 * retry the whole batch with backoff, leave the retryable part of a partial failure queued,
 * dead-letter what can never succeed. The sink only encodes, sends and classifies.
 */
export class SinkRunner {
  readonly sink: Sink
  readonly #logger: Logger
  readonly #spool: Spool
  readonly #deadLetters: DeadLetterFile
  readonly #metrics: DeliveryMetrics
  readonly #bucket: TokenBucket
  readonly #stop = new AbortController()
  /** Per finding: how often the service refused it individually with a retryable code. */
  readonly #refusals = new Map<string, number>()
  #ready = false
  #closing = false
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #failures = 0
  #unsubscribe: () => void

  constructor(sink: Sink, deps: { logger: Logger; spool: Spool; deadLetters: DeadLetterFile; metrics: DeliveryMetrics }) {
    this.sink = sink
    this.#logger = deps.logger.child({ sink: sink.id })
    this.#spool = deps.spool
    this.#deadLetters = deps.deadLetters
    this.#metrics = deps.metrics
    this.#bucket = new TokenBucket(sink.delivery.rateLimit.requestsPerSecond, sink.delivery.rateLimit.burst)
    this.#unsubscribe = this.#spool.onQueued(() => this.#wake?.())
  }

  get ready(): boolean {
    return this.#ready
  }

  get pending(): number {
    return this.#spool.pendingCount(this.sink.id)
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
    const { items, nextDueAt } = this.#spool.due(this.sink.id, maxItems, now, this.#closing)
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
  async #encode(items: Due[]): Promise<Item[]> {
    const { maxBytes } = this.sink.delivery.batch
    const batch: Item[] = []
    let bytes = 0
    for (const due of items) {
      let encoded: Encoded
      try {
        encoded = this.sink.encode(toFinding(due.state))
      } catch (err) {
        const finding = toFinding(due.state)
        await this.#deadLetter([{ due, encoded: { id: finding.id, bytes: 0, payload: finding } }], 'EncodeFailed', errorSummary(err).message)
        continue
      }
      if (encoded.bytes > maxBytes) {
        await this.#deadLetter([{ due, encoded }], 'TooLarge', `${encoded.bytes} bytes is more than one request may carry (${maxBytes})`)
        continue
      }
      if (batch.length > 0 && bytes + encoded.bytes > maxBytes) break
      bytes += encoded.bytes
      batch.push({ due, encoded })
    }
    return batch
  }

  async #deliver(batch: Item[]): Promise<void> {
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

  async #send(batch: Item[]): Promise<SendOutcome> {
    const timeout = AbortSignal.timeout(this.sink.delivery.requestTimeoutMs)
    const signal = AbortSignal.any([timeout, this.#stop.signal])
    try {
      return await this.sink.send(batch.map((i) => i.encoded), signal)
    } catch (err) {
      // A sink should classify its own errors; anything that escapes is treated as temporary.
      return { kind: 'retry', reason: timeout.aborted ? 'request timed out' : String((err as Error)?.message ?? err) }
    }
  }

  async #acknowledge(items: Item[]): Promise<void> {
    if (items.length === 0) return
    const covered = await this.#spool.acknowledge(
      this.sink.id,
      items.map((i) => ({ id: i.due.state.id, version: i.due.state.version })),
      Date.now(),
    )
    items.forEach((item, n) => {
      this.#refusals.delete(item.due.state.id)
      this.#metrics.delivered(this.sink.id, covered[n] ?? 1, item.encoded.bytes)
    })
  }

  async #partial(batch: Item[], failed: FailedItem[]): Promise<void> {
    const failedAt = new Map(failed.map((f) => [f.index, f]))
    await this.#acknowledge(batch.filter((_, i) => !failedAt.has(i)))
    let retrying = 0
    for (const [index, f] of failedAt) {
      const item = batch[index]
      if (!item) continue
      const attempts = (this.#refusals.get(item.due.state.id) ?? 0) + 1
      this.#refusals.set(item.due.state.id, attempts)
      if (f.retryable && attempts < this.sink.delivery.retry.maxAttemptsPerItem) {
        retrying++ // stays queued in the spool
      } else {
        this.#refusals.delete(item.due.state.id)
        await this.#deadLetter([item], f.code, f.retryable ? `${f.message} (still failing after ${attempts} attempts)` : f.message)
      }
    }
    if (retrying > 0) {
      this.#metrics.retried(this.sink.id, retrying)
      await this.#backoff(`${retrying} findings refused with a retryable code`)
    }
  }

  async #backoff(reason: string, retryAfterMs?: number): Promise<void> {
    const { initialBackoffMs, maxBackoffMs } = this.sink.delivery.retry
    const wait = Math.max(retryAfterMs ?? 0, backoffMs(this.#failures++, initialBackoffMs, maxBackoffMs))
    this.#logger.warn({ reason, retryInMs: wait, pending: this.pending }, 'delivery failed, will retry')
    await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
  }

  async #deadLetter(items: Item[], code: string, reason: string): Promise<void> {
    this.#metrics.deadLettered(this.sink.id, items.length)
    const letters: DeadLetter[] = items.map((i) => ({ findingId: i.due.state.id, code, reason, payload: i.encoded.payload }))
    try {
      await this.#deadLetters.write(this.sink.id, letters)
      await this.#spool.discard(this.sink.id, letters.map((l) => l.findingId))
    } catch (err) {
      // Not written: leave them queued rather than lose them.
      this.#logger.error({ err: errorSummary(err), findingIds: letters.map((l) => l.findingId) }, 'cannot write dead letters; findings stay queued')
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
