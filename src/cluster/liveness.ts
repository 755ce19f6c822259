import type { SourceLiveness } from '../monitor/source-liveness.js'
import type { SourceKind } from '../monitor/source-events.js'
import type { Cluster } from './index.js'
import type { Lease } from './lease.js'
import { SIGHTINGS } from './scripts.js'

/**
 * Monitor the monitor with several replicas: a Falco's or a Fluent Bit's requests are spread over
 * all of them, so each replica's last-seen times are partial. Every few seconds each replica adds
 * the sightings that moved to a hash in the store (newest wins) and takes back everyone's; only
 * the holder of the monitor's lease raises silences, so a silent source is one finding, raised once.
 */
export class SharedLiveness {
  readonly lease: Lease
  readonly #cluster: Cluster
  readonly #forgetAfterMs: number
  readonly #pushed = new Map<string, number>()
  #liveness: SourceLiveness | undefined
  #timer: NodeJS.Timeout | undefined
  #syncing: Promise<void> | undefined

  constructor(cluster: Cluster, forgetAfterMs: number) {
    this.#cluster = cluster
    this.#forgetAfterMs = forgetAfterMs
    this.lease = cluster.lease('monitor')
  }

  /** For the monitor's deps: only the leader raises. */
  raises = (): boolean => this.lease.leader

  start(liveness: SourceLiveness, everyMs: number): void {
    this.#liveness = liveness
    this.#timer ??= setInterval(() => void this.sync(), everyMs)
    this.#timer.unref()
  }

  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => (this.#syncing = undefined))
    return this.#syncing
  }

  async #sync(): Promise<void> {
    const liveness = this.#liveness
    if (!liveness) return
    const args: Array<string | number> = [Date.now() - this.#forgetAfterMs]
    const moved: Array<[string, number]> = []
    for (const s of liveness.sightings()) {
      const key = `${s.kind}\u0000${s.identity}`
      if ((this.#pushed.get(key) ?? 0) >= s.lastSeen) continue
      args.push(key, s.lastSeen)
      moved.push([key, s.lastSeen])
    }
    let flat: string[]
    try {
      flat = await this.#cluster.store.run<string[]>(SIGHTINGS, [this.#cluster.store.key('sightings')], args)
    } catch {
      return // logged by the store; next time
    }
    for (const [key, at] of moved) this.#pushed.set(key, at)
    const sightings: Array<{ kind: SourceKind; identity: string; lastSeen: number }> = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [kind, identity] = flat[i]!.split('\u0000') as [SourceKind, string]
      const lastSeen = Number(flat[i + 1])
      this.#pushed.set(flat[i]!, Math.max(this.#pushed.get(flat[i]!) ?? 0, lastSeen))
      sightings.push({ kind, identity, lastSeen })
    }
    liveness.merge(sightings)
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}
