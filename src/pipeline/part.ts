import type { Config } from '../config/schema.js'
import type { SecurityEvent } from '../model/event.js'
import type { AuditIngest, Ingest, Resolve } from '../model/ingest.js'
import type { FindingState } from '../aggregate/aggregator.js'
import { createAuditDetector, homeAccountsOf } from '../detect/audit/detector.js'
import { StagedState } from '../detect/audit/staged-state.js'
import { DetectorMemory } from '../detect/audit/stateful.js'
import { createPipeline, createResolver, type PipelineHooks, type Replication } from './pipeline.js'
import { createAuditIngest } from './audit.js'
import type { ThreatLists } from '../detect/threat-intel/lists.js'

/**
 * The pipeline without delivery or HTTP: aggregation, audit detection (its state staged and
 * committed with the findings), the resolver. The root uses it, and so does `falconet asff`
 * over an in-memory store.
 */
export function createPipelinePart(
  config: Readonly<Config>,
  deps: {
    spool: Parameters<typeof createResolver>[1] & Parameters<typeof createAuditIngest>[2] & { state: ConstructorParameters<typeof StagedState>[0] }
    sinks: readonly string[] | ((finding: FindingState) => readonly string[])
    clock?: () => number
    enrich?: (event: SecurityEvent) => SecurityEvent
    hooks?: PipelineHooks
    forwardAudit?: boolean
    /** Threat-intel IP lists for the audit detectors (audit.threatIntel). */
    threatLists?: ThreatLists
    /** Several replicas: what each commit also carries for the shared store (src/cluster). */
    replication?: Replication
  },
): { ingest: Ingest; resolve: Resolve; auditIngest: AuditIngest; auditDetector: AuditDetectorParts } {
  const aggregate = { cluster: config.cluster.name, keyFields: config.findings.keyFields, severityMapping: config.severityMapping, windowMs: config.findings.windowSecs * 1000 }
  const ingest = createPipeline(aggregate, deps.spool, deps.sinks, deps.enrich, deps.hooks, undefined, deps.replication)
  const resolveFinding = createResolver(aggregate, deps.spool, deps.sinks, deps.enrich, deps.hooks, deps.replication)
  const auditDetector = auditDetectorOn(config.audit, deps.spool.state, deps.clock, deps.threatLists, homeAccountsOf(config))
  const auditIngest = createAuditIngest(auditDetector, ingest, deps.spool, deps.forwardAudit ?? false)
  return { ingest, resolve: resolveFinding, auditIngest, auditDetector }
}

/** The audit detectors, their durable state (staged, committed with the findings) and their in-memory counters. */
export interface AuditDetectorParts {
  detect: ReturnType<typeof createAuditDetector>
  state: StagedState
  memory: DetectorMemory
}

/** The audit detectors over staged state on `store`: their writes are committed with the findings they produce. */
export function auditDetectorOn(
  config: Readonly<Config['audit']>,
  store: ConstructorParameters<typeof StagedState>[0],
  clock: () => number = Date.now,
  threatLists?: ThreatLists,
  /** The cluster's configured AWS accounts (homeAccountsOf(config)). */
  homeAccounts: readonly string[] = [],
): AuditDetectorParts {
  const state = new StagedState(store)
  const memory = new DetectorMemory()
  return { detect: createAuditDetector(config, { store: state, now: clock, memory, homeAccounts, ...(threatLists ? { threatLists } : {}) }), state, memory }
}
