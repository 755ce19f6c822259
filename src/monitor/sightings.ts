import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SourceKind } from './source-events.js'

/** What the HTTP sources tell the monitor: a sender talked. */
export interface SourceSightings {
  seen(kind: SourceKind, identity: string, options?: { heartbeat?: boolean }): void
}

declare module 'fastify' {
  interface FastifyInstance {
    sourceMonitor: SourceSightings | null
  }
}

/** On the root app, before the sources: every source plugin then reaches the monitor through its request. */
export function installSourceMonitor(app: FastifyInstance, monitor: SourceSightings | undefined): void {
  app.decorate('sourceMonitor', monitor ?? null)
}

/** More distinct hosts in one chunk than this and it comes from an aggregator, not a node's Fluent Bit. */
const MAX_HOSTS_PER_CHUNK = 16

/**
 * The node a Fluent Bit chunk comes from. A DaemonSet's Fluent Bit tails its own node's containers,
 * so its kubernetes filter sets `kubernetes.host` to that node on every record; without the filter,
 * a `hostname` (or systemd's `_HOSTNAME`) key a record_modifier added. Not a bare `host`: access
 * logs carry the HTTP Host there, which would invent sources that later "go silent". Not the sender's
 * IP: a restarted Fluent Bit pod gets a new one, and its old identity would then look silent.
 * Chunks with none of these are not tracked.
 */
export function fluentBitNodes(records: ReadonlyArray<{ record: Record<string, unknown> }>): string[] {
  const nodes = chunkNodes()
  for (const { record } of records) nodes.add(record)
  return nodes.list()
}

/** fluentBitNodes record by record, for a chunk whose records are not kept. */
export function chunkNodes(): { add(record: Record<string, unknown>): void; list(): string[] } {
  const hosts = new Set<string>()
  return {
    add(record) {
      if (hosts.size > MAX_HOSTS_PER_CHUNK) return
      const k8s = record.kubernetes
      const host = (isObject(k8s) ? str(k8s.host) : undefined) ?? str(record.hostname) ?? str(record._HOSTNAME)
      if (host) hosts.add(host)
    },
    list: () => (hosts.size > MAX_HOSTS_PER_CHUNK ? [] : [...hosts]),
  }
}

/** The Fluent Bit source read records from these nodes: their Fluent Bits are alive. */
export function sawFluentBitNodes(request: FastifyRequest, nodes: readonly string[]): void {
  const monitor = request.server.sourceMonitor
  if (!monitor) return
  for (const node of nodes) monitor.seen('fluent-bit', node)
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
