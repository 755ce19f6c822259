import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { installRequestMetrics, metricsRoute } from './metrics.js'
import { ingestMetricsFor } from '../monitor/ingest-metrics.js'
import { installSourceMonitor, type SourceSightings } from '../monitor/sightings.js'
import type { Config } from '../config/schema.js'
import type { Ingest } from '../pipeline/pipeline.js'
import { installErrorHandling } from './error-handler.js'
import { healthRoutes, type Readiness } from './health.js'
import { falcoHttpSource } from '../sources/falco-http.js'
import { testEventSource } from '../sources/test-event.js'
import { fluentBitSource } from '../sources/fluent-bit-http.js'
import { k8sAuditWebhook } from '../sources/k8s-audit-webhook.js'
import type { AuditIngest } from '../pipeline/audit.js'
import { adminApi } from './admin-api.js'
import type { Silences } from '../route/silences.js'

export interface AppDeps {
  config: Readonly<Config>
  logger: Logger
  ingest: Ingest
  auditIngest: AuditIngest
  readiness: Readiness
  admin?: { silences: Silences; token: string | undefined }
  /** Whether a request-body key (a Fluent Bit chunk hash) was taken before. */
  seen?: (key: string) => boolean
  registry: Registry
  /** Source liveness (src/monitor): the sources report who talked. */
  monitor?: SourceSightings
}

/** The HTTP app, without listening: tests build it and call `inject`, serve.ts owns the process. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { server } = deps.config
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    // Falco never waits for long; a client that trickles a body must not hold a socket for ever.
    requestTimeout: 30_000,
    // One line per Falco alert would drown the log; refusals and failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  })
  installErrorHandling(app)
  installRequestMetrics(app, ingestMetricsFor(deps.registry))
  installSourceMonitor(app, deps.monitor)
  await app.register(healthRoutes, { readiness: deps.readiness })
  await app.register(metricsRoute, { registry: deps.registry })
  if (deps.admin) await app.register(adminApi, deps.admin)
  await app.register(falcoHttpSource, { ingest: deps.ingest, bodyLimit: server.bodyLimitBytes })
  await app.register(testEventSource, { ingest: deps.ingest })
  await app.register(k8sAuditWebhook, { auditIngest: deps.auditIngest, bodyLimit: deps.config.sources.k8sAudit.bodyLimitBytes })
  await app.register(fluentBitSource, {
    ingest: deps.ingest,
    auditIngest: deps.auditIngest,
    seen: deps.seen ?? (() => false),
    config: deps.config.sources.fluentBit,
    dataDir: deps.config.dataDir,
    registry: deps.registry,
    logger: deps.logger,
  })
  return app
}
