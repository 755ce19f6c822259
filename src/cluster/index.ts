import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { AggregateOptions } from '../aggregate/aggregator.js'
import type { LocalQueue } from '../delivery/queue.js'
import type { Finding } from '../model/finding.js'
import type { StoreConfig } from './config.js'
import { Lease } from './lease.js'
import { SharedTokenBucket } from './rate-limit.js'
import { MERGE_OUTBOX, OccurrenceLog } from './replication.js'
import { EXPIRE } from './scripts.js'
import { SharedQueue } from './shared-queue.js'
import { Shipper } from './shipper.js'
import { SinkRenames } from './rename-sinks.js'
import { Store } from './store.js'

export interface ClusterDeps {
  logger: Logger
  registry?: Registry
  env?: NodeJS.ProcessEnv
  /** The local spool: its state (replica id, sequence) and the merge outbox. */
  spool: {
    state: { get<T>(key: string): T | undefined; put(key: string, value: unknown): Promise<unknown> }
    outboxQueue(name: string): LocalQueue
  }
}

export interface ClusterSink {
  id: string
  resendMs: number
  /** Gets the archived version when a finding's window closes (Security Hub, PagerDuty). */
  lifecycle: boolean
}

/**
 * Several replicas as one falconet (docs/scale-out.md). Each replica still commits what it
 * accepts to its own spool first; from there its occurrences are merged into the shared store in
 * batches (Shipper), and every sink is drained from the store's queue by one replica at a time
 * (SharedQueue), under rate limits every replica shares.
 */
export class Cluster {
  readonly store: Store
  readonly replication: OccurrenceLog
  readonly #deps: ClusterDeps
  readonly #config: StoreConfig
  readonly #aggregate: AggregateOptions
  readonly #queues: SharedQueue[] = []
  readonly #leases: Lease[] = []
  #shipper: Shipper | undefined
  #janitor: NodeJS.Timeout | undefined
  readonly #renames: SinkRenames
  #sinks: ClusterSink[] = []
  /** Told of the ids each merge changed: the sinks' queues wake, the console index reads them back. */
  readonly #merged = new Set<(ids: string[]) => void>([() => this.#queues.forEach((q) => q.notify())])

  constructor(config: StoreConfig, aggregate: AggregateOptions, deps: ClusterDeps, replicaId: string) {
    this.#config = config
    this.#aggregate = aggregate
    this.#deps = deps
    this.store = new Store(config, { logger: deps.logger, replicaId, ...(deps.registry ? { registry: deps.registry } : {}), ...(deps.env ? { env: deps.env } : {}) })
    this.replication = new OccurrenceLog(deps.spool.state, aggregate)
    this.#renames = new SinkRenames(this.store)
  }

  get leaseMs(): number {
    return this.#config.leaseSecs * 1000
  }

  /** A leadership lease, started (standing by until it is free), stopped with the cluster. */
  lease(name: string): Lease {
    const lease = new Lease(this.store, name, this.leaseMs, { logger: this.#deps.logger, ...(this.#deps.registry ? { registry: this.#deps.registry } : {}) })
    this.#leases.push(lease)
    return lease
  }

  /** The sink's queue in the store; `wants` applies the routes to the merged finding. */
  queue(sink: ClusterSink, wants?: (f: Finding) => boolean): SharedQueue {
    this.#sinks.push(sink)
    const lease = this.lease(`sink:${sink.id}`)
    const queue = new SharedQueue(this.store, lease, { sink: sink.id, resendMs: sink.resendMs, pollMs: 1000, ...(wants ? { wants } : {}) })
    this.#queues.push(queue)
    return queue
  }

  bucket(name: string, perSecond: number, burst: number): SharedTokenBucket {
    return new SharedTokenBucket(this.store, name, perSecond, burst)
  }

  /** Findings this replica just merged into the store (the console index reads them back). */
  onMerged(listener: (ids: string[]) => void): () => void {
    this.#merged.add(listener)
    return () => this.#merged.delete(listener)
  }

  /** Start merging and expiring, once every sink has its queue. */
  start(): void {
    const sinks = this.#sinks.map((s) => ({ id: s.id, resend: s.resendMs }))
    this.#shipper = new Shipper(
      this.store,
      this.#deps.spool.outboxQueue(MERGE_OUTBOX),
      { windowMs: this.#aggregate.windowMs, sinks, maxItems: this.#config.shipMaxItems, intervalMs: this.#config.shipIntervalMs, seenTtlMs: 3_600_000 },
      { logger: this.#deps.logger, ...(this.#deps.registry ? { registry: this.#deps.registry } : {}), onMerged: (ids) => this.#merged.forEach((l) => l(ids)) },
    )
    this.#shipper.start()
    for (const lease of this.#leases) lease.start()
    const expire = () => void this.expire().catch(() => {})
    void this.#renames.run().catch(() => {}) // what older replicas queued is drained now, not at the first expiry
    this.#janitor = setInterval(expire, Math.min(10_000, Math.max(1000, Math.floor(this.#aggregate.windowMs / 10))))
    this.#janitor.unref()
  }

  /** Close idle findings' windows cluster-wide (idempotent: every replica runs it). */
  async expire(now = Date.now()): Promise<{ removed: number; archived: number }> {
    // Before the window's expiry, which reads the queues and delivery records by the new ids.
    await this.#renames.run()
    const sinks = this.#sinks.map((s) => ({ id: s.id, resend: s.resendMs, lifecycle: s.lifecycle }))
    const [removed, archived] = await this.store.run<[number, number]>(EXPIRE, [this.store.key('last')], [this.store.prefix, now - this.#aggregate.windowMs, now, 500, JSON.stringify(sinks)])
    if (archived > 0) this.#queues.forEach((q) => q.notify())
    return { removed, archived }
  }

  /** Merge what is spooled now (tests, shutdown). */
  flush(): Promise<boolean> {
    return this.#shipper?.flush() ?? Promise.resolve(true)
  }

  get unmerged(): number {
    return this.#shipper?.pending ?? 0
  }

  async close(): Promise<void> {
    clearInterval(this.#janitor)
    await this.#shipper?.stop()
    // A short last merge: what is left stays in the spool for the next start.
    if (this.store.reachable) await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 2000).unref())])
    await Promise.all(this.#leases.map((l) => l.stop()))
    await this.store.close()
  }
}

/** With `cluster.store.url` set: the cluster; otherwise undefined and falconet is one process. */
export async function createCluster(config: StoreConfig, aggregate: AggregateOptions, deps: ClusterDeps): Promise<Cluster | undefined> {
  if (!config.url) return undefined
  return new Cluster(config, aggregate, deps, await replicaIdOf(config, deps.spool.state))
}

/**
 * This replica's name in the store: the configured (or host) name plus an id kept in the data dir.
 * The high-water mark belongs to a data dir's sequence: a replica that comes back with an empty
 * data dir starts a new sequence under a new name, never one the store would take for a replay.
 */
async function replicaIdOf(config: StoreConfig, state: ClusterDeps['spool']['state']): Promise<string> {
  let local = state.get<string>('cluster/data-dir-id')
  if (!local) {
    local = randomBytes(4).toString('hex')
    await state.put('cluster/data-dir-id', local)
  }
  const base = (config.replicaId ?? hostname()).replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 100)
  return `${base}.${local}`
}
