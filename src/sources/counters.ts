import type { FastifyRequest } from 'fastify'

/**
 * What a source reports about a request it handled: how many inputs it took and how many it could
 * not use. The server installs the implementation (Prometheus counters by source and route pattern);
 * sources only see this interface, so nothing under sources/ depends on the server or on metrics.
 */
export interface IngestCounter {
  /** `route` is the route pattern (`/fluent-bit/*`), never the path a client sent. */
  received(route: string, n: number): void
  /** `reason`: an error code from src/errors.ts. */
  rejected(route: string, reason: string, n: number): void
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Decorated on the root app by the server, so every source plugin sees it. */
    ingestCounter: IngestCounter | undefined
  }
}

/** A source took `n` inputs (alerts, records, audit events) from this request. */
export function countReceived(request: FastifyRequest, n: number): void {
  request.server.ingestCounter?.received(request.routeOptions.url ?? '', n)
}

/** Inputs inside an accepted request that could not be used. */
export function countRejected(request: FastifyRequest, reason: string, n: number): void {
  request.server.ingestCounter?.rejected(request.routeOptions.url ?? '', reason, n)
}
