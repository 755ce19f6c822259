import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { SinkRunner } from '../../src/delivery/sink-runner.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { DeliveryMetrics } from '../../src/delivery/metrics.js'
import { validateConfig } from '../../src/config/load.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { DEFAULT_SEVERITY_MAPPING, type Priority } from '../../src/model/severity.js'
import type { DeliveryConfig } from '../../src/delivery/config.js'
import type { Encoded, SendOutcome, Sink } from '../../src/delivery/sink.js'
import type { SecurityEvent } from '../../src/model/event.js'

export const silent = pino({ level: 'silent' })

/** The Security Hub delivery slice of a validated config (real defaults) with test overrides. */
export function deliveryConfig(overrides: Record<string, unknown> = {}): DeliveryConfig {
  const c = validateConfig({ sinks: { securityHub: { retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, resendIntervalMs: 0, ...overrides } } })
  return (c.sinks as any).securityHub
}

export function testEvent(n: number, options: { priority?: Priority; pod?: string; rule?: string; time?: string } = {}): SecurityEvent {
  return {
    input: 'test',
    source: 'syscall',
    rule: options.rule ?? `rule ${n}`,
    priority: options.priority ?? 'Notice',
    priorityText: options.priority ?? 'Notice',
    time: options.time ?? '2026-07-30T09:00:00.000000000Z',
    output: `event ${n}`,
    hostname: 'node-1',
    tags: [],
    workload: { namespace: 'shop', pod: options.pod ?? 'cart-api-7d9c6b7b9c-x2x8k', container: { id: 'c1', name: 'app' } },
    fields: {},
  }
}

/** A sink whose answers are scripted per call; it records every batch it was sent. */
export function scriptedSink(config: DeliveryConfig, answers: Array<(batch: Encoded[]) => SendOutcome> = [], id = 'scripted') {
  const calls: Array<Array<{ id: string; count: number; severity: string }>> = []
  const sink: Sink = {
    id,
    delivery: config,
    start: async () => {},
    encode: (f) => ({ id: f.id, bytes: 100 + f.event.output.length, payload: { id: f.id, count: f.count, severity: f.severity } }),
    send: async (batch) => {
      calls.push(batch.map((e) => e.payload as { id: string; count: number; severity: string }))
      const answer = answers.shift()
      return answer ? answer(batch) : { kind: 'ok' }
    },
  }
  return { sink, calls }
}

/** A spool in a fresh directory, a runner for `sink`, and the ingest function feeding it. */
export function harness(sink: Sink, dir = mkdtempSync(join(tmpdir(), 'falconet-spool-')), spoolOptions: { maxBytes?: number; windowMs?: number; tracksLifecycle?: boolean } = {}) {
  const windowMs = spoolOptions.windowMs ?? 86_400_000
  const policy = findingPolicy({ windowMs, tracksLifecycle: (s) => spoolOptions.tracksLifecycle === true && s === sink.id })
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: spoolOptions.maxBytes ?? 1 << 30, durability: 'process', resendMs: { [sink.id]: sink.delivery.resendIntervalMs }, logger: silent, policy })
  const registry = new Registry()
  const deadLetters = new DeadLetterFile(dir, silent)
  const runner = new SinkRunner(sink, { logger: silent, queue: spool.findingQueue(sink.id), deadLetters, metrics: new DeliveryMetrics(registry) })
  const ingest = createPipeline({ keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs }, spool, [sink.id])
  const letters = () => {
    const file = join(dir, 'dead-letter', `${sink.id}.jsonl`)
    return existsSync(file)
      ? readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
      : []
  }
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
    const v = (m?.values ?? []).find((x: any) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
    return (v as any)?.value ?? 0
  }
  return { dir, spool, runner, ingest, letters, metric, registry }
}
