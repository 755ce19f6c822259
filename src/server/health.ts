import type { FastifyPluginAsync } from 'fastify'

export interface Readiness {
  /** Per sink: can it deliver now (identity resolved, destination reachable at start)? */
  sinks(): Record<string, { ready: boolean; pending: number }>
  /** Other components that must be ready (enrichment's first sync, bounded by its timeout). */
  components?(): Record<string, { ready: boolean } & Record<string, unknown>>
}

/**
 * /healthz: the process answers (liveness; restart it if not). /readyz: every sink has started
 * (readiness; a not-ready pod still accepts alerts if reached, it just is not advertised).
 */
export const healthRoutes: FastifyPluginAsync<{ readiness: Readiness }> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const sinks = opts.readiness.sinks()
    const components = opts.readiness.components?.() ?? {}
    const ready = [...Object.values(sinks), ...Object.values(components)].every((s) => s.ready)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', sinks, ...components })
  })
}
