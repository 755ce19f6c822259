import { Counter, type Registry } from 'prom-client'
import { errors } from '../errors.js'
import type { FindingState } from '../aggregate/aggregator.js'
import { TwoLabelCounter } from './tally.js'

/**
 * What comes in and what becomes of it: events received per source and route, refusals by
 * reason, findings by severity, HTTP answers, rate-limited requests. Every label has a fixed or
 * code-bounded set of values — sources and reasons are enums, `route` is a route pattern
 * (`/fluent-bit/*`, never the path a client sent: tokens can be in paths) — because
 * falcosidekick's unbounded labels (pod names, rule outputs) ran Prometheus and itself out of
 * memory.
 */

/** The inputs falconet has; the value of every `source` label. */
export const SOURCES = ['falco', 'fluent-bit', 'k8s-audit', 'eks-audit', 'test'] as const
export type SourceName = (typeof SOURCES)[number]

/**
 * The `route` label of the CloudWatch Logs poller, which has none. (Not `endpoint`: the Prometheus
 * Operator gives every scraped series an `endpoint` target label, which would rename ours.)
 */
export const POLLER_ROUTE = 'cloudwatch-logs'

/**
 * Why an input was refused: the codes a client gets back (src/errors.ts), fastify's body-parser
 * refusals under the falconet code that means the same, `FALCONET_ERR_INTERNAL` for 5xx, `other`.
 */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'FALCONET_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'FALCONET_ERR_EMPTY_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'FALCONET_ERR_INVALID_JSON',
}

export function rejectReason(code: string | undefined, statusCode: number): string {
  if (code && code in errors) return code
  if (code && FASTIFY_CODES[code]) return FASTIFY_CODES[code]
  return statusCode >= 500 ? 'FALCONET_ERR_INTERNAL' : 'other'
}

/**
 * Route patterns registered in this process (collected by an onRoute hook): code decides them,
 * never a client. Each with its source, asked on every request.
 */
const routePatterns = new Map<string, SourceName | undefined>()

export function knownRoute(pattern: string): void {
  routePatterns.set(pattern, sourceOfPath(pattern))
}

/** A route pattern as a label value; anything else (a raw path, a typo) becomes `other`. */
export function routeLabel(route: string | undefined): string {
  if (route === undefined) return 'unmatched'
  return routePatterns.has(route) || route === POLLER_ROUTE ? route : 'other'
}

/** The input behind an ingest route, from its first path segment (`/` is Falco's, as falcosidekick's). */
export function sourceOfRoute(pattern: string | undefined): SourceName | undefined {
  if (pattern === undefined) return undefined
  return routePatterns.has(pattern) ? routePatterns.get(pattern) : sourceOfPath(pattern)
}

function sourceOfPath(pattern: string): SourceName | undefined {
  const first = pattern.split('/')[1] ?? ''
  if (first === '' || first === 'falco') return 'falco'
  return (SOURCES as readonly string[]).includes(first) ? (first as SourceName) : undefined
}

export class IngestMetrics {
  // Counted on every request or finding: tallied (tally.ts), the others are rare.
  readonly #received: TwoLabelCounter<'source', 'route'>
  readonly #rejected: Counter<'source' | 'route' | 'reason'>
  readonly #findings: TwoLabelCounter<'severity', 'kind'>
  readonly #requests: TwoLabelCounter<'route', 'code'>
  readonly #rateLimited: Counter<'route'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.#received = new TwoLabelCounter({
      name: 'falconet_events_received_total',
      help: 'Inputs taken by each source: Falco alerts, Fluent Bit records, audit events, test events. A resent Fluent Bit chunk is not counted again.',
      labelNames: ['source', 'route'],
      registers,
    })
    this.#rejected = new Counter({
      name: 'falconet_records_rejected_total',
      help: 'Inputs refused, by reason (the error code the client got). A refused request counts once; unreadable records inside an accepted Fluent Bit chunk count each.',
      labelNames: ['source', 'route', 'reason'],
      registers,
    })
    this.#findings = new TwoLabelCounter({
      name: 'falconet_findings_total',
      help: 'Finding changes committed to the spool, by severity: new (a first occurrence, or the first after its window closed), updated (a repeat folded in) or resolved (a silent source talking again).',
      labelNames: ['severity', 'kind'],
      registers,
    })
    this.#requests = new TwoLabelCounter({
      name: 'falconet_http_requests_total',
      help: 'HTTP requests answered, by route pattern (unmatched for 404s) and status code.',
      labelNames: ['route', 'code'],
      registers,
    })
    this.#rateLimited = new Counter({
      name: 'falconet_http_rate_limited_total',
      help: 'Requests refused by the per-client rate limit (429), by route pattern.',
      labelNames: ['route'],
      registers,
    })
    // Every combination a dashboard shows exists from the start (a rate over a missing series is no data, not 0).
    for (const severity of ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']) for (const kind of ['new', 'updated', 'resolved']) this.#findings.zero(severity, kind)
  }

  received(source: SourceName, route: string | undefined, n: number): void {
    if (n > 0) this.#received.inc(source, routeLabel(route), n)
  }

  rejected(source: SourceName, route: string | undefined, reason: string, n = 1): void {
    if (n > 0) this.#rejected.inc({ source, route: routeLabel(route), reason: rejectReason(reason, 400) }, n)
  }

  /** A whole request refused: its error code as the client saw it. */
  refused(source: SourceName, route: string | undefined, code: string | undefined, statusCode: number): void {
    this.#rejected.inc({ source, route: routeLabel(route), reason: rejectReason(code, statusCode) })
  }

  answered(route: string | undefined, statusCode: number): void {
    this.#requests.inc(routeLabel(route), String(statusCode))
  }

  /** One request refused by the rate limiter. `route`: the route pattern (request.routeOptions.url), never request.url. */
  rateLimited(route: string | undefined): void {
    this.#rateLimited.inc({ route: routeLabel(route) })
  }

  committed(findings: readonly FindingState[]): void {
    for (const f of findings) this.#findings.inc(f.severity, f.archived ? 'resolved' : f.count === 1 ? 'new' : 'updated')
  }
}

const byRegistry = new WeakMap<Registry, IngestMetrics>()

/** One IngestMetrics per registry: the pipeline (serve) and the HTTP app (buildApp) share it. */
export function ingestMetricsFor(registry: Registry): IngestMetrics {
  let metrics = byRegistry.get(registry)
  if (!metrics) byRegistry.set(registry, (metrics = new IngestMetrics(registry)))
  return metrics
}
