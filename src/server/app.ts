import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type onRequestAsyncHookHandler } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { installRequestMetrics, metricsRoute } from './metrics.js'
import { installResponseHeaders } from './security-headers.js'
import { withLazyChildren } from './logger.js'
import { ingestMetricsFor } from '../monitor/ingest-metrics.js'
import { installSourceMonitor, type SourceSightings } from '../monitor/sightings.js'
import type { Config } from '../config/schema.js'
import type { Ingest } from '../model/ingest.js'
import { installErrorHandling } from './error-handler.js'
import { clientErrorHandler } from './client-error.js'
import { installConnectionLimits } from './connection-limits.js'
import { requestIds } from './request-id.js'
import { Counter, type Registry as PromRegistry } from 'prom-client'
import { healthRoutes, type Readiness } from './health.js'
import { falcoHttpSource } from '../sources/falco-http.js'
import { testEventSource } from '../sources/test-event.js'
import { fluentBitSource } from '../sources/fluent-bit-http.js'
import { k8sAuditWebhook } from '../sources/k8s-audit-webhook.js'
import type { AuditIngest } from '../model/ingest.js'
import { adminApi } from './admin-api.js'
import { deliveryApi, type DeliveryView } from './delivery-api.js'
import type { Silences } from '../route/silences.js'
import { installRateLimits } from './rate-limit.js'
import { httpsOptions, watchCertificates } from './tls.js'
import { CredentialSet } from './auth/credentials.js'
import { isOpen, loadIngestCredentials, requireIngestCredentials, requireManagementToken } from './auth/ingest-auth.js'
import { mountConsole, type ConsoleDeps } from '../console/mount.js'

export interface AppDeps {
  config: Readonly<Config>
  logger: Logger
  ingest: Ingest
  auditIngest: AuditIngest
  readiness: Readiness
  admin?: { silences: Silences; delivery?: DeliveryView }
  /** Whether a request-body key (a Fluent Bit chunk hash) was taken before. */
  seen?: (key: string) => boolean
  registry: Registry
  /** Source liveness (src/monitor): the sources report who talked. */
  monitor?: SourceSightings
  /** Where tokensEnv / adminTokenEnv are read from (tests pass their own). */
  env?: NodeJS.ProcessEnv
  /** The web console's index and actions (src/console); without it only the bearer token opens /api. */
  console?: ConsoleDeps
}

/** The HTTP app, without listening: tests build it and call `inject`, serve.ts owns the process. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { server } = deps.config
  const env = deps.env ?? process.env
  const https = httpsOptions(server.tls)
  const refusedByParser = parserRefusals(deps.registry)
  const ingestCredentials = loadIngestCredentials(deps.config.auth, env)
  const managementTokens = new CredentialSet({
    file: deps.config.api.adminTokenFile,
    envValue: deps.config.api.adminTokenEnv ? env[deps.config.api.adminTokenEnv] : undefined,
    what: 'api.adminTokenFile',
  })
  // Node's own timeouts: slow headers are cut after headersTimeoutMs, checked often enough that a
  // slowloris socket does not outlive it by Node's default 30 s check interval.
  const timeouts = { headersTimeout: Math.min(server.headersTimeoutMs, server.requestTimeoutMs), connectionsCheckingInterval: Math.max(250, Math.floor(server.headersTimeoutMs / 4)) }
  const app = Fastify({
    // Each request's child logger is made on its first line (most requests log none).
    loggerInstance: withLazyChildren(deps.logger as FastifyBaseLogger),
    ...(https ? { https: { ...https, ...timeouts } } : { http: timeouts }),
    // /falco/<token>: a token may be longer than find-my-way's default 100 characters.
    routerOptions: { maxParamLength: 4096 },
    clientErrorHandler: clientErrorHandler((code) => refusedByParser.inc({ code })),
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // Our own ids (request-id.ts): a client-chosen one would let a sender forge log correlation.
    requestIdHeader: false,
    genReqId: requestIds(),
    // One line per Falco alert would drown the log; refusals and failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
  })
  installErrorHandling(app)
  installConnectionLimits(app, server, { registry: deps.registry, logger: deps.logger })
  // Credential files are re-read from timers, off the request path.
  const stopWatching = [managementTokens, ...Object.values(ingestCredentials).flatMap((c) => [c.tokens, c.basic])].map((set) => set.watch())
  app.addHook('onClose', async () => stopWatching.forEach((stop) => stop()))
  if (https) {
    const stop = watchCertificates(app.server as import('node:https').Server, server.tls, deps.logger, server.tls.reloadCheckSecs * 1000)
    app.addHook('onClose', async () => stop())
  }
  installRequestMetrics(app, ingestMetricsFor(deps.registry))
  installSourceMonitor(app, deps.monitor)
  installResponseHeaders(app, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    hsts: https ? { maxAge: 31_536_000 } : false,
    crossOriginEmbedderPolicy: false,
  })
  await installRateLimits(app, server.rateLimit)
  await app.register(healthRoutes, { readiness: deps.readiness })
  // /metrics describes the service (sources, spool, sinks) and is costly to render: with a
  // management token configured it needs that token (the chart's ServiceMonitor sends it).
  await app.register(guarded(metricsRoute, requireManagementToken(managementTokens, 'open')), { registry: deps.registry })
  const admin = deps.admin
  await mountConsole(app, {
    config: deps.config,
    logger: deps.logger,
    tokens: managementTokens,
    env,
    deps: deps.console,
    apis: async (scope, apiAccess) => {
      if (!admin) return
      await scope.register(guarded(adminApi, apiAccess), { silences: admin.silences, config: deps.config })
      if (admin.delivery) await scope.register(guarded(deliveryApi, apiAccess), { view: admin.delivery })
    },
  })
  await app.register(guarded(testEventSource, requireManagementToken(managementTokens, 'open')), { ingest: deps.ingest })
  await app.register(guarded(falcoHttpSource, requireIngestCredentials('falco', ingestCredentials)), { ingest: deps.ingest, bodyLimit: server.bodyLimitBytes, maxFutureSkewMs: deps.config.sources.maxFutureSkewSecs * 1000 })
  await app.register(guarded(k8sAuditWebhook, requireIngestCredentials('k8sAudit', ingestCredentials)), { auditIngest: deps.auditIngest, bodyLimit: deps.config.sources.k8sAudit.bodyLimitBytes, maxFutureSkewMs: deps.config.sources.maxFutureSkewSecs * 1000 })
  await app.register(guarded(fluentBitSource, requireIngestCredentials('fluentBit', ingestCredentials)), {
    ingest: deps.ingest,
    auditIngest: deps.auditIngest,
    seen: deps.seen ?? (() => false),
    config: deps.config.sources.fluentBit,
    maxFutureSkewMs: deps.config.sources.maxFutureSkewSecs * 1000,
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
 * full speed, and still before the body is read. Without a check (no credential configured for
 * these routes, which is fixed at start-up) the routes get no hook at all.
 */
function guarded<O>(plugin: FastifyPluginAsync<O & Record<never, never>>, check: onRequestAsyncHookHandler | undefined): FastifyPluginAsync<O & Record<never, never>> {
  if (!check) return plugin
  return async (scope, opts) => {
    scope.addHook('preParsing', async (request, reply) => {
      await check.call(scope, request, reply)
    })
    await scope.register(plugin, opts)
  }
}

/** Requests Node's parser refused before routing (client-error.ts), by the code the client got. */
function parserRefusals(registry: PromRegistry): Counter<'code'> {
  const name = 'falconet_http_parser_refusals_total'
  return (registry.getSingleMetric(name) as Counter<'code'> | undefined) ?? new Counter({ name, help: 'Requests refused by the HTTP parser (malformed, headers too large, timed out), by code.', labelNames: ['code'], registers: [registry] })
}
