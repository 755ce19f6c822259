import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { errors } from '../errors.js'
import type { Config } from '../config/schema.js'
import { countRateLimited } from './metrics.js'
import { sourceOfRoute, type SourceName } from '../monitor/ingest-metrics.js'

type Limited = 'falco' | 'fluentBit' | 'k8sAudit' | 'management' | 'console'

/** Each input's limit (server.rateLimit keys); the test endpoint shares the management API's. */
const LIMIT_OF_SOURCE: Partial<Record<SourceName, Limited>> = { falco: 'falco', 'fluent-bit': 'fluentBit', 'k8s-audit': 'k8sAudit', test: 'management' }

/** The route's limit, from the same route → source mapping the metrics use; probes and /metrics have none. */
function limitOf(request: FastifyRequest): Limited | undefined {
  return limitOfRoute(request.routeOptions.url, request.headers.cookie?.includes('falconet_session=') === true)
}

function limitOfRoute(url: string | undefined, session: boolean): Limited | undefined {
  // Sign-in attempts share the management limit (no guessing at speed); a browser with a console
  // session loads several API calls per page and gets its own, higher limit.
  if (url?.startsWith('/ui/auth/')) return 'management'
  if (url?.startsWith('/api/')) return session ? 'console' : 'management'
  if (url === '/ui' || url?.startsWith('/ui/')) return 'console'
  const source = sourceOfRoute(url)
  return source ? LIMIT_OF_SOURCE[source] : undefined
}

/**
 * Per-client, per-endpoint requests per second (@fastify/rate-limit, its in-memory LRU store: at most
 * `clients` addresses remembered). A refusal is 429 with Retry-After and the usual JSON body, and is
 * counted in falconet_http_rate_limited_total by route pattern (never by address: the label set
 * stays bounded).
 */
export async function installRateLimits(app: FastifyInstance, limits: Config['server']['rateLimit']): Promise<void> {
  // A route with no limit, or a limit of 0 whoever asks, gets no rate-limit hook at all (fixed at
  // start-up): nothing to count per request. Added before the plugin's own onRoute hook, which reads it.
  app.addHook('onRoute', (route) => {
    const unlimited = [false, true].every((session) => {
      const kind = limitOfRoute(route.url, session)
      return kind === undefined || limits[kind] === 0
    })
    if (unlimited) route.config = { ...route.config, rateLimit: false }
  })
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
