import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Priority } from '../model/severity.js'
import type { Ingest, Resolve } from '../model/ingest.js'
import { NODE_KINDS, SOURCE_KINDS, recoveredEvent, silentEvent, duration, type SourceKind } from './source-events.js'

/**
 * Monitor the monitor: which sources normally talk to falconet — each Falco (its `hostname`),
 * each Fluent Bit (the node its records come from), the EKS audit poller (its log group) — and
 * when one goes quiet. A source silent for longer than its kind's limit raises falconet's own
 * finding (HIGH by default); when it talks again that finding is archived with a recovery note,
 * which Security Hub and the routes get like any other change.
 *
 * What it knows is kept in the spool's state, committed in the same transaction as the finding it
 * raises or resolves (a crash cannot leave one without the other), plus a periodic save of the
 * last-seen times. After a restart every known source gets a full silence limit from the start
 * (falconet's own downtime is not the sources' silence); one already reported silent stays so
 * until it talks. Sources unheard of for `forgetAfterMs`, and nodes enrichment saw leave the
 * cluster, are forgotten: a scaled-down node does not alert for ever.
 */
export interface LivenessSettings {
  /** The silence limit of each watched kind; a kind left out is not watched. */
  silentAfterMs: Partial<Record<SourceKind, number>>
  forgetAfterMs: number
  maxSources: number
  /** `heartbeat`: a Falco is learned from its metrics snapshot only (a quiet node's Falco says nothing otherwise). */
  falcoLearnFrom: 'heartbeat' | 'any'
  /** A source still silent is reported again this often, so its finding stays open past the aggregation window. */
  repeatEveryMs: number
  priority: Priority
}

export interface LivenessDeps {
  now: () => number
  /** The spool's state store: read at start, written by the periodic save. */
  store: { get<T>(key: string): T | undefined; put(key: string, value: unknown): Promise<unknown> }
  ingest: Ingest
  resolve: Resolve
  /** Whether enrichment knows this node; undefined when it cannot tell (off, not synced). */
  nodeKnown?: (name: string) => boolean | undefined
  logger: Logger
  registry?: Registry
  /**
   * Whether this process raises silences (several replicas: only the one holding the monitor's
   * lease does; all of them track sightings, merged cluster-wide). Default: always.
   */
  raises?: () => boolean
}

interface Source {
  kind: SourceKind
  identity: string
  firstSeen: number
  lastSeen: number
  /** Set once its silent finding is committed: when it was last heard before the silence. */
  silentSince?: number
  raisedAt?: number
  /** Enrichment has seen this identity as a node. */
  node?: boolean
}

const STATE_KEY = 'monitor/sources'
/** Longest identity kept (a DNS name's limit): a sender cannot make falconet hold a megabyte per source. */
const MAX_IDENTITY = 253

export class SourceLiveness {
  readonly #settings: LivenessSettings
  readonly #deps: LivenessDeps
  readonly #sources = new Map<string, Source>()
  readonly #busy = new Set<string>()
  readonly #resolving = new Set<Promise<void>>()
  readonly #startedAt: number
  readonly #logger: Logger
  #dirty = false
  #fullLogged = false
  #checking: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(settings: LivenessSettings, deps: LivenessDeps) {
    this.#settings = settings
    this.#deps = deps
    this.#logger = deps.logger.child({ component: 'monitor' })
    this.#startedAt = deps.now()
    const saved = deps.store.get<{ sources?: Source[] }>(STATE_KEY)
    for (const s of saved?.sources ?? []) if (SOURCE_KINDS.includes(s.kind)) this.#sources.set(keyOf(s.kind, s.identity), s)
    if (deps.registry) this.#registerMetrics(deps.registry)
  }

  /** A source talked. Cheap: called for every Falco event and every Fluent Bit chunk. */
  seen(kind: SourceKind, identity: string, options: { heartbeat?: boolean } = {}): void {
    if (this.#settings.silentAfterMs[kind] === undefined || identity === '') return
    const id = identity.slice(0, MAX_IDENTITY)
    const key = keyOf(kind, id)
    let source = this.#sources.get(key)
    // A Falco not learned yet (it is learned from its heartbeat): nothing to note, not even the time.
    if (!source && kind === 'falco' && this.#settings.falcoLearnFrom === 'heartbeat' && !options.heartbeat) return
    const now = this.#deps.now()
    if (!source) {
      if (this.#sources.size >= this.#settings.maxSources) {
        if (!this.#fullLogged) this.#logger.warn({ maxSources: this.#settings.maxSources, kind }, 'monitor: tracking as many sources as monitor.maxSources allows; new ones are not watched')
        this.#fullLogged = true
        return
      }
      source = { kind, identity: id, firstSeen: now, lastSeen: now }
      this.#sources.set(key, source)
      this.#logger.info({ kind, identity: id }, 'monitor: new source')
    }
    source.lastSeen = Math.max(source.lastSeen, now)
    if (!source.node && NODE_KINDS.has(kind) && this.#deps.nodeKnown?.(id) === true) source.node = true
    this.#dirty = true
    if (source.silentSince !== undefined && !this.#busy.has(key)) {
      const ending = this.#end(source, 'is sending again')
      this.#resolving.add(ending)
      void ending.finally(() => this.#resolving.delete(ending))
    }
  }

  /** Last-seen times, for sharing with other replicas (src/cluster/liveness.ts). */
  sightings(): Array<{ kind: SourceKind; identity: string; lastSeen: number }> {
    return [...this.#sources.values()].map((s) => ({ kind: s.kind, identity: s.identity, lastSeen: s.lastSeen }))
  }

  /**
   * Sightings other replicas made (each sees only part of a source's connections): newer times
   * win, unknown sources are learned, and a source this replica reported silent that talked to
   * another one is resolved here.
   */
  merge(sightings: ReadonlyArray<{ kind: SourceKind; identity: string; lastSeen: number }>): void {
    const now = this.#deps.now()
    for (const { kind, identity, lastSeen } of sightings) {
      if (this.#settings.silentAfterMs[kind] === undefined || !SOURCE_KINDS.includes(kind) || now - lastSeen > this.#settings.forgetAfterMs) continue
      const key = keyOf(kind, identity.slice(0, MAX_IDENTITY))
      let source = this.#sources.get(key)
      if (!source) {
        if (this.#sources.size >= this.#settings.maxSources) continue
        source = { kind, identity: identity.slice(0, MAX_IDENTITY), firstSeen: lastSeen, lastSeen }
        this.#sources.set(key, source)
        this.#dirty = true
        continue
      }
      if (lastSeen <= source.lastSeen) continue
      source.lastSeen = lastSeen
      this.#dirty = true
      if (source.silentSince !== undefined && lastSeen > source.silentSince && !this.#busy.has(key)) {
        const ending = this.#end(source, 'is sending again')
        this.#resolving.add(ending)
        void ending.finally(() => this.#resolving.delete(ending))
      }
    }
  }

  /** Resolves once the recoveries that sightings started are committed (or have failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.#resolving])
  }

  /** One pass over the known sources: raise the newly silent, forget the long gone, save. */
  check(): Promise<void> {
    // One pass at a time: a slow commit must not let the next tick raise the same silence twice.
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined))
    return this.#checking
  }

  async #check(): Promise<void> {
    const now = this.#deps.now()
    const raising: Source[] = []
    for (const [key, s] of this.#sources) {
      if (this.#busy.has(key)) continue
      const limit = this.#settings.silentAfterMs[s.kind]
      if (limit === undefined) await this.#forget(s, 'is no longer watched (monitor configuration)')
      else if (now - s.lastSeen > this.#settings.forgetAfterMs) await this.#forget(s, `was not heard from for ${duration(now - s.lastSeen)} and is no longer tracked`)
      else if (s.node && this.#deps.nodeKnown?.(s.identity) === false) await this.#forget(s, 'left the cluster (its node is gone)')
      // Silence is counted from the later of its last message and falconet's start.
      else if (this.#deps.raises && !this.#deps.raises()) continue
      else if (now - Math.max(s.lastSeen, this.#startedAt) > limit && (s.silentSince === undefined || now - (s.raisedAt ?? 0) >= this.#settings.repeatEveryMs)) raising.push(s)
    }
    if (raising.length > 0) await this.#raise(raising, now)
    if (this.#dirty) await this.#save()
  }

  async #raise(candidates: Source[], now: number): Promise<void> {
    // The pass awaited forgets after picking these: one that talked meanwhile is not silent.
    const sources = candidates.filter((s) => {
      const limit = this.#settings.silentAfterMs[s.kind]
      return limit !== undefined && now - Math.max(s.lastSeen, this.#startedAt) > limit
    })
    if (sources.length === 0) return
    const before = sources.map((s) => ({ silentSince: s.silentSince, raisedAt: s.raisedAt }))
    for (const s of sources) {
      s.silentSince ??= s.lastSeen
      s.raisedAt = now
    }
    try {
      await this.#deps.ingest(
        sources.map((s) => silentEvent(s, now, this.#settings.priority)),
        { state: [this.#snapshot()] },
      )
      for (const s of sources) this.#logger.warn({ kind: s.kind, identity: s.identity, silentForSecs: Math.round((now - s.lastSeen) / 1000) }, 'monitor: source silent')
    } catch (err) {
      sources.forEach((s, i) => Object.assign(s, before[i]))
      this.#logger.warn({ err, sources: sources.length }, 'monitor: could not record silent sources; trying again at the next check')
    }
  }

  /** Resolve a silence (the source talks again) — or, with `forget`, drop the source too. */
  async #end(source: Source, why: string, forget = false): Promise<void> {
    const key = keyOf(source.kind, source.identity)
    const silentSince = source.silentSince
    this.#busy.add(key)
    try {
      source.silentSince = undefined
      source.raisedAt = undefined
      if (forget) this.#sources.delete(key)
      if (silentSince !== undefined) {
        const note = recoveredEvent(source, this.#deps.now(), this.#settings.priority, silentSince, why)
        await this.#deps.resolve(note, { state: [this.#snapshot()] })
        this.#logger.info({ kind: source.kind, identity: source.identity }, `monitor: source ${why}`)
      }
    } catch (err) {
      // Not resolved: still silent as far as the finding goes, so the next sighting (or check) tries again.
      source.silentSince = silentSince
      if (forget) this.#sources.set(key, source)
      this.#logger.warn({ err, kind: source.kind, identity: source.identity }, 'monitor: could not resolve a silent source; trying again')
    } finally {
      this.#busy.delete(key)
    }
  }

  async #forget(source: Source, why: string): Promise<void> {
    this.#dirty = true
    if (source.silentSince !== undefined) return this.#end(source, why, true)
    this.#sources.delete(keyOf(source.kind, source.identity))
    this.#logger.info({ kind: source.kind, identity: source.identity }, `monitor: source ${why}`)
  }

  #snapshot(): { key: string; value: unknown } {
    return { key: STATE_KEY, value: { sources: [...this.#sources.values()].map((s) => ({ ...s })) } }
  }

  async #save(): Promise<void> {
    this.#dirty = false
    const { key, value } = this.#snapshot()
    try {
      await this.#deps.store.put(key, value)
    } catch (err) {
      this.#dirty = true
      this.#logger.warn({ err }, 'monitor: could not save source state')
    }
  }

  start(everyMs: number): void {
    this.#timer ??= setInterval(() => void this.check(), everyMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#checking
    await this.settled()
    if (this.#dirty) await this.#save()
  }

  /** Known sources by kind and state, for the gauges and tests. */
  summary(): Array<{ kind: SourceKind; identity: string; silent: boolean; lastSeen: number }> {
    return [...this.#sources.values()].map((s) => ({ kind: s.kind, identity: s.identity, silent: s.silentSince !== undefined, lastSeen: s.lastSeen }))
  }

  #registerMetrics(registry: Registry): void {
    const registers = [registry]
    const summary = () => this.summary()
    const watched = SOURCE_KINDS.filter((k) => this.#settings.silentAfterMs[k] !== undefined)
    new Gauge({
      name: 'falconet_monitored_sources',
      help: 'Sources falconet knows, by kind and state (active, or silent: reported by a finding). No per-host labels: the finding names the host.',
      labelNames: ['source_kind', 'state'],
      registers,
      collect() {
        const all = summary()
        for (const kind of watched) {
          for (const silent of [false, true]) this.set({ source_kind: kind, state: silent ? 'silent' : 'active' }, all.filter((s) => s.kind === kind && s.silent === silent).length)
        }
      },
    })
    new Gauge({
      name: 'falconet_source_last_seen_timestamp_seconds',
      help: 'When any source of this kind last talked (Unix time); absent until one has.',
      labelNames: ['source_kind'],
      registers,
      collect() {
        const all = summary()
        for (const kind of watched) {
          // A loop, not Math.max(...spread): a spread of 100k+ sources overflows the stack.
          let last = 0
          for (const s of all) if (s.kind === kind && s.lastSeen > last) last = s.lastSeen
          if (last > 0) this.set({ source_kind: kind }, last / 1000)
        }
      },
    })
  }
}

function keyOf(kind: SourceKind, identity: string): string {
  return `${kind}\u0000${identity}`
}
