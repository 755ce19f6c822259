import type { FastifyPluginAsync } from 'fastify'

export interface Readiness {
  /** Per sink: can it deliver now (identity resolved, destination reachable at start)? */
  sinks(): Record<string, { ready: boolean; pending: number }>
}

/**
 * /healthz: the process answers (liveness; restart it if not). /readyz: every sink has started
 * (readiness; a not-ready pod still accepts alerts if reached, it just is not advertised).
 */
export const healthRoutes: FastifyPluginAsync<{ readiness: Readiness }> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const sinks = opts.readiness.sinks()
    const ready = Object.values(sinks).every((s) => s.ready)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', sinks })
  })
}
