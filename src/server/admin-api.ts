import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Silences } from '../route/silences.js'
import type { Config } from '../config/schema.js'
import { errors } from '../errors.js'

/**
 * Management endpoints. app.ts puts them behind their own bearer token (api.adminTokenFile /
 * FALCONET_ADMIN_TOKEN); without a token configured they answer 403 and say how to enable them.
 *   GET /api/silences · POST /api/silences {matchers, endsAt, createdBy, comment} · DELETE /api/silences/:id
 *   GET /api/config: the effective configuration. Secrets are file paths or variable names, but
 *   receivers' extra headers and URLs with user-info can carry one inline: those values are masked.
 */
const SilenceBody = Type.Object(
  {
    matchers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    endsAt: Type.String({ minLength: 1 }),
    createdBy: Type.String({ minLength: 1, maxLength: 200 }),
    comment: Type.String({ maxLength: 2000, default: '' }),
  },
  { additionalProperties: false },
)

export const adminApi: FastifyPluginAsync<{ silences: Silences; config: Readonly<Config> }> = async (app, opts) => {
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store')
  })
  app.get('/api/config', async () => masked(opts.config))
  app.get('/api/silences', async () => ({ silences: opts.silences.list() }))
  app.post('/api/silences', { schema: { body: SilenceBody } }, async (request, reply) => {
    try {
      const body = request.body as { matchers: string[]; endsAt: string; createdBy: string; comment: string }
      // A console session says who it is; only a bearer-token script names its author in the body.
      const who = request.identity && request.identity.via !== 'bearer' ? request.identity.who : body.createdBy
      const silence = await opts.silences.add({ ...body, createdBy: who })
      return reply.code(201).send(silence)
    } catch (err) {
      throw new errors.FALCONET_ERR_INVALID_SILENCE((err as Error).message)
    }
  })
  app.delete<{ Params: { id: string } }>('/api/silences/:id', async (request, reply) => {
    let removed: boolean
    try {
      removed = await opts.silences.remove(request.params.id)
    } catch (err) {
      throw new errors.FALCONET_ERR_CONFIGURED_SILENCE((err as Error).message)
    }
    if (!removed) throw new errors.FALCONET_ERR_NOT_FOUND('no such silence')
    return reply.code(204).send()
  })
}

/** A copy with every header value and URL user-info replaced: the view is for reading, not for secrets. */
export function masked(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => masked(v))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, key === 'headers' ? '[masked]' : masked(v, k)]))
  }
  if (typeof value === 'string') return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1[masked]@')
  return value
}
