import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Static } from 'typebox'
import type { SecurityEvent } from '../model/event.js'
import type { Ingest, Resolve } from '../model/ingest.js'
import type { PipelineHooks } from '../pipeline/pipeline.js'
import type { monitorSchema } from './config.js'
import { gradeFalcoInternal, isFalcoHeartbeat } from './falco-internal.js'
import { ingestMetricsFor } from './ingest-metrics.js'
import { SourceLiveness, type LivenessDeps } from './source-liveness.js'
import type { SourceKind } from './source-events.js'

export interface Monitor {
  /** For createPipeline / createResolver: Falco's heartbeats out, its internal events graded, findings counted. */
  hooks: PipelineHooks
  /**
   * The monitor also feeds the pipeline (a silent source is a finding): built with the hooks first,
   * it is handed the pipeline's ingest and resolve here. Returns the liveness tracker (undefined
   * when monitor.enabled is false).
   */
  connect(pipeline: { ingest: Ingest; resolve: Resolve }): SourceLiveness | undefined
  /** Undefined when monitor.enabled is false, or before connect. */
  readonly liveness: SourceLiveness | undefined
  start(): void
  stop(): Promise<void>
}

export interface MonitorDeps {
  registry: Registry
  logger: Logger
  store: LivenessDeps['store']
  nodeKnown?: (name: string) => boolean | undefined
  /** The aggregation window: a source still silent is reported again at half of it, so its finding stays open. */
  windowMs: number
  now?: () => number
  /** Several replicas: whether this one raises silences (it holds the monitor's lease). */
  raises?: () => boolean
}

export function createMonitor(config: Static<typeof monitorSchema>, deps: MonitorDeps): Monitor {
  const metrics = ingestMetricsFor(deps.registry)
  const kinds: Record<SourceKind, { enabled: boolean; silentAfterSecs?: number | undefined }> = {
    falco: config.sources.falco,
    'fluent-bit': config.sources.fluentBit,
    'eks-audit': config.sources.eksAudit,
  }
  const silentAfterMs = Object.fromEntries(
    Object.entries(kinds)
      .filter(([, k]) => k.enabled)
      .map(([kind, k]) => [kind, (k.silentAfterSecs ?? config.silentAfterSecs) * 1000]),
  ) as Partial<Record<SourceKind, number>>
  let liveness: SourceLiveness | undefined
  const connect = (pipeline: { ingest: Ingest; resolve: Resolve }) =>
    (liveness = config.enabled
      ? new SourceLiveness(
          {
            silentAfterMs,
            forgetAfterMs: config.forgetAfterSecs * 1000,
            maxSources: config.maxSources,
            falcoLearnFrom: config.sources.falco.learnFrom,
            repeatEveryMs: Math.max(60_000, deps.windowMs / 2),
            priority: config.priority,
          },
          { now: deps.now ?? Date.now, store: deps.store, ingest: pipeline.ingest, resolve: pipeline.resolve, logger: deps.logger, registry: deps.registry, ...(deps.nodeKnown ? { nodeKnown: deps.nodeKnown } : {}), ...(deps.raises ? { raises: deps.raises } : {}) },
        )
      : undefined)
  const accept = (events: SecurityEvent[]): SecurityEvent[] => {
    const kept: SecurityEvent[] = []
    for (const e of events) {
      const heartbeat = isFalcoHeartbeat(e)
      if (e.input === 'falco' && e.hostname) liveness?.seen('falco', e.hostname, { heartbeat })
      if (!heartbeat) kept.push(gradeFalcoInternal(e))
    }
    return kept
  }
  return {
    hooks: { accept, committed: (findings) => metrics.committed(findings) },
    connect,
    get liveness() {
      return liveness
    },
    start: () => liveness?.start(config.checkIntervalSecs * 1000),
    stop: async () => liveness?.stop(),
  }
}
