import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { errors } from '../errors.js'
import type { Config } from '../config/schema.js'
import { countRateLimited } from './metrics.js'

type Limited = 'falco' | 'fluentBit' | 'k8sAudit' | 'management'

/** Route pattern → the limit it counts against; routes not listed (probes, /metrics) are never limited. */
function limitOf(request: FastifyRequest): Limited | undefined {
  const url = request.routeOptions.url
  if (url === undefined) return undefined
  if (url === '/' || url === '/falco' || url.startsWith('/falco/')) return 'falco'
  if (url.startsWith('/fluent-bit')) return 'fluentBit'
  if (url === '/k8s-audit') return 'k8sAudit'
  if (url === '/test' || url.startsWith('/api/')) return 'management'
  return undefined
}

/**
 * Per-client, per-endpoint requests per second (@fastify/rate-limit, its in-memory LRU store: at most
 * `clients` addresses remembered). A refusal is 429 with Retry-After and the usual JSON body, and is
 * counted in falconet_http_rate_limited_total by route pattern (never by address: the label set
 * stays bounded).
 */
export async function installRateLimits(app: FastifyInstance, limits: Config['server']['rateLimit']): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    timeWindow: 1000,
    cache: limits.clients,
    max: (request) => limits[limitOf(request)!],
    allowList: (request) => {
      const kind = limitOf(request)
      return kind === undefined || limits[kind] === 0
    },
    keyGenerator: (request) => `${request.ip}|${limitOf(request)}`,
    onExceeded: (request) => countRateLimited(request),
    errorResponseBuilder: (_request, context) => new errors.FALCONET_ERR_RATE_LIMITED(`more than ${context.max} requests per second from this address; retry in ${context.after}`),
  })
}
