import type { FastifyPluginAsync } from 'fastify'
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client'
import type { Spool } from '../delivery/spool.js'

/** Spool gauges, read when scraped; `GET /metrics` in the Prometheus text format. */
export function registerSpoolGauges(registry: Registry, spool: Spool, sinks: readonly string[], budgetBytes: number): void {
  const registers = [registry]
  new Gauge({ name: 'falconet_spool_bytes', help: 'Bytes of live data in the spool.', registers, collect() { this.set(spool.usageBytes()) } })
  new Gauge({ name: 'falconet_spool_budget_bytes', help: 'The spool disk budget (spool.maxBytes).', registers, collect() { this.set(budgetBytes) } })
  new Gauge({
    name: 'falconet_spool_pending_findings',
    help: 'Findings queued for each sink (new or changed since their last delivery).',
    labelNames: ['sink'],
    registers,
    collect() {
      for (const sink of sinks) this.set({ sink }, spool.pendingCount(sink))
    },
  })
}

export const metricsRoute: FastifyPluginAsync<{ registry: Registry }> = async (app, opts) => {
  collectDefaultMetrics({ register: opts.registry, prefix: 'falconet_' })
  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', opts.registry.contentType).send(await opts.registry.metrics())
  })
}
