import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import { LEASE, RELEASE } from './scripts.js'
import type { Store } from './store.js'

/**
 * A leadership lease in the shared store, with a fencing token: one holder at a time, renewed at
 * a third of its life, taken over by another replica within `ttlMs` of the holder dying. The token
 * grows with every new holder; writes that must come from the current leader only (the audit
 * checkpoint) check it in the same atomic step, so a deposed leader waking late cannot write.
 *
 * Why a store lock rather than a Kubernetes Lease: the state it guards lives in the store, and only
 * a check inside the store can fence a write to it; the store is already required with several
 * replicas; and it needs no API-server access for falconet's pods.
 */
export class Lease {
  readonly name: string
  readonly #store: Store
  readonly #ttlMs: number
  readonly #logger: Logger
  readonly #listeners = new Set<(leader: boolean) => void>()
  readonly #gauge: Gauge<'lease'> | undefined
  #fence: number | undefined
  #timer: NodeJS.Timeout | undefined
  #stepping: Promise<boolean> | undefined

  constructor(store: Store, name: string, ttlMs: number, deps: { logger: Logger; registry?: Registry }) {
    this.name = name
    this.#store = store
    this.#ttlMs = ttlMs
    this.#logger = deps.logger.child({ component: 'lease', lease: name })
    this.#gauge = deps.registry ? leaderGauge(deps.registry) : undefined
    this.#gauge?.set({ lease: name }, 0)
  }

  get leader(): boolean {
    return this.#fence !== undefined
  }

  /** The fencing token while leader. */
  get fence(): number | undefined {
    return this.#fence
  }

  get ttlMs(): number {
    return this.#ttlMs
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Try to take or renew now. A failed store call counts as lost: a leader that cannot renew must stop. */
  step(): Promise<boolean> {
    this.#stepping ??= this.#step().finally(() => (this.#stepping = undefined))
    return this.#stepping
  }

  async #step(): Promise<boolean> {
    let held: [number, number]
    try {
      held = await this.#store.run<[number, number]>(LEASE, [this.#store.key(`lease:${this.name}`), this.#store.key(`fence:${this.name}`)], [this.#store.instanceId, this.#ttlMs])
    } catch {
      held = [0, 0]
    }
    this.observe(held[0] === 1 ? held[1] : undefined)
    return this.leader
  }

  /** What a combined step (a sink's take) learned about this lease. */
  observe(fence: number | undefined): void {
    const was = this.#fence
    this.#fence = fence
    if ((was === undefined) === (fence === undefined)) return
    this.#gauge?.set({ lease: this.name }, fence === undefined ? 0 : 1)
    if (fence !== undefined) this.#logger.info({ fence, holder: this.#store.instanceId }, `leadership acquired: ${this.name}`)
    else this.#logger.warn({ holder: this.#store.instanceId }, `leadership lost: ${this.name}`)
    for (const l of this.#listeners) l(fence !== undefined)
  }

  /** Keep trying (a standby) and renewing (the leader) every third of the lease. */
  start(): void {
    if (this.#timer) return
    void this.step()
    this.#timer = setInterval(() => void this.step(), Math.max(200, Math.floor(this.#ttlMs / 3)))
    this.#timer.unref()
  }

  /** Stop, and hand the lease over at once rather than after its expiry. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#stepping
    if (this.#fence === undefined) return
    this.observe(undefined)
    await this.#store.run(RELEASE, [this.#store.key(`lease:${this.name}`)], [this.#store.instanceId]).catch(() => {})
  }
}

const gauges = new WeakMap<Registry, Gauge<'lease'>>()
function leaderGauge(registry: Registry): Gauge<'lease'> {
  let g = gauges.get(registry)
  if (!g) {
    g = new Gauge({ name: 'falconet_cluster_leader', help: "1 while this replica holds the lease (a sink's delivery, the audit poller, the source monitor).", labelNames: ['lease'], registers: [registry] })
    gauges.set(registry, g)
  }
  return g
}
