import type { FastifyError, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'

/**
 * Fastify refuses some requests itself, before a route runs: a Content-Type no parser takes
 * (`curl -d hello` sends application/x-www-form-urlencoded), a body over the route's limit, an
 * empty or malformed JSON body, a body that fails a route's schema. Its bare messages ("Unsupported
 * Media Type: application/x-www-form-urlencoded") do not say what to send instead, and its
 * `FST_ERR_*` codes are not in docs/errors.md. Here each becomes the falconet error that means the
 * same, with a hint for the endpoint that refused it; everything else passes through unchanged.
 */
export function asFalconetRefusal(err: FastifyError, request: FastifyRequest): FastifyError {
  if (!err.code?.startsWith('FST_ERR_')) return err
  const route = request.routeOptions.url ?? request.url.split('?')[0] ?? ''
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const sent = request.headers['content-type'] ? `Content-Type ${cut(request.headers['content-type'])}` : 'a body without a Content-Type'
      return new errors.FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE(`${sent} is not read at ${route}: ${mediaHint(route)}`)
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request.routeOptions.bodyLimit
      return new errors.FALCONET_ERR_BODY_TOO_LARGE(`over the ${limit ?? 'configured'}-byte limit of ${route}${limitKey(route)}`)
    }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new errors.FALCONET_ERR_EMPTY_BODY()
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new errors.FALCONET_ERR_INVALID_JSON(err.message)
    default:
      // Schema validation (the silences API), a Content-Length that does not match the body, …
      return err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? new errors.FALCONET_ERR_INVALID_REQUEST(err.message) : err
  }
}

function mediaHint(route: string): string {
  if (route === '/' || route.startsWith('/falco')) return "send one Falco alert (or a JSON array of alerts) with Content-Type: application/json, as Falco's http_output does with json_output: true"
  if (route === '/test') return 'send no body (POST /test?priority=Critical) or a JSON body {"priority": …} with Content-Type: application/json'
  if (route.startsWith('/api/')) return 'send JSON with Content-Type: application/json'
  return 'send application/json'
}

function limitKey(route: string): string {
  if (route === '/' || route.startsWith('/falco') || route === '/test') return ' (server.bodyLimitBytes)'
  if (route.startsWith('/fluent-bit')) return ' (sources.fluentBit.bodyLimitBytes)'
  if (route === '/k8s-audit') return ' (sources.k8sAudit.bodyLimitBytes)'
  return ''
}

function cut(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value
}
