import { readFile, rename, writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { TokenBucket } from '../delivery/token-bucket.js'
import { backoffMs } from '../delivery/backoff.js'
import { classifyAwsError } from '../aws/errors.js'
import type { AuditIngest } from '../model/ingest.js'
import type { AuditEvent } from '../model/audit-event.js'
import { auditEventFromMessage } from './k8s-audit/cloudwatch-message.js'

/**
 * The EKS audit log, read from CloudWatch Logs (/aws/eks/<cluster>/cluster, streams
 * kube-apiserver-audit-*) with FilterLogEvents — the only source with an AWS client, and it only
 * reads. Without gaps:
 * - every query follows nextToken to the end (pages can be empty mid-result);
 * - a checkpoint (the newest event time, plus the CloudWatch event ids at that time) is written to
 *   the data dir only after a query's events are in the spool, so a restart neither loses nor
 *   repeats; each query also re-reads `lookbackSecs` before it, for events CloudWatch indexed late,
 *   and stops `settleSecs` before now — the overlap is deduplicated (CloudWatch event ids here,
 *   the request behind the auditID in the audit pipeline);
 * - FilterLogEvents selects by event time, and EKS delivers some events minutes late: the default
 *   look-back is 5 minutes. The lateness seen (ingestionTime − timestamp) is a histogram, and an
 *   event later than the look-back is a warning — events like it can be missed;
 * - the first start backfills `backfillMinutes`;
 * - requests stay under the account's 5/s FilterLogEvents quota (lower if configured) and back off
 *   on throttling.
 * Without a shared store run it in one replica only (`sources.eksAudit.enabled` on exactly one). With
 * one (cluster.store.url), pollers stand by for each other: one holds the lease and reads, the
 * checkpoint lives in the store, fenced by the lease, and moves only once the page's detections are
 * merged there (src/cluster/audit-poller.ts).
 */
export interface PollerOptions {
  logGroupName: string
  streamPrefix: string
  pollIntervalMs: number
  requestsPerSecond: number
  backfillMs: number
  lookbackMs: number
  settleMs: number
  checkpointFile: string
  /** Events per page (FilterLogEvents' limit; the service's default is 10,000). */
  pageLimit?: number
}

export interface Checkpoint {
  timestamp: number
  ids: string[]
}

/** Where the checkpoint lives: a file in the data dir, or (several pollers) the shared store. */
export interface CheckpointStore {
  read(): Promise<Checkpoint | undefined>
  /** Throws when this poller may no longer write it (it lost the leadership). */
  write(c: Checkpoint): Promise<void>
}

export class EksAuditPoller {
  readonly #options: PollerOptions
  readonly #ingest: AuditIngest
  readonly #logger: Logger
  readonly #stop = new AbortController()
  readonly #bucket: TokenBucket
  readonly #metrics: ReturnType<typeof pollerMetrics>
  readonly #client: () => Promise<CloudWatchLogsClient>
  readonly #checkpoints: CheckpointStore
  readonly #active: () => boolean
  #loop: Promise<void> | undefined
  readonly #now: () => number
  #newest = 0
  /** CloudWatch event ids read within the look-back overlap (→ their time): each is read once. */
  readonly #seen = new Map<string, number>()
  #lastLateWarning = 0

  constructor(
    options: PollerOptions,
    deps: {
      ingest: AuditIngest
      logger: Logger
      registry: Registry
      client: () => Promise<CloudWatchLogsClient>
      now?: () => number
      /** Default: the checkpoint file. */
      checkpoints?: CheckpointStore
      /** With a standby: poll only while this is true (the leader). */
      active?: () => boolean
    },
  ) {
    this.#options = options
    this.#ingest = deps.ingest
    this.#logger = deps.logger.child({ source: 'eks-audit-cloudwatch', logGroup: options.logGroupName })
    this.#bucket = new TokenBucket(options.requestsPerSecond, 1)
    this.#metrics = pollerMetrics(deps.registry, () => this.#newest)
    this.#now = deps.now ?? Date.now
    this.#client = deps.client
    this.#checkpoints = deps.checkpoints ?? fileCheckpoints(options.checkpointFile)
    this.#active = deps.active ?? (() => true)
  }

  start(): void {
    this.#loop ??= this.#run()
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    await this.#loop
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stop.signal.aborted) {
      if (!this.#active()) {
        // Standing by: the leader reads. What this one read before is the leader's to judge now.
        this.#seen.clear()
        await sleep(Math.min(this.#options.pollIntervalMs, 1000), undefined, { signal: this.#stop.signal }).catch(() => {})
        continue
      }
      try {
        await this.pollOnce()
        failures = 0
        await sleep(this.#options.pollIntervalMs, undefined, { signal: this.#stop.signal })
      } catch (err) {
        if (this.#stop.signal.aborted) return
        const c = classifyAwsError(err)
        const wait = backoffMs(failures++, 1000, 60_000)
        this.#metrics.errors.inc({ code: c.code.slice(0, 64) })
        this.#logger.warn({ code: c.code, message: c.message, retryInMs: wait }, 'EKS audit poll failed')
        await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
      }
    }
  }

  /** One query, every page, then the checkpoint. */
  async pollOnce(now = Date.now()): Promise<{ events: number; pages: number }> {
    const client = await this.#client()
    const { FilterLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs')
    const checkpoint = await this.#checkpoints.read()
    const startTime = checkpoint ? Math.max(0, checkpoint.timestamp - this.#options.lookbackMs) : now - this.#options.backfillMs
    const endTime = now - this.#options.settleMs
    if (endTime <= startTime) return { events: 0, pages: 0 }
    const skip = new Set(checkpoint?.ids ?? [])
    let next: Checkpoint = checkpoint ?? { timestamp: startTime, ids: [] }
    let nextToken: string | undefined
    let pages = 0
    let total = 0
    do {
      await this.#bucket.take(this.#stop.signal)
      const out = await client.send(
        new FilterLogEventsCommand({
          logGroupName: this.#options.logGroupName,
          logStreamNamePrefix: this.#options.streamPrefix,
          startTime,
          endTime,
          nextToken,
          interleaved: true,
          ...(this.#options.pageLimit ? { limit: this.#options.pageLimit } : {}),
        }),
        { abortSignal: this.#stop.signal },
      )
      pages++
      this.#metrics.requests.inc()
      const audit: AuditEvent[] = []
      const read: Array<[string, number]> = []
      for (const le of out.events ?? []) {
        this.#metrics.bytes.inc(Buffer.byteLength(le.message ?? ''))
        if ((le.timestamp === checkpoint?.timestamp && le.eventId && skip.has(le.eventId)) || (le.eventId && this.#seen.has(le.eventId))) {
          this.#metrics.reread.inc() // the price of the look-back window: read again, skipped
          continue
        }
        if (le.timestamp !== undefined && le.ingestionTime !== undefined) this.#lateness(le.ingestionTime - le.timestamp, le.logStreamName)
        if (le.eventId) read.push([le.eventId, le.timestamp ?? 0])
        const event = this.#parse(le.message ?? '', le.logStreamName)
        if (event) audit.push(event)
        if (le.timestamp !== undefined) {
          if (le.timestamp > next.timestamp) next = { timestamp: le.timestamp, ids: [] }
          if (le.timestamp === next.timestamp && le.eventId) next.ids.push(le.eventId)
          this.#newest = Math.max(this.#newest, le.timestamp)
        }
      }
      if (audit.length > 0) await this.#ingest(audit)
      // Only now, with the page in the spool, is it "read": a failed ingest is read again.
      for (const [id, ts] of read) this.#seen.set(id, ts)
      total += audit.length
      this.#metrics.events.inc(audit.length)
      // Pages come in time order (interleaved): after each one the checkpoint can move, so a long
      // catch-up that fails (or restarts) resumes where it was, not from its first page.
      if (!this.#stop.signal.aborted) await this.#checkpoints.write(next)
      // Forget ids older than the look-back after every page, not only at the end of the query: a
      // catch-up over days of audit log would otherwise hold every id it read in memory.
      const keepFrom = next.timestamp - this.#options.lookbackMs
      for (const [id, ts] of this.#seen) if (ts < keepFrom) this.#seen.delete(id)
      nextToken = out.nextToken ?? undefined
    } while (nextToken && !this.#stop.signal.aborted)
    return { events: total, pages }
  }

  /** How late CloudWatch indexed an event; later than the look-back is a warning (once a minute). */
  #lateness(ms: number, stream: string | undefined): void {
    this.#metrics.lateness.observe(Math.max(0, ms) / 1000)
    if (ms <= this.#options.lookbackMs) return
    this.#metrics.lateBeyondWindow.inc()
    const now = this.#now()
    if (now - this.#lastLateWarning < 60_000) return
    this.#lastLateWarning = now
    this.#logger.warn({ stream, latenessSecs: Math.round(ms / 1000), lookbackSecs: this.#options.lookbackMs / 1000 }, 'an audit event reached CloudWatch Logs later than sources.eksAudit.lookbackSecs after its time: events as late can be missed; raise lookbackSecs')
  }

  #parse(message: string, stream: string | undefined): AuditEvent | undefined {
    const parsed = auditEventFromMessage(message)
    if ('skipped' in parsed) {
      this.#metrics.skipped.inc() // another control-plane log in the group, or not JSON
      return undefined
    }
    const truncated = parsed.event.annotations?.['falconet.io/truncated']
    if (truncated) {
      this.#metrics.truncated.inc()
      this.#logger.warn({ auditID: parsed.event.auditID, stream, bytes: Number(truncated) }, 'audit event truncated by CloudWatch (over 256 KB): reported as a finding, not analysed')
    }
    return parsed.event
  }
}

/** The checkpoint in the data dir, written whole or not at all (a temp file renamed over the old one). */
export function fileCheckpoints(file: string): CheckpointStore {
  return {
    async read() {
      try {
        const c = JSON.parse(await readFile(file, 'utf8')) as Checkpoint
        return typeof c.timestamp === 'number' && Array.isArray(c.ids) ? c : undefined
      } catch {
        return undefined
      }
    },
    async write(c) {
      await mkdir(dirname(file), { recursive: true })
      const tmp = `${file}.tmp`
      await writeFile(tmp, JSON.stringify(c))
      await rename(tmp, file)
    },
  }
}

function pollerMetrics(registry: Registry, newest: () => number) {
  const registers = [registry]
  new Gauge({
    name: 'falconet_eks_audit_lag_seconds',
    help: 'Now minus the newest audit event read from CloudWatch Logs.',
    registers,
    collect() {
      const n = newest()
      if (n > 0) this.set((Date.now() - n) / 1000)
    },
  })
  return {
    requests: new Counter({ name: 'falconet_eks_audit_requests_total', help: 'FilterLogEvents calls.', registers }),
    events: new Counter({ name: 'falconet_eks_audit_events_total', help: 'Audit events read from CloudWatch Logs.', registers }),
    truncated: new Counter({ name: 'falconet_eks_audit_truncated_total', help: 'Audit events CloudWatch truncated at 256 KB (reported, not analysed).', registers }),
    skipped: new Counter({ name: 'falconet_eks_audit_skipped_total', help: 'Log events that were not audit events.', registers }),
    errors: new Counter({ name: 'falconet_eks_audit_errors_total', help: 'Failed polls, by error code (retried with backoff).', labelNames: ['code'], registers }),
    bytes: new Counter({ name: 'falconet_eks_audit_bytes_total', help: 'Message bytes FilterLogEvents returned, re-reads included.', registers }),
    reread: new Counter({ name: 'falconet_eks_audit_reread_total', help: 'Log events read again inside the look-back window and skipped (its cost).', registers }),
    lateness: new Histogram({
      name: 'falconet_eks_audit_lateness_seconds',
      help: "CloudWatch's ingestionTime minus the event's timestamp: how late EKS delivered audit events.",
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    lateBeyondWindow: new Counter({ name: 'falconet_eks_audit_late_beyond_lookback_total', help: 'Audit events indexed later than lookbackSecs after their time (events as late can be missed).', registers }),
  }
}
