import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type onRequestAsyncHookHandler } from 'fastify'
import helmet from '@fastify/helmet'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { installRequestMetrics, metricsRoute } from './metrics.js'
import { ingestMetricsFor } from '../monitor/ingest-metrics.js'
import { installSourceMonitor, type SourceSightings } from '../monitor/sightings.js'
import type { Config } from '../config/schema.js'
import type { Ingest } from '../model/ingest.js'
import { installErrorHandling } from './error-handler.js'
import { healthRoutes, type Readiness } from './health.js'
import { falcoHttpSource } from '../sources/falco-http.js'
import { testEventSource } from '../sources/test-event.js'
import { fluentBitSource } from '../sources/fluent-bit-http.js'
import { k8sAuditWebhook } from '../sources/k8s-audit-webhook.js'
import type { AuditIngest } from '../model/ingest.js'
import { adminApi } from './admin-api.js'
import type { Silences } from '../route/silences.js'
import { installRateLimits } from './rate-limit.js'
import { httpsOptions, watchCertificates } from './tls.js'
import { CredentialSet } from './auth/credentials.js'
import { isOpen, loadIngestCredentials, requireIngestCredentials, requireManagementToken } from './auth/ingest-auth.js'

export interface AppDeps {
  config: Readonly<Config>
  logger: Logger
  ingest: Ingest
  auditIngest: AuditIngest
  readiness: Readiness
  admin?: { silences: Silences }
  /** Whether a request-body key (a Fluent Bit chunk hash) was taken before. */
  seen?: (key: string) => boolean
  registry: Registry
  /** Source liveness (src/monitor): the sources report who talked. */
  monitor?: SourceSightings
  /** Where tokensEnv / adminTokenEnv are read from (tests pass their own). */
  env?: NodeJS.ProcessEnv
}

/** The HTTP app, without listening: tests build it and call `inject`, serve.ts owns the process. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { server } = deps.config
  const env = deps.env ?? process.env
  const https = httpsOptions(server.tls)
  const ingestCredentials = loadIngestCredentials(deps.config.auth, env)
  const managementTokens = new CredentialSet({
    file: deps.config.api.adminTokenFile,
    envValue: deps.config.api.adminTokenEnv ? env[deps.config.api.adminTokenEnv] : undefined,
    what: 'api.adminTokenFile',
  })
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    ...(https ? { https } : {}),
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // Our own ids: a client-chosen one would let a sender forge log correlation.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    // One line per Falco alert would drown the log; refusals and failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  })
  installErrorHandling(app)
  // Credential files are re-read from timers, off the request path.
  const stopWatching = [managementTokens, ...Object.values(ingestCredentials).flatMap((c) => [c.tokens, c.basic])].map((set) => set.watch())
  app.addHook('onClose', async () => stopWatching.forEach((stop) => stop()))
  if (https) {
    const stop = watchCertificates(app.server as import('node:https').Server, server.tls, deps.logger, server.tls.reloadCheckSecs * 1000)
    app.addHook('onClose', async () => stop())
  }
  installRequestMetrics(app, ingestMetricsFor(deps.registry))
  installSourceMonitor(app, deps.monitor)
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })
  // Responses are JSON for machines; the headers still matter if a browser ever opens one.
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    hsts: https ? { maxAge: 31_536_000 } : false,
    crossOriginEmbedderPolicy: false,
  })
  await installRateLimits(app, server.rateLimit)
  await app.register(healthRoutes, { readiness: deps.readiness })
  await app.register(metricsRoute, { registry: deps.registry })
  if (deps.admin) {
    await app.register(guarded(adminApi, requireManagementToken(managementTokens, 'disabled')), { silences: deps.admin.silences, config: deps.config })
  }
  await app.register(guarded(testEventSource, requireManagementToken(managementTokens, 'open')), { ingest: deps.ingest })
  await app.register(guarded(falcoHttpSource, requireIngestCredentials('falco', ingestCredentials)), { ingest: deps.ingest, bodyLimit: server.bodyLimitBytes })
  await app.register(guarded(k8sAuditWebhook, requireIngestCredentials('k8sAudit', ingestCredentials)), { auditIngest: deps.auditIngest, bodyLimit: deps.config.sources.k8sAudit.bodyLimitBytes })
  await app.register(guarded(fluentBitSource, requireIngestCredentials('fluentBit', ingestCredentials)), {
    ingest: deps.ingest,
    auditIngest: deps.auditIngest,
    seen: deps.seen ?? (() => false),
    config: deps.config.sources.fluentBit,
    dataDir: deps.config.dataDir,
    registry: deps.registry,
    logger: deps.logger,
  })
  for (const [source, creds] of Object.entries(ingestCredentials)) {
    if (isOpen(creds)) deps.logger.info({ source }, 'ingest source accepts requests without credentials (auth not configured)')
  }
  return app
}

/**
 * A plugin inside its own scope whose every route first passes `check`. It runs as a preParsing
 * hook: after the rate limiter (a route-level onRequest hook, which scope onRequest hooks would
 * precede), so refused credentials count against the client's limit and cannot be guessed at
 * full speed, and still before the body is read.
 */
function guarded<O>(plugin: FastifyPluginAsync<O & Record<never, never>>, check: onRequestAsyncHookHandler): FastifyPluginAsync<O & Record<never, never>> {
  return async (scope, opts) => {
    scope.addHook('preParsing', async (request, reply) => {
      await check.call(scope, request, reply)
    })
    await scope.register(plugin, opts)
  }
}
