import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { Spool } from '../../src/delivery/spool.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { createAuditIngest } from '../../src/pipeline/audit.js'
import { createAuditDetector } from '../../src/detect/audit/detector.js'

/**
 * Inject-level tests send thousands of requests from one address: the per-client rate limits are
 * off unless a test sets them (test/server/auth.test.ts does).
 */
export function unlimited(overrides: Record<string, unknown>): Record<string, unknown> {
  const server = (overrides.server ?? {}) as Record<string, unknown>
  const rateLimit = { falco: 0, fluentBit: 0, k8sAudit: 0, management: 0, ...(server.rateLimit as object | undefined) }
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
 * The HTTP app over a real spool (no sink runners), for source tests that must see what reaches
 * the spool: dedupe, budgets, counts. `sink` is the queue name the pipeline fills.
 */
export async function appWithSpool(overrides: Record<string, unknown> = {}, spoolOptions: { maxBytes?: number; dedupe?: boolean; logger?: pino.Logger } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-app-'))
  const config = validateConfig(unlimited({ dataDir, ...overrides }))
  const spool = new Spool({ dir: join(dataDir, 'spool'), maxBytes: spoolOptions.maxBytes ?? 1 << 30, durability: 'process', resendMs: {}, logger: pino({ level: 'silent' }) })
  const registry = new Registry()
  const ingest = createPipeline({ keyFields: {}, severityMapping: config.severityMapping, windowMs: 86_400_000 }, spool, ['probe'])
  const auditIngest = createAuditIngest((store) => createAuditDetector(config.audit, { store, now: Date.now }), ingest, spool)
  const app = await buildApp({ config, logger: spoolOptions.logger ?? pino({ level: 'silent' }), ingest, auditIngest, registry, readiness: { sinks: () => ({}) }, seen: spoolOptions.dedupe === false ? () => false : (key) => spool.unseen([key]).length === 0 })
  const queued = () => spool.due('probe', 10_000, Date.now(), true).items.map((d) => d.state)
  const close = async () => {
    await app.close()
    await spool.close()
  }
  return { app, spool, registry, queued, dataDir, close }
}
