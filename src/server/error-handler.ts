import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import { errors, type ErrorCode } from '../errors.js'
import { asFalconetRefusal } from './fastify-refusals.js'
import { RateLimitedLog } from './rate-limited-log.js'

const INTERNAL = new errors.FALCONET_ERR_INTERNAL()

/**
 * Every refusal is `{statusCode, error, code, message}` JSON. 4xx messages say what was wrong so
 * the sender can fix it; 5xx bodies never carry internals (no stack, no message), which only go
 * to the log.
 */
export function installErrorHandling(app: FastifyInstance): void {
  // A full spool answers every sender 503 until the sinks catch up: an expected condition (Fluent
  // Bit retries), counted by ingest metrics per code, logged at most every 10 s, never a stack.
  const overloaded = new RateLimitedLog(10_000)
  app.setErrorHandler((fastifyErr: FastifyError, request, reply) => {
    const err = asFalconetRefusal(fastifyErr, request)
    const statusCode = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    const exposed = statusCode < 500 || err.code?.startsWith('FALCONET_ERR_')
    if (err.code === 'FALCONET_ERR_OVERLOADED') overloaded.warn(request.log, { code: err.code, reason: err.message, route: request.routeOptions.url }, 'refusing input while overloaded (503 + Retry-After; senders retry)')
    else if (statusCode >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code: err.code, reason: err.message }, 'request refused')
    const headers = (err as { headers?: Record<string, string> }).headers
    if (headers) void reply.headers(headers)
    void reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      code: err.code ?? INTERNAL.code,
      message: exposed ? err.message : INTERNAL.message,
    })
  })
  app.setNotFoundHandler((request, reply) => {
    const err = new errors.FALCONET_ERR_NOT_FOUND(`no route ${request.method} ${request.url.split('?')[0]}: Falco posts to / or /falco, curl tests to /test`)
    void reply.code(404).send({ statusCode: 404, error: STATUS_CODES[404], code: err.code satisfies ErrorCode, message: err.message })
  })
}
