import { setTimeout as sleep } from 'node:timers/promises'
import { backoffMs } from '../delivery/backoff.js'
import { TokenBucket } from '../delivery/token-bucket.js'
import type { AuditEvent } from '../model/audit-event.js'
import { CommandError } from './command.js'
import { endpoint, networkReason, post, type Answer } from './client.js'
import type { InputRecord } from './input/records.js'

/**
 * Sends a file's records to a running falconet the way the real senders do: each Falco alert in
 * its own POST /falco (Falco's http_output), Fluent Bit records batched as a json_lines chunk to
 * /fluent-bit, audit events batched as an EventList to /k8s-audit (the API server's webhook).
 * 429 and 503 are back-pressure: wait Retry-After (or back off) and send the same body again.
 */
export interface SenderOptions {
  base: URL
  token: string | undefined
  /** Records per Fluent Bit chunk / audit events per EventList. */
  batch: number
  /** Events per second, all endpoints together. */
  rate: number | undefined
  /** Requests in flight at once (1: strictly in the file's order). */
  concurrency: number
  /** Resends of one request after 429/503 or a network error, before giving up on it. */
  retries: number
  /** A rejected request: its first line (or line range) and what falconet said. */
  onRejected(lines: string, answer: Answer): void
  /** Told before each wait, so the user knows why nothing moves. */
  onWait(reason: string, secs: number): void
}

export interface ReplayStats {
  requests: number
  /** Events in requests that got an answer (alerts, records, audit events). */
  sent: number
  accepted: number
  /** Accepted, but falconet had taken them before (a resent chunk, a known auditID). */
  duplicates: number
  /** Events by the HTTP status that refused them. */
  rejected: Record<number, number>
  /** Requests resent after 429/503 or a network error. */
  retried: number
}

/** The most a Retry-After is honoured for: a replay should not hang for hours on one answer. */
const MAX_WAIT_SECS = 300
const MAX_BATCH_BYTES = 4 * 1024 * 1024

export class ReplaySender {
  readonly stats: ReplayStats = { requests: 0, sent: 0, accepted: 0, duplicates: 0, rejected: {}, retried: 0 }
  readonly #options: SenderOptions
  readonly #bucket: TokenBucket | undefined
  #pending: { kind: 'fluent-bit' | 'k8s-audit'; texts: string[]; bytes: number; first: number; last: number } | undefined
  /** Whether falconet answered once: a refused connection at the start means it is not running. */
  #reached = false
  readonly #inFlight = new Set<Promise<void>>()
  /** Why the run must stop (falconet unreachable), raised at the next add or at finish. */
  #fatal: CommandError | undefined

  constructor(options: SenderOptions) {
    this.#options = options
    // A burst of a tenth of a second: smooth, without a timer per event at high rates.
    this.#bucket = options.rate ? new TokenBucket(options.rate, Math.max(1, Math.ceil(options.rate / 10))) : undefined
  }

  async add(record: Exclude<InputRecord, { kind: 'bad' }>): Promise<void> {
    switch (record.kind) {
      case 'falco':
        return this.#send('/falco', record.text, 'application/json', 1, String(record.line))
      case 'fluent-bit':
        return this.#queue('fluent-bit', [record.text], record.line)
      case 'k8s-audit':
        return this.#queue(
          'k8s-audit',
          record.events.map((e: AuditEvent) => JSON.stringify(e)),
          record.line,
        )
    }
  }

  /** Send what is still batched and wait for every answer. */
  async finish(): Promise<void> {
    await this.#flush()
    await Promise.all(this.#inFlight)
    if (this.#fatal) throw this.#fatal
  }

  /** Wait for the requests in flight (after Ctrl-C or a failure), without sending more. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight)
  }

  async #flush(): Promise<void> {
    const batch = this.#pending
    if (!batch) return
    this.#pending = undefined
    const lines = batch.first === batch.last ? String(batch.first) : `${batch.first}-${batch.last}`
    if (batch.kind === 'fluent-bit') {
      await this.#send('/fluent-bit', batch.texts.join('\n') + '\n', 'application/x-ndjson', batch.texts.length, lines)
    } else {
      await this.#send('/k8s-audit', `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${batch.texts.join(',')}]}`, 'application/json', batch.texts.length, lines)
    }
  }

  async #queue(kind: 'fluent-bit' | 'k8s-audit', texts: string[], line: number): Promise<void> {
    for (const text of texts) {
      if (this.#pending && (this.#pending.kind !== kind || this.#pending.bytes + text.length > MAX_BATCH_BYTES)) await this.#flush()
      this.#pending ??= { kind, texts: [], bytes: 0, first: line, last: line }
      this.#pending.texts.push(text)
      this.#pending.bytes += text.length + 1
      this.#pending.last = line
      if (this.#pending.texts.length >= this.#batchSize()) await this.#flush()
    }
  }

  /** With a rate, a batch holds at most a second's worth, so the rate is kept within each second. */
  #batchSize(): number {
    return this.#options.rate ? Math.max(1, Math.min(this.#options.batch, Math.floor(this.#options.rate))) : this.#options.batch
  }

  /** Waits for a free slot (and the rate), then sends without waiting for the answer. */
  async #send(path: string, body: string, contentType: string, events: number, lines: string): Promise<void> {
    if (this.#fatal) throw this.#fatal
    if (this.#bucket) for (let i = 0; i < events; i++) await this.#bucket.take()
    while (this.#inFlight.size >= this.#options.concurrency) await Promise.race(this.#inFlight)
    if (this.#fatal) throw this.#fatal
    const request = this.#deliver(endpoint(this.#options.base, path), body, contentType, events, lines).catch((err: unknown) => {
      this.#fatal ??= err instanceof CommandError ? err : new CommandError(String(err))
    })
    this.#inFlight.add(request)
    void request.finally(() => this.#inFlight.delete(request))
  }

  /** One request until it has a final answer: resent on 429/503 and network errors. */
  async #deliver(url: URL, body: string, contentType: string, events: number, lines: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let answer: Answer
      try {
        this.stats.requests++
        answer = await post(url, body, contentType, this.#options.token)
      } catch (err) {
        const reason = networkReason(err)
        if (!this.#reached) throw new CommandError(`cannot reach falconet at ${url}: ${reason} (is it running? --url sets where)`)
        if (attempt >= this.#options.retries) throw new CommandError(`gave up on ${url} after ${attempt + 1} attempts (line ${lines}): ${reason}`)
        await this.#wait(`${reason}; resending`, backoffMs(attempt, 1000, 30_000) / 1000)
        continue
      }
      this.#reached = true
      const backPressure = answer.status === 429 || answer.status === 503
      if (backPressure && attempt < this.#options.retries) {
        await this.#wait(`${answer.statusLine}; resending`, answer.retryAfterSecs ?? backoffMs(attempt, 1000, 30_000) / 1000)
        continue
      }
      this.#count(answer, events, lines)
      return
    }
  }

  async #wait(reason: string, secs: number): Promise<void> {
    const wait = Math.min(secs, MAX_WAIT_SECS)
    this.stats.retried++
    this.#options.onWait(reason, wait)
    await sleep(wait * 1000)
  }

  #count(answer: Answer, events: number, lines: string): void {
    this.stats.sent += events
    if (answer.status < 200 || answer.status >= 300) {
      this.stats.rejected[answer.status] = (this.stats.rejected[answer.status] ?? 0) + events
      this.#options.onRejected(lines, answer)
      return
    }
    this.stats.accepted += events
    // Fluent Bit: a resent chunk; audit: events whose auditID was taken before.
    const body = answer.json ?? {}
    if (body.duplicate === true) this.stats.duplicates += events
    else if (typeof body.duplicates === 'number') this.stats.duplicates += body.duplicates
  }
}
