import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { Test } from 'tap'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline, createResolver, type Ingest, type Resolve } from '../../src/pipeline/pipeline.js'
import { createAuditIngest } from '../../src/pipeline/audit.js'
import { createAuditDetector } from '../../src/detect/audit/detector.js'
import { createMonitor } from '../../src/monitor/index.js'
import type { FindingState } from '../../src/aggregate/aggregator.js'
import { errors } from '../../src/errors.js'

export const T0 = Date.parse('2026-08-01T10:00:00.000Z')

/**
 * The monitor wired as serve() wires it — spool, pipeline, resolver, HTTP app — on a clock the test
 * moves. Findings HIGH and above are routed to `receiver-pager` as well as Security Hub.
 */
export async function monitorRig(t: Test, overrides: Record<string, unknown> = {}, options: { dataDir?: string; nodeKnown?: (name: string) => boolean | undefined; now?: number } = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'falconet-monitor-'))
  const config = validateConfig({ dataDir, ...overrides })
  const logger = pino({ level: 'silent' })
  const spool = new Spool({ dir: join(dataDir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger, policy: findingPolicy({ windowMs: 86_400_000 }) })
  const clock = { now: options.now ?? T0 }
  /** `refuse`: the monitor's writes fail as they do when the spool is full. */
  const faults = { refuse: false }
  const overloaded = () => Promise.reject(new errors.FALCONET_ERR_OVERLOADED('spool is at its budget'))
  const registry = new Registry()
  const windowMs = config.findings.windowSecs * 1000
  let ingest: Ingest = async () => ({ duplicate: false })
  let resolve: Resolve = async () => false
  const monitor = createMonitor(config.monitor, {
    registry,
    logger,
    store: spool.state,
    ingest: (e, o) => (faults.refuse ? overloaded() : ingest(e, o)),
    resolve: (e, o) => (faults.refuse ? overloaded() : resolve(e, o)),
    windowMs,
    now: () => clock.now,
    ...(options.nodeKnown ? { nodeKnown: options.nodeKnown } : {}),
  })
  const aggregate = { keyFields: {}, severityMapping: config.severityMapping, windowMs }
  const sinks = (f: FindingState) => ['securityhub', ...(f.severity === 'HIGH' || f.severity === 'CRITICAL' ? ['receiver-pager'] : [])]
  ingest = createPipeline(aggregate, spool, sinks, undefined, monitor.hooks)
  resolve = createResolver(aggregate, spool, sinks, undefined, monitor.hooks)
  const auditIngest = createAuditIngest((store) => createAuditDetector(config.audit, { store, now: Date.now }), ingest, spool)
  const app = await buildApp({ config, logger, ingest, auditIngest, registry, readiness: { sinks: () => ({}) }, ...(monitor.liveness ? { monitor: monitor.liveness } : {}) })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
    await monitor.stop()
    await spool.close()
  }
  t.teardown(close)
  return {
    app,
    spool,
    registry,
    monitor,
    liveness: monitor.liveness!,
    clock,
    faults,
    dataDir,
    /** Findings queued for a sink, newest version. */
    queued: (sink = 'securityhub') => spool.due(sink, 10_000, Number.MAX_SAFE_INTEGER, true).items.map((d) => d.state),
    /** Acknowledge everything queued for a sink, as a runner would after delivering it. */
    deliver: async (sink = 'securityhub') => {
      const items = spool.due(sink, 10_000, Number.MAX_SAFE_INTEGER, true).items
      await spool.acknowledge(sink, items.map((d) => ({ id: d.state.id, version: d.state.version })), clock.now)
      return items.map((d) => d.state)
    },
    /** Move the clock and run one check. */
    advance: async (ms: number) => {
      clock.now += ms
      await monitor.liveness?.check()
    },
    post: (url: string, body: string, contentType = 'application/json') => app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload: body }),
    close,
  }
}

export function monitorFixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
}

/** A Falco alert (fixture 31's shape) from `hostname` at `time`. */
export function falcoAlertFrom(hostname: string, time: number, rule = 'Falco internal: metrics snapshot'): string {
  const alert = JSON.parse(monitorFixture('falco-metrics-snapshot.json')) as Record<string, unknown>
  return JSON.stringify({ ...alert, hostname, rule, time: new Date(time).toISOString() })
}
