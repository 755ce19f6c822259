import { resolve, join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import type { Config } from '../config/schema.js'
import { createLogger } from './logger.js'
import { buildApp } from './app.js'
import { registerSpoolGauges } from './metrics.js'
import { createPipeline, createResolver, type Ingest, type Resolve } from '../pipeline/pipeline.js'
import { createMonitor } from '../monitor/index.js'
import { ingestMetricsFor, POLLER_ROUTE } from '../monitor/ingest-metrics.js'
import { SinkRunner } from '../delivery/sink-runner.js'
import { DeadLetterFile } from '../delivery/dead-letter.js'
import { DeliveryMetrics } from '../delivery/metrics.js'
import { Spool } from '../delivery/spool.js'
import { guardSpool } from '../delivery/spool-guard.js'
import { sinkDefinitions } from '../sinks/registry.js'
import { asffContextProvider, checkAwsSettings } from '../aws/identity.js'
import type { DeliveryConfig } from '../delivery/config.js'
import type { DeliveryQueue } from '../delivery/queue.js'
import type { Sink } from '../sinks/sink.js'
import { createEnrichment } from '../enrich/index.js'
import { regionOf } from '../aws/identity.js'
import { createAuditDetector } from '../detect/audit/detector.js'
import { AUDIT_OUTBOX, createAuditIngest } from '../pipeline/audit.js'
import { EksAuditPoller, fileCheckpoints } from '../sources/eks-audit-cloudwatch.js'
import { sharedPolling } from '../cluster/audit-poller.js'
import { SharedLiveness } from '../cluster/liveness.js'
import type { Cluster } from '../cluster/index.js'
import { errors } from '../errors.js'
import { createReceiverSink, receiverSinkId, RECEIVER_TYPES } from '../sinks/receiver.js'
import { compileRoutes } from '../route/tree.js'
import { Silences } from '../route/silences.js'
import { compileInhibitions, type InhibitRule } from '../route/inhibit.js'
import type { FindingState } from '../aggregate/aggregator.js'
import { createCluster } from '../cluster/index.js'
import { SharedDocs } from '../cluster/shared-docs.js'

export interface Running {
  app: FastifyInstance
  runners: SinkRunner[]
  close(): Promise<void>
}

/** Wires config → spool → sinks → pipeline → HTTP app and owns their lifetime. */
export async function serve(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  checkAwsSettings(config, env)
  const logger = createLogger(config.logLevel)
  const dataDir = resolve(config.dataDir)
  const registry = new Registry()
  const deadLetters = new DeadLetterFile(dataDir, logger)
  const asffContext = asffContextProvider(config, env)

  const sinkConfigs = config.sinks as Record<string, DeliveryConfig & { enabled: boolean }>
  const enabled = sinkDefinitions.filter((d) => sinkConfigs[d.id]?.enabled)
  const build = (d: (typeof enabled)[number]) => d.create(sinkConfigs[d.id], { dataDir, logger, asffContext })
  const findingSinks = enabled.filter((d) => (d.consumes ?? 'findings') === 'findings').map(build)
  const auditSinks = enabled.filter((d) => d.consumes === 'audit-events').map(build)
  const names = config.receivers.map((r) => r.name)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i)
  if (duplicate) throw new errors.FALCONET_ERR_CONFIG(`  receivers: the name "${duplicate}" is used twice`)
  // Silences and inhibition are asked again when a message is sent (one may arrive while it waits).
  const mutedNow = (f: Parameters<typeof inhibited>[0]) => silences.silenced(f) !== undefined || inhibited(f)
  const receivers = config.receivers.map((r) => createReceiverSink(r, { dataDir, logger, asffContext }, env, mutedNow as never))
  const sinks = [...findingSinks, ...receivers]
  if (sinks.length === 0) logger.warn('no sink is enabled: findings are spooled but go nowhere')
  const sinkIds = findingSinks.map((s) => s.id)

  const spool = new Spool({
    dir: join(dataDir, 'spool'),
    maxBytes: config.spool.maxBytes,
    durability: config.spool.durability as 'process' | 'disk',
    resendMs: Object.fromEntries(sinks.map((s) => [s.id, s.delivery.resendIntervalMs])),
    logger,
  })
  const windowMs = config.findings.windowSecs * 1000
  const aggregateOptions = { cluster: config.cluster.name, keyFields: config.findings.keyFields, severityMapping: config.severityMapping, windowMs }
  // Several replicas (cluster.store.url): occurrences merge in the shared store, sinks drain its queues.
  const cluster = await createCluster(config.cluster.store, aggregateOptions, { logger, registry, env, spool })
  const sharedDocs = cluster ? new SharedDocs(cluster.store, ['silences'], logger) : undefined
  if (sharedDocs && (await cluster!.store.ready(5000))) await sharedDocs.refresh()
  const metrics = new DeliveryMetrics(registry)
  metrics.declare([...sinks.map((s) => s.id), ...auditSinks.slice(0, 1).map((s) => s.id)])
  registerSpoolGauges(registry, spool, sinks.map((s) => s.id), config.spool.maxBytes) // receivers too: a stuck Slack queue must show
  // Sinks that track a finding's life: they get its archived version when its window closes.
  const lifecycleSinks = new Set(['securityhub', ...config.receivers.filter((r) => RECEIVER_TYPES[r.type]?.tracksLifecycle).map((r) => receiverSinkId(r.name))])
  const silences = new Silences(sharedDocs ?? spool.state, Date.now, config.silences)
  sharedDocs?.onChange(() => silences.reload())
  const inhibited = compileInhibitions(config.inhibit as InhibitRule[], windowMs)
  const routeTo = routeFindings(config, silences, inhibited)
  const queueOf = (sink: Sink<unknown>): DeliveryQueue<unknown> => {
    if (!cluster) return spool.findingQueue(sink.id) as DeliveryQueue<unknown>
    const receiver = !sinkIds.includes(sink.id)
    const shared = { id: sink.id, resendMs: sink.delivery.resendIntervalMs, lifecycle: lifecycleSinks.has(sink.id) }
    return cluster.queue(shared, receiver ? (f) => routeTo(f as FindingState).includes(sink.id) : undefined) as DeliveryQueue<unknown>
  }
  const bucketOf = (sink: Sink<unknown>) => (cluster ? { bucket: cluster.bucket(`sink:${sink.id}`, sink.delivery.rateLimit.requestsPerSecond, sink.delivery.rateLimit.burst) } : {})
  const runners: SinkRunner[] = [
    ...sinks.map((sink) => new SinkRunner(sink as Sink<unknown>, { logger, queue: queueOf(sink as Sink<unknown>), deadLetters, metrics, ...bucketOf(sink as Sink<unknown>) })),
    // One audit outbox: a single audit-event sink (the Falco bridge) drains it.
    ...auditSinks.slice(0, 1).map((sink) => new SinkRunner(sink as Sink<unknown>, { logger, queue: spool.outboxQueue(AUDIT_OUTBOX), deadLetters, metrics })),
  ]
  const stopGuard = guardSpool(
    spool,
    {
      maxBytes: config.spool.maxBytes,
      shedPolicy: config.spool.shedPolicy as 'none' | 'low-severity',
      shedAtPercent: config.spool.shedAtPercent,
      windowMs,
      chunkTtlMs: config.sources.fluentBit.dedupeWindowSecs * 1000,
      archiveTo: (sink) => lifecycleSinks.has(sink),
    },
    { logger, deadLetters },
  )

  const region = regionOf(config, env)
  const enrichment = config.enrichment.enabled
    ? createEnrichment(config.enrichment, { logger, registry, ...(config.cluster.name ? { clusterName: config.cluster.name } : {}), ...(region ? { region } : {}) })
    : undefined
  // The monitor watches the pipeline (hooks) and feeds it (silent sources): bound both ways.
  let ingest: Ingest = async () => ({ duplicate: false })
  let resolveFinding: Resolve = async () => false
  // Several replicas: sightings are merged in the store, the lease holder raises silences.
  const sharedLiveness = cluster && config.monitor.enabled ? new SharedLiveness(cluster, config.monitor.forgetAfterSecs * 1000) : undefined
  const monitor = createMonitor(config.monitor, {
    ...(sharedLiveness ? { raises: sharedLiveness.raises } : {}),
    registry,
    logger,
    store: spool.state,
    ingest: (events, options) => ingest(events, options),
    resolve: (event, options) => resolveFinding(event, options),
    ...(enrichment ? { nodeKnown: enrichment.knowsNode } : {}),
    windowMs,
  })
  // With a store nothing is queued locally: the store's merged finding is what the sinks get.
  const findingSinksFor = cluster ? () => [] : (finding: FindingState) => [...sinkIds, ...routeTo(finding)]
  ingest = createPipeline(aggregateOptions, spool, findingSinksFor, enrichment?.enrich, monitor.hooks, cluster?.replication)
  resolveFinding = createResolver(aggregateOptions, spool, findingSinksFor, enrichment?.enrich, monitor.hooks, cluster?.replication)
  const auditIngest = createAuditIngest((store) => createAuditDetector(config.audit, { store, now: Date.now }), ingest, spool, auditSinks.length > 0)
  const eks = config.sources.eksAudit
  const ingestMetrics = ingestMetricsFor(registry)
  const poller = eks.enabled
    ? createPoller(config, eks, {
        auditIngest,
        logger,
        registry,
        dataDir,
        region,
        cluster,
        // Read from CloudWatch: the audit log arrives (counted, and the monitor hears from the poller).
        onRead: (logGroupName, n) => {
          ingestMetrics.received('eks-audit', POLLER_ROUTE, n)
          monitor.liveness?.seen('eks-audit', logGroupName)
        },
      })
    : undefined
  const readiness = {
    sinks: () => Object.fromEntries(runners.map((r) => [r.sink.id, { ready: r.ready, pending: r.pending }])),
    components: (): Record<string, { ready: boolean; synced: boolean }> => (enrichment ? { enrichment: enrichment.ready() } : {}),
  }
  const app = await buildApp({ config, logger, ingest, auditIngest, readiness, registry, admin: { silences }, env, seen: (key) => spool.unseen([key]).length === 0, ...(monitor.liveness ? { monitor: monitor.liveness } : {}) })
  for (const runner of runners) runner.start()
  cluster?.start()
  sharedDocs?.start(1000)
  if (sharedLiveness && monitor.liveness) sharedLiveness.start(monitor.liveness, Math.min(5000, config.monitor.checkIntervalSecs * 1000))
  poller?.start()
  monitor.start()

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      await app.close() // stop accepting first, then flush what was accepted
      await poller?.stop()
      await monitor.stop()
      await stopGuard()
      enrichment?.stop()
      await Promise.all(runners.map((r) => r.close(config.server.shutdownGraceMs)))
      const left = Object.fromEntries(runners.map((r) => [r.sink.id, r.pending]))
      sharedDocs?.stop()
      sharedLiveness?.stop()
      await cluster?.close()
      await spool.close()
      logger.info({ pendingInSpool: left, deadLettered: deadLetters.count }, 'falconet stopped')
    })())

  const pendingAtStart = Object.fromEntries(runners.map((r) => [r.sink.id, r.pending]))
  await app.listen({ host: config.server.host, port: config.server.port })
  logger.info(
    { port: config.server.port, dataDir, sinks: sinkIds, pendingAtStart },
    `falconet listening on ${config.server.host}:${config.server.port}`,
  )
  return { app, runners, close }
}

/** The process: serve, and on SIGTERM/SIGINT stop accepting, flush, exit. */
export async function serveProcess(config: Readonly<Config>): Promise<void> {
  const running = await serve(config)
  closeWithGrace({ delay: config.server.shutdownGraceMs + 5_000 }, async ({ err, signal }) => {
    if (err) running.app.log.error({ err }, 'stopping after an unexpected error')
    else running.app.log.info({ signal }, 'stopping')
    await running.close()
  })
}

function createPoller(
  config: Readonly<Config>,
  eks: Readonly<Config['sources']['eksAudit']>,
  deps: {
    auditIngest: ReturnType<typeof createAuditIngest>
    logger: ReturnType<typeof createLogger>
    registry: Registry
    dataDir: string
    region: string | undefined
    cluster: Cluster | undefined
    onRead: (logGroupName: string, events: number) => void
  },
): EksAuditPoller {
  const logGroupName = eks.logGroupName ?? (config.cluster.name ? `/aws/eks/${config.cluster.name}/cluster` : undefined)
  if (!logGroupName) throw new errors.FALCONET_ERR_CONFIG('  sources.eksAudit.logGroupName: required unless cluster.name is set')
  if (!deps.region) throw new errors.FALCONET_ERR_CONFIG('  aws.region: required when sources.eksAudit.enabled is true (or set AWS_REGION)')
  let client: Promise<import('@aws-sdk/client-cloudwatch-logs').CloudWatchLogsClient> | undefined
  const checkpointFile = join(deps.dataDir, 'eks-audit', 'checkpoint.json')
  // Several pollers with a store: one reads (a lease), the checkpoint is shared and fenced.
  const shared = deps.cluster ? sharedPolling(deps.cluster, logGroupName, fileCheckpoints(checkpointFile)) : {}
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
        return deps.auditIngest(events)
      },
      logger: deps.logger,
      registry: deps.registry,
      // Our backoff and rate limit, not the SDK's: maxAttempts 1.
      client: () => (client ??= import('@aws-sdk/client-cloudwatch-logs').then(({ CloudWatchLogsClient }) => new CloudWatchLogsClient({ region: deps.region!, maxAttempts: 1 }))),
    },
  )
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

