import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

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
 * Every answer carries the security headers (responses are JSON for machines; the headers still
 * matter if a browser ever opens one) and its request id, our own (a client-chosen one would let a
 * sender forge log correlation). One synchronous hook: set before any route code runs, so refusals
 * and 404s carry them too, and a route may still override one (the console sets its own CSP).
 */
export function installResponseHeaders(app: FastifyInstance, options: HelmetOptions): void {
  const headers = helmetHeaders(options)
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers).header('x-request-id', request.id)
    done()
  })
}
