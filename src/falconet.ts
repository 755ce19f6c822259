import { resolve, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { Gauge, Registry } from 'prom-client'
import type { Config } from './config/schema.js'
import type { AsffContext } from './asff/context.js'
import type { AuditIngest, Ingest, Resolve } from './model/ingest.js'
import { createLogger } from './server/logger.js'
import { buildApp } from './server/app.js'
import { registerSpoolGauges } from './server/metrics.js'
import { AUDIT_OUTBOX } from './pipeline/audit.js'
import { createPipelinePart } from './pipeline/part.js'
import { createMonitor, type Monitor } from './monitor/index.js'
import { ingestMetricsFor, POLLER_ROUTE } from './monitor/ingest-metrics.js'
import { SinkRunner } from './delivery/sink-runner.js'
import { DeadLetterFile } from './delivery/dead-letter.js'
import { Redriver, SHED } from './delivery/redrive.js'
import { DeliveryMetrics } from './delivery/metrics.js'
import { Spool } from './delivery/spool.js'
import { guardSpool } from './delivery/spool-guard.js'
import { findingPolicy } from './aggregate/policy.js'
import type { DeliveryQueue } from './delivery/queue.js'
import type { Sink, SinkDeps } from './delivery/sink.js'
import { awsNeedsOf, enabledSinks } from './sinks/registry.js'
import { createReceiverSink, receiverSinkId, RECEIVER_TYPES } from './sinks/receiver.js'
import { asffContextProvider, awsSettingProblems, regionOf } from './aws/identity.js'
import { sayNodeSupportOnce } from './aws/node-support.js'
import { createThreatLists, withFalcoThreatMarks } from './detect/threat-intel/index.js'
import { EksAuditPoller, fileCheckpoints } from './sources/eks-audit-cloudwatch.js'
import { createCluster, type Cluster } from './cluster/index.js'
import { SharedDocs } from './cluster/shared-docs.js'
import { SharedLiveness } from './cluster/liveness.js'
import { sharedPolling, type PollerDetector } from './cluster/audit-poller.js'
import { AUDIT_STATE_PREFIXES } from './detect/audit/stateful.js'
import { compileRoutes } from './route/tree.js'
import { Silences } from './route/silences.js'
import { compileInhibitions } from './route/inhibit.js'
import type { FindingState } from './aggregate/aggregator.js'
import type { Finding } from './model/finding.js'
import { errors } from './errors.js'
import { LocalFindingIndex } from './console/local-index.js'
import { SharedFindingIndex } from './console/shared-index.js'
import { sharedLetterBook } from './console/shared-dead-letters.js'
import { fileLetterBook } from './server/delivery-api.js'
import { errorSummary } from './aws/errors.js'
import { SharedSinkStatus } from './cluster/sink-status.js'
import type { FindingIndex } from './console/findings-index.js'
import { toOcsf } from './ocsf/build.js'
import { trackDelivery } from './console/delivery-tracker.js'
import { deprecatedSettings } from './config/deprecated.js'
import { storageBudget } from './console/config.js'

/**
 * The composition root: the one place that knows every component and wires config → spool → sinks
 * → pipeline → monitor → HTTP app. `serve` listens on what it builds; tests, benchmarks and the
 * CLI build the same thing (or its pipeline part) instead of re-wiring it by hand.
 */
export { auditDetectorOn, createPipelinePart } from './pipeline/part.js'

export interface FalconetDeps {
  env?: NodeJS.ProcessEnv
  /** Every "now" of the detectors, silences and monitor (tests move it). */
  clock?: () => number
  logger?: Logger
  /** A spool to use instead of opening dataDir/spool (closed by close() all the same). */
  spool?: Spool
  /** Sinks built by the caller (benchmarks: an instant sink), delivered to like the registry's. */
  extraSinks?: Sink<unknown>[]
  /** Whether a node exists, instead of enrichment's knowledge (the monitor forgets vanished nodes). */
  nodeKnown?: (name: string) => boolean | undefined
}

export interface Falconet {
  config: Readonly<Config>
  logger: Logger
  registry: Registry
  app: FastifyInstance
  spool: Spool
  runners: SinkRunner[]
  /** Sinks every finding goes to (receivers are routed). */
  sinkIds: string[]
  ingest: Ingest
  resolve: Resolve
  auditIngest: AuditIngest
  monitor: Monitor
  silences: Silences
  asffContext: (signal?: AbortSignal) => Promise<AsffContext>
  /** Resolves the AWS settings the enabled sinks need (failing with the setting to fix), then starts delivery, the poller and the monitor. */
  start(): Promise<void>
  /** Stop accepting, flush what was accepted within the grace period, close the spool. Idempotent. */
  close(): Promise<void>
}

export async function createFalconet(config: Readonly<Config>, deps: FalconetDeps = {}): Promise<Falconet> {
  const env = deps.env ?? process.env
  const clock = deps.clock ?? Date.now
  const logger = deps.logger ?? createLogger(config.logLevel)
  for (const note of deprecatedSettings(config)) logger.warn({ setting: note.path }, `config: ${note.path} is ${note.message}`)
  const awsNeeds = awsNeedsOf(config)
  sayNodeSupportOnce(config, awsNeeds, logger, env) // before any AWS SDK client is built
  const awsProblems = awsSettingProblems(config, env, awsNeeds)
  if (awsProblems.length) throw new errors.FALCONET_ERR_CONFIG(awsProblems.map((p) => `  ${p.path}: ${p.message}`).join('\n'))
  const dataDir = resolve(config.dataDir)
  const registry = new Registry()
  const deadLetters = new DeadLetterFile(dataDir, logger)
  const asffContext = asffContextProvider(config, env, awsNeeds)
  const sinkDeps: SinkDeps = { dataDir, logger, asffContext }

  const enabled = enabledSinks(config)
  const findingSinks = [...enabled.filter(({ definition }) => (definition.consumes ?? 'findings') === 'findings').map(({ definition, config: c }) => definition.create(c, sinkDeps)), ...(deps.extraSinks ?? [])]
  // One audit outbox: a single audit-event sink (the Falco bridge) drains it.
  const auditSink = enabled.filter(({ definition }) => definition.consumes === 'audit-events').map(({ definition, config: c }) => definition.create(c, sinkDeps))[0]
  const names = config.receivers.map((r) => r.name)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i)
  if (duplicate) throw new errors.FALCONET_ERR_CONFIG(`  receivers: the name "${duplicate}" is used twice`)
  // Silences and inhibition are asked again when a message is sent (one may arrive while it waits).
  const mutedNow = (f: FindingState) => silences.silenced(f) !== undefined || inhibited(f)
  const receivers = config.receivers.map((r) => createReceiverSink(r, sinkDeps, env, mutedNow as never) as Sink<unknown>)
  // The console's index (src/console), fed after aggregation and told what each sink acknowledged
  // or gave up on. Made once the store is known (below): local, or shared by every replica.
  let consoleIndex: LocalFindingIndex | SharedFindingIndex | undefined
  const outcomes = { delivered: (...a: Parameters<FindingIndex['delivered']>) => consoleIndex?.delivered(...a), sent: (...a: Parameters<FindingIndex['sent']>) => consoleIndex?.sent(...a) }
  const sinks = [...findingSinks, ...receivers].map((s) => (config.console.enabled ? trackDelivery(s, outcomes) : s))
  deadLetters.onWrite((sink, letters) => {
    for (const l of letters) consoleIndex?.deadLettered(sink, [{ id: l.findingId, version: Number((l.item as { version?: unknown } | undefined)?.version ?? 0) }], { code: l.code, reason: l.reason }, Date.now())
  })
  if (sinks.length === 0) logger.warn('no sink is enabled: findings are spooled but go nowhere')
  const sinkIds = findingSinks.map((s) => s.id)

  const windowMs = config.findings.windowSecs * 1000
  // Sinks that track a finding's life: they get its archived version when its window closes.
  const lifecycleSinks = new Set([...enabled.filter(({ definition }) => definition.tracksLifecycle).map(({ definition }) => definition.id), ...config.receivers.filter((r) => RECEIVER_TYPES[r.type]?.tracksLifecycle).map((r) => receiverSinkId(r.name))])
  // One disk budget for the data dir: the console's local index takes its share of spool.maxBytes.
  const budget = storageBudget(config, Boolean(config.cluster.store.url))
  const spool =
    deps.spool ??
    new Spool({
      dir: join(dataDir, 'spool'),
      maxBytes: budget.spoolBytes,
      durability: config.spool.durability,
      resendMs: Object.fromEntries(sinks.map((s) => [s.id, s.delivery.resendIntervalMs])),
      logger,
      policy: findingPolicy({ windowMs, tracksLifecycle: (sink) => lifecycleSinks.has(sink) }),
      seenWindowMs: { chunk: config.sources.fluentBit.dedupeWindowSecs * 1000 },
    })
  // Several replicas (cluster.store.url, docs/scale-out.md): occurrences are merged in the shared
  // store in batches, every sink drains the store's queue, silences and sightings are shared.
  const aggregate = { cluster: config.cluster.name, keyFields: config.findings.keyFields, severityMapping: config.severityMapping, windowMs }
  const cluster = await createCluster(config.cluster.store, aggregate, { logger, registry, env, spool })
  if (config.console.enabled) {
    const retention = { ...config.console.retention, maxBytes: budget.consoleBytes }
    consoleIndex = cluster ? new SharedFindingIndex(retention, { store: cluster.store, logger, sinks: sinks.map((s) => s.id), onMerged: (l) => cluster.onMerged(l) }) : new LocalFindingIndex(dataDir, retention, { logger })
  }
  if (consoleIndex) {
    const index = consoleIndex
    new Gauge({
      name: 'falconet_console_index_bytes',
      help: 'Bytes of records the console index holds (on disk in dataDir/console, or in the shared store).',
      registers: [registry],
      collect() {
        this.set(index.bytes)
      },
    })
    new Gauge({
      name: 'falconet_console_index_budget_bytes',
      help: "The console index's share of the disk budget (console.retention.maxBytes; locally part of spool.maxBytes).",
      registers: [registry],
      collect() {
        this.set(budget.consoleBytes)
      },
    })
  }
  const sharedDocs = cluster ? new SharedDocs(cluster.store, ['silences'], logger) : undefined
  if (cluster && sharedDocs && (await cluster.store.ready(5000))) await sharedDocs.refresh()
  const metrics = new DeliveryMetrics(registry)
  metrics.declare([...sinks.map((s) => s.id), ...(auditSink ? [auditSink.id] : [])])
  registerSpoolGauges(
    registry,
    spool,
    sinks.map((s) => s.id),
    budget.spoolBytes,
  ) // receivers too: a stuck Slack queue must show
  const silences = new Silences(sharedDocs ?? spool.state, clock, config.silences)
  sharedDocs?.onChange(() => silences.reload())
  const inhibited = compileInhibitions(config.inhibit, windowMs)
  const routeTo = routeFindings(config, silences, inhibited)
  const deliveryOf = (sink: Sink<unknown>) => (cluster ? sharedDelivery(cluster, sink, { routed: !sinkIds.includes(sink.id), lifecycle: lifecycleSinks.has(sink.id), routeTo }) : { queue: spool.findingQueue(sink.id) as DeliveryQueue<unknown> })
  const runners: SinkRunner[] = [...sinks.map((sink) => new SinkRunner(sink, { logger, deadLetters, metrics, ...deliveryOf(sink) })), ...(auditSink ? [new SinkRunner(auditSink, { logger, queue: spool.outboxQueue(AUDIT_OUTBOX), deadLetters, metrics })] : [])]
  let stopGuard: (() => Promise<void>) | undefined

  const region = regionOf(config, env)
  // Loaded only when on: the Kubernetes client alone is ~70 MB of RSS (docs/performance.md).
  const enrichment = config.enrichment.enabled ? (await import('./enrich/index.js')).createEnrichment(config.enrichment, { logger, registry, ...(config.cluster.name ? { clusterName: config.cluster.name } : {}), ...(region ? { region } : {}) }) : undefined
  const nodeKnown = deps.nodeKnown ?? enrichment?.knowsNode
  // Several replicas: sightings are merged in the store and only the monitor lease's holder raises.
  const sharedLiveness = cluster && config.monitor.enabled ? new SharedLiveness(cluster, config.monitor.forgetAfterSecs * 1000) : undefined
  const monitor = createMonitor(config.monitor, { registry, logger, store: spool.state, windowMs, now: clock, ...(nodeKnown ? { nodeKnown } : {}), ...(sharedLiveness ? { raises: sharedLiveness.raises } : {}) })
  // With a store nothing is queued locally: the sinks get the store's merged finding.
  const findingSinksFor = cluster ? () => [] : (finding: FindingState) => [...sinkIds, ...routeTo(finding)]
  const hooks = consoleIndex ? { ...monitor.hooks, committed: (f: readonly FindingState[]) => (monitor.hooks.committed?.(f), consoleIndex.record(f, findingSinksFor)) } : monitor.hooks
  // Threat lists: files read now (an unreadable one is a start-up error), URLs fetched after start.
  const threatLists = createThreatLists(config.audit.threatIntel, logger)
  const enrich = withFalcoThreatMarks(enrichment?.enrich, threatLists)
  const {
    ingest,
    resolve: resolveFinding,
    auditIngest,
    auditDetector,
  } = createPipelinePart(config, {
    spool,
    sinks: findingSinksFor,
    clock,
    forwardAudit: auditSink !== undefined,
    hooks,
    ...(enrich ? { enrich } : {}),
    ...(threatLists ? { threatLists } : {}),
    ...(cluster ? { replication: cluster.replication } : {}),
  })
  const liveness = monitor.connect({ ingest, resolve: resolveFinding })

  const eks = config.sources.eksAudit
  const ingestMetrics = ingestMetricsFor(registry)
  const poller = eks.enabled
    ? createPoller(config, eks, {
        auditIngest,
        // With a standby: the detectors' state is handed over with the checkpoint.
        detector: {
          state: auditDetector.state,
          memory: auditDetector.memory,
          restore: (writes) => ingest([], { state: writes }),
          local: () => spool.state.entries(AUDIT_STATE_PREFIXES),
        },
        logger,
        registry,
        dataDir,
        region,
        cluster,
        // Read from CloudWatch: the audit log arrives (counted, and the monitor hears from the poller).
        onRead: (logGroupName, n) => {
          ingestMetrics.received('eks-audit', POLLER_ROUTE, n)
          liveness?.seen('eks-audit', logGroupName)
        },
      })
    : undefined
  const readiness = {
    sinks: () => Object.fromEntries(runners.map((r) => [r.sink.id, { ready: r.ready, pending: r.pending }])),
    components: (): Record<string, { ready: boolean; synced: boolean }> => (enrichment ? { enrichment: enrichment.ready() } : {}),
  }
  // Dead letters go back through the same durable write as an ingest (spool.record).
  const redriver = new Redriver({
    deadLetters,
    record: (items, to, options) => spool.record(items, to, options),
    findingSinks: new Set(sinks.map((s) => s.id)),
    sinksFor: findingSinksFor,
    outboxes: auditSink ? { [auditSink.id]: AUDIT_OUTBOX } : {},
  })
  const fileLetters = fileLetterBook(deadLetters, redriver)
  // With a store the dead letters are every replica's, redriven into the shared queues (docs/scale-out.md).
  const sharedLetters = cluster && consoleIndex instanceof SharedFindingIndex ? consoleIndex.deadLetters : undefined
  sharedLetters?.onCleared((sink, id) => void deadLetters.forget(sink, id).catch((err: unknown) => logger.warn({ err: errorSummary(err), sink, findingId: id }, "dead letter redriven elsewhere not taken out of this replica's file")))
  const sinkIdSet = new Set(sinks.map((s) => s.id))
  const sinkStatus = cluster ? new SharedSinkStatus(cluster.store) : undefined
  const sinkHealth = () => runners.map((r) => ({ id: r.sink.id, lastSuccessAt: r.lastSuccessAt, lastError: r.lastError }))
  const delivery = {
    letters: sharedLetters ? sharedLetterBook(sharedLetters, { book: fileLetters, sinks: new Set(auditSink ? [auditSink.id] : []) }, (sink) => (sink === SHED ? [...sinkIdSet] : sinkIdSet.has(sink) ? [sink] : [])) : fileLetters,
    sinks: async () => {
      const local = runners.map((r) => ({ id: r.sink.id, pending: r.pending, oldestPendingAt: spool.oldestPendingAt(r.sink.id), lastSuccessAt: r.lastSuccessAt, lastError: r.lastError }))
      if (!sinkStatus) return local
      // The shared queues' sinks as the whole cluster sees them; the local outbox's (the Falco bridge) as this replica does.
      const shared = await sinkStatus.read(local.filter((s) => sinkIdSet.has(s.id))).catch(() => [])
      return local.map((s) => shared.find((x) => x.id === s.id) ?? s)
    },
  }
  const consoleDeps = consoleIndex
    ? {
        index: consoleIndex,
        // With a store the finding may have been raised through another replica, so this one's own
        // state cannot say whether it is active: the store's merge archives it only if it is.
        resolve: cluster ? async (event: Parameters<Resolve>[0]) => (await resolveFinding(event), true) : (event: Parameters<Resolve>[0]) => resolveFinding(event),
        asffContext: () => asffContext(),
        ocsf: async (finding: Finding) => toOcsf(finding, await asffContext()),
        pricePerFinding: config.console.securityHubPricePerFinding,
        ...(liveness ? { sources: () => liveness.summary() } : {}),
      }
    : undefined
  const app = await buildApp({ config, logger, ingest, auditIngest, readiness, registry, admin: { silences, delivery }, env, seen: (key) => spool.unseen([key], 'chunk').length === 0, ...(liveness ? { monitor: liveness } : {}), ...(consoleDeps ? { console: consoleDeps } : {}) })

  let started = false
  const start = async () => {
    if (started) return
    started = true
    // Decided once, before anything is delivered: an AWS sink never gets a guessed account.
    if (awsNeeds.accountId.length > 0) await asffContext()
    stopGuard = guardSpool(
      spool,
      {
        maxBytes: budget.spoolBytes,
        shedPolicy: config.spool.shedPolicy,
        shedAtPercent: config.spool.shedAtPercent,
      },
      { logger, deadLetters },
    )
    for (const runner of runners) runner.start()
    cluster?.start()
    sinkStatus?.start(sinkHealth)
    sharedDocs?.start(1000)
    if (sharedLiveness && liveness) sharedLiveness.start(liveness, Math.min(5000, config.monitor.checkIntervalSecs * 1000))
    poller?.start()
    monitor.start()
    void threatLists?.start() // fetch failures are logged and keep the last good list
  }

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      await app.close() // stop accepting first, then flush what was accepted
      await poller?.stop()
      threatLists?.stop()
      await monitor.stop()
      await stopGuard?.()
      enrichment?.stop()
      await Promise.all(runners.map((r) => r.close(config.server.shutdownGraceMs)))
      const left = Object.fromEntries(runners.map((r) => [r.sink.id, r.pending]))
      sharedDocs?.stop()
      sinkStatus?.stop()
      // What this replica's runners saw last (it may have drained a sink): the other replicas show it on.
      if (sinkStatus) await Promise.race([sinkStatus.publish(sinkHealth()).catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())])
      sharedLiveness?.stop()
      // Before the store closes: what is spooled is merged now (briefly), so the index writes its
      // last records there too.
      if (cluster && consoleIndex) await Promise.race([cluster.flush(), new Promise((r) => setTimeout(r, 2000).unref())])
      await consoleIndex?.close()
      await cluster?.close()
      await spool.close()
      logger.info({ pendingInSpool: left, deadLettered: deadLetters.count }, 'falconet stopped')
    })())

  return { config, logger, registry, app, spool, runners, sinkIds, ingest, resolve: resolveFinding, auditIngest, monitor, silences, asffContext, start, close }
}

function createPoller(
  config: Readonly<Config>,
  eks: Readonly<Config['sources']['eksAudit']>,
  deps: {
    auditIngest: AuditIngest
    logger: Logger
    registry: Registry
    dataDir: string
    region: string | undefined
    cluster: Cluster | undefined
    detector: PollerDetector
    onRead: (logGroupName: string, events: number) => void
  },
): EksAuditPoller {
  const logGroupName = eks.logGroupName ?? (config.cluster.name ? `/aws/eks/${config.cluster.name}/cluster` : undefined)
  if (!logGroupName) throw new errors.FALCONET_ERR_CONFIG('  sources.eksAudit.logGroupName: required unless cluster.name is set')
  const region = deps.region
  if (!region) throw new errors.FALCONET_ERR_CONFIG('  aws.region: required when sources.eksAudit.enabled is true (or set AWS_REGION)')
  let client: Promise<import('@aws-sdk/client-cloudwatch-logs').CloudWatchLogsClient> | undefined
  const checkpointFile = join(deps.dataDir, 'eks-audit', 'checkpoint.json')
  // Several pollers with a store: one reads (a lease), the checkpoint is shared and fenced.
  const shared = deps.cluster ? sharedPolling(deps.cluster, logGroupName, fileCheckpoints(checkpointFile), deps.detector) : {}
  return new EksAuditPoller(
    {
      logGroupName,
      streamPrefix: eks.streamPrefix,
      pollIntervalMs: eks.pollIntervalSecs * 1000,
      requestsPerSecond: eks.requestsPerSecond,
      backfillMs: eks.backfillMinutes * 60_000,
      lookbackMs: eks.lookbackSecs * 1000,
      settleMs: eks.settleSecs * 1000,
      checkpointFile,
    },
    {
      ...shared,
      ingest: (events) => {
        deps.onRead(logGroupName, events.length)
        return deps.auditIngest(events, { via: 'eks-audit-cloudwatch' })
      },
      logger: deps.logger,
      registry: deps.registry,
      // Our backoff and rate limit, not the SDK's: maxAttempts 1.
      client: () => (client ??= import('@aws-sdk/client-cloudwatch-logs').then(({ CloudWatchLogsClient }) => new CloudWatchLogsClient({ region, maxAttempts: 1 }))),
    },
  )
}

/**
 * A sink's queue and rate limit in the shared store: one drainer cluster-wide, a token bucket every
 * replica draws from; a routed sink (a receiver) takes a finding only if the routes send it there.
 */
function sharedDelivery(cluster: Cluster, sink: Sink<unknown>, o: { routed: boolean; lifecycle: boolean; routeTo: (f: FindingState) => string[] }): { queue: DeliveryQueue<unknown>; bucket: { take(signal?: AbortSignal): Promise<void> } } {
  const wants = o.routed ? (f: Finding) => o.routeTo(f as FindingState).includes(sink.id) : undefined
  return {
    queue: cluster.queue({ id: sink.id, resendMs: sink.delivery.resendIntervalMs, lifecycle: o.lifecycle }, wants) as DeliveryQueue<unknown>,
    bucket: cluster.bucket(`sink:${sink.id}`, sink.delivery.rateLimit.requestsPerSecond, sink.delivery.rateLimit.burst),
  }
}

/**
 * The receivers a finding goes to: the route tree's choice, unless a silence matches. Default
 * route: HIGH and CRITICAL to the first receiver.
 */
function routeFindings(config: Readonly<Config>, silences: Silences, inhibited: (f: FindingState) => boolean): (f: FindingState) => string[] {
  const names = new Set(config.receivers.map((r) => r.name))
  if (names.size === 0) return () => []
  let router: (f: FindingState) => string[]
  try {
    router = compileRoutes(config.routing ?? { receivers: [config.receivers[0]!.name], matchers: ['severity >= HIGH'] }, names)
  } catch (err) {
    throw new errors.FALCONET_ERR_CONFIG(`  ${(err as Error).message}`)
  }
  return (f) => (inhibited(f) || silences.silenced(f) ? [] : router(f).map(receiverSinkId))
}
