import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'
import { sourceOfRoute } from '../monitor/ingest-metrics.js'

/**
 * helmet's headers for these options, computed once. Without CSP nonces (falconet uses none) they
 * depend on the options only, never on the request, so running helmet's middleware on every request
 * (as @fastify/helmet does: it rebuilds it per request, ~6 % of the Falco route's CPU) buys nothing.
 */
export function helmetHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const res = { setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)), removeHeader: () => undefined }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err
  })
  return Object.freeze(headers)
}

/**
 * The security headers OWASP's REST Security Cheat Sheet asks of every API response, of those helmet
 * sets: a CSP with `frame-ancestors 'none'` (ours also `default-src 'none'`), `nosniff` and
 * X-Frame-Options, and HSTS over TLS (Content-Type is Fastify's). Its `Cache-Control: no-store` is
 * left out: an answer to a POST is never stored by a cache without explicit freshness and a
 * Content-Location (RFC 9110 §9.3.3), and the ingest routes only take POSTs.
 */
const API_HEADERS = ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'strict-transport-security']

/** The ingest routes: the sources' endpoints, whose senders are Falco, Fluent Bit, the API server, curl. */
function isIngestRoute(url: string): boolean {
  return sourceOfRoute(url) !== undefined
}

/**
 * Every answer carries security headers and its request id, our own (a client-chosen one would let
 * a sender forge log correlation). The ingest routes' answers (JSON to machines; every Falco alert
 * is one) carry the API set above; everything else — the console's pages and API, probes, /metrics,
 * 404s — all of helmet's, the document-oriented ones included (COOP, CORP, Origin-Agent-Cluster,
 * Referrer-Policy, X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
 * X-XSS-Protection: they only act on a page a browser renders or embeds; ~1 µs of header writing per
 * answer). The set is picked per route at start-up; one synchronous hook sets it before any route
 * code runs, so refusals carry it too, and a route may still override one (the console sets its own
 * CSP).
 */
export function installResponseHeaders(app: FastifyInstance, options: HelmetOptions): void {
  const all = helmetHeaders(options)
  const api = Object.freeze(Object.fromEntries(Object.entries(all).filter(([name]) => API_HEADERS.includes(name))))
  app.addHook('onRoute', (route) => {
    if (isIngestRoute(route.url)) route.config = { ...route.config, responseHeaders: api }
  })
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(request.routeOptions.config?.responseHeaders ?? all).header('x-request-id', request.id)
    done()
  })
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The security headers of this route's answers (installResponseHeaders; absent: helmet's whole set). */
    responseHeaders?: Readonly<Record<string, string>>
  }
}
