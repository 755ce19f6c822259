import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Silences } from '../route/silences.js'

/**
 * Management endpoints, behind their own bearer token (api.adminTokenFile / FALCONET_ADMIN_TOKEN),
 * compared in constant time. Without a token configured they answer 403 and say how to enable them.
 *   GET /api/silences · POST /api/silences {matchers, endsAt, createdBy, comment} · DELETE /api/silences/:id
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

export const adminApi: FastifyPluginAsync<{ silences: Silences; token: string | undefined }> = async (app, opts) => {
  const expected = opts.token ? digest(opts.token) : undefined
  app.addHook('onRequest', async (request, reply) => {
    if (!expected) return reply.code(403).send({ statusCode: 403, error: 'Forbidden', code: 'FALCONET_ERR_API_DISABLED', message: 'the management API is off: set api.adminTokenFile or FALCONET_ADMIN_TOKEN' })
    if (!authorized(request, expected)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', code: 'FALCONET_ERR_UNAUTHORIZED', message: 'a valid bearer token is required' })
    }
  })
  app.get('/api/silences', async () => ({ silences: opts.silences.list() }))
  app.post('/api/silences', { schema: { body: SilenceBody } }, async (request, reply) => {
    try {
      const silence = await opts.silences.add(request.body as { matchers: string[]; endsAt: string; createdBy: string; comment: string })
      return reply.code(201).send(silence)
    } catch (err) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', code: 'FALCONET_ERR_INVALID_SILENCE', message: (err as Error).message })
    }
  })
  app.delete<{ Params: { id: string } }>('/api/silences/:id', async (request, reply) => {
    try {
      return (await opts.silences.remove(request.params.id)) ? reply.code(204).send() : reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'FALCONET_ERR_NOT_FOUND', message: 'no such silence' })
    } catch (err) {
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', code: 'FALCONET_ERR_CONFIGURED_SILENCE', message: (err as Error).message })
    }
  })
}

/** Both sides hashed first, so the comparison takes the same time whatever the lengths. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

function authorized(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization ?? ''
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
  return token !== undefined && timingSafeEqual(digest(token), expected)
}
