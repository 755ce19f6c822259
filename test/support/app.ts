import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { createFalconet } from '../../src/falconet.js'

/**
 * Inject-level tests send thousands of requests from one address: the per-client rate limits are
 * off unless a test sets them (test/server/auth.test.ts does).
 */
export function unlimited(overrides: Record<string, unknown>): Record<string, unknown> {
  const server = (overrides.server ?? {}) as Record<string, unknown>
  const rateLimit = { falco: 0, fluentBit: 0, k8sAudit: 0, management: 0, console: 0, ...(server.rateLimit as object | undefined) }
  return { ...overrides, server: { ...server, rateLimit } }
}

/** The HTTP app with an ingest that records events, for inject-level tests of sources. */
export async function appWithRecorder(overrides: Record<string, unknown> = {}, opts: { env?: NodeJS.ProcessEnv; registry?: Registry; admin?: boolean } = {}) {
  const events: SecurityEvent[] = []
  const config = validateConfig(unlimited(overrides))
  const app = await buildApp({
    config,
    env: opts.env ?? {},
    ...(opts.admin ? { admin: { silences: { list: () => [] } as never } } : {}),
    logger: pino({ level: 'silent' }),
    ingest: async (batch) => {
      events.push(...batch)
      return { duplicate: false }
    },
    registry: opts.registry ?? new Registry(),
    auditIngest: async (audit) => ({ events: audit.length, duplicates: 0, findings: 0 }),
    readiness: { sinks: () => ({ file: { ready: true, pending: 0 } }) },
  })
  return { app, events }
}

/**
 * falconet as the composition root builds it, not started (no sink runner drains the queues), for
 * source tests that must see what reaches the spool: dedupe, budgets, counts. Only the file sink
 * is on; `queued()` reads its queue.
 */
export async function appWithSpool(overrides: Record<string, unknown> = {}, spoolOptions: { maxBytes?: number; logger?: pino.Logger } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-app-'))
  const config = validateConfig(unlimited({ dataDir, logLevel: 'silent', sinks: { console: { enabled: false } }, ...(spoolOptions.maxBytes ? { spool: { maxBytes: spoolOptions.maxBytes } } : {}), ...overrides }))
  const falconet = await createFalconet(config, { env: {}, logger: spoolOptions.logger ?? pino({ level: 'silent' }) })
  const { app, spool, registry } = falconet
  const queued = () => spool.due('file', 10_000, Date.now(), true).items.map((d) => d.state)
  return { app, spool, registry, queued, dataDir, close: falconet.close }
}
