import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Test } from 'tap'
import { validateConfig } from '../../src/config/load.js'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createFalconet } from '../../src/falconet.js'
import { errors } from '../../src/errors.js'

export const T0 = Date.parse('2026-08-01T10:00:00.000Z')

/**
 * falconet as the composition root builds it, on a clock the test moves. Findings HIGH and above
 * are routed (the default route) to `receiver-pager` as well as Security Hub.
 */
export async function monitorRig(t: Test, overrides: Record<string, unknown> = {}, options: { dataDir?: string; nodeKnown?: (name: string) => boolean | undefined; now?: number } = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'falconet-monitor-'))
  const config = validateConfig({
    dataDir,
    logLevel: 'silent',
    aws: { region: 'eu-west-1', accountId: '111122223333' },
    sinks: { file: { enabled: false }, console: { enabled: false }, securityHub: { enabled: true } },
    receivers: [{ name: 'pager', type: 'pagerduty', routingKeyEnv: 'PAGER_KEY' }],
    ...overrides,
  })
  const logger = pino({ level: 'silent' })
  const lifecycle = new Set(['securityHub', 'receiver-pager'])
  const spool = new Spool({ dir: join(dataDir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger, policy: findingPolicy({ windowMs: config.findings.windowSecs * 1000, tracksLifecycle: (s) => lifecycle.has(s) }) })
  const clock = { now: options.now ?? T0 }
  /** `refuse`: writes fail as they do when the spool is full (only the monitor writes while a test sets it). */
  const faults = { refuse: false }
  const record = spool.record.bind(spool)
  spool.record = (...args) => (faults.refuse ? Promise.reject(new errors.FALCONET_ERR_OVERLOADED('spool is at its budget')) : record(...args))
  // Not started: nothing is delivered, so the tests read the queues (and deliver() by hand).
  const falconet = await createFalconet(config, { env: { PAGER_KEY: 'k' }, logger, spool, clock: () => clock.now, ...(options.nodeKnown ? { nodeKnown: options.nodeKnown } : {}) })
  const { app, registry, monitor } = falconet
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await falconet.close()
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
    queued: (sink = 'securityHub') => spool.due(sink, 10_000, Number.MAX_SAFE_INTEGER, true).items.map((d) => d.state),
    /** Acknowledge everything queued for a sink, as a runner would after delivering it. */
    deliver: async (sink = 'securityHub') => {
      const items = spool.due(sink, 10_000, Number.MAX_SAFE_INTEGER, true).items
      await spool.acknowledge(
        sink,
        items.map((d) => ({ id: d.state.id, version: d.state.version })),
        clock.now,
      )
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
  return readFileSync(new URL(`../monitor/fixtures/${name}`, import.meta.url), 'utf8')
}

/** A Falco alert (fixture 31's shape) from `hostname` at `time`. */
export function falcoAlertFrom(hostname: string, time: number, rule = 'Falco internal: metrics snapshot'): string {
  const alert = JSON.parse(monitorFixture('falco-metrics-snapshot.json')) as Record<string, unknown>
  return JSON.stringify({ ...alert, hostname, rule, time: new Date(time).toISOString() })
}
