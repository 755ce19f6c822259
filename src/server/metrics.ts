import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client'
import type { Spool } from '../delivery/spool.js'
import type { IngestCounter } from '../sources/counters.js'
import { knownRoute, sourceOfRoute, type IngestMetrics } from '../monitor/ingest-metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's ingest counters (buildApp decorates the root, so every source plugin sees them). */
    ingestMetrics: IngestMetrics | undefined
  }
}

/** Spool gauges, read when scraped; `GET /metrics` in the Prometheus text format. */
export function registerSpoolGauges(registry: Registry, spool: Spool, sinks: readonly string[], budgetBytes: number, now: () => number = Date.now): void {
  const registers = [registry]
  new Gauge({
    name: 'falconet_spool_bytes',
    help: 'Bytes of live data in the spool.',
    registers,
    collect() {
      this.set(spool.usageBytes())
    },
  })
  new Gauge({
    name: 'falconet_spool_budget_bytes',
    help: 'The spool disk budget (spool.maxBytes).',
    registers,
    collect() {
      this.set(budgetBytes)
    },
  })
  new Gauge({
    name: 'falconet_spool_pending_findings',
    help: 'Findings queued for each sink (new or changed since their last delivery).',
    labelNames: ['sink'],
    registers,
    collect() {
      for (const sink of sinks) this.set({ sink }, spool.pendingCount(sink))
    },
  })
  new Gauge({
    name: 'falconet_spool_oldest_pending_age_seconds',
    help: 'How long the finding each sink has owed longest has been waiting (0 when nothing is queued). Includes the resend interval a repeat waits on purpose.',
    labelNames: ['sink'],
    registers,
    collect() {
      const at = now()
      for (const sink of sinks) {
        const oldest = spool.oldestPendingAt(sink)
        this.set({ sink }, oldest === undefined ? 0 : Math.max(0, (at - oldest) / 1000))
      }
    },
  })
}

export const metricsRoute: FastifyPluginAsync<{ registry: Registry }> = async (app, opts) => {
  collectDefaultMetrics({ register: opts.registry, prefix: 'falconet_' })
  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', opts.registry.contentType).send(await opts.registry.metrics())
  })
}

/**
 * Counts every answer, and every refusal on an ingest route by the error code its client got, in
 * one place: sources only report what they took (`countReceived`). Install on the root app before
 * any route, so the hooks and the route patterns cover every plugin.
 */
export function installRequestMetrics(app: FastifyInstance, metrics: IngestMetrics): void {
  app.decorate('ingestMetrics', metrics)
  // What sources see (src/sources/counters.ts): route patterns, mapped here to their source.
  const counter: IngestCounter = {
    received: (route, n) => {
      const source = sourceOfRoute(route)
      if (source) metrics.received(source, route, n)
    },
    rejected: (route, reason, n) => {
      const source = sourceOfRoute(route)
      if (source) metrics.rejected(source, route, reason, n)
    },
  }
  app.decorate('ingestCounter', counter)
  app.addHook('onRoute', (route) => knownRoute(route.url))
  const codes = new WeakMap<FastifyRequest, string | undefined>()
  app.addHook('onError', (request, _reply, error, done) => {
    codes.set(request, error.code)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url
    metrics.answered(route, reply.statusCode)
    if (reply.statusCode >= 400 && request.method !== 'GET') {
      const source = sourceOfRoute(route)
      if (source) metrics.refused(source, route, codes.get(request), reply.statusCode)
    }
    done()
  })
}

/** One request refused by the per-client rate limit, counted by its route pattern (never its path). */
export function countRateLimited(request: FastifyRequest): void {
  request.server.ingestMetrics?.rateLimited(request.routeOptions.url)
}
