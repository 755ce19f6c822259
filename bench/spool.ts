/**
 * Spool benchmark (issue 3): events/s through the durable spool into a sink that acknowledges
 * instantly, and latency from receive to the sink call (p50, p99), at 1,000 and 10,000 events/s
 * and at the most the machine sustains; plus the latency of one Falco POST, which includes the
 * spool commit (the 200 is sent after it). Prints figures; asserts nothing.
 *
 *   npx tsx bench/spool.ts [seconds-per-step]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createFalconet } from '../src/falconet.js'
import { validateConfig } from '../src/config/load.js'
import { serve } from '../src/server/serve.js'
import { DEFAULT_SEVERITY_MAPPING } from '../src/model/severity.js'
import type { SecurityEvent } from '../src/model/event.js'
import type { Sink } from '../src/delivery/sink.js'
import { readFileSync } from 'node:fs'
import { freePort } from '../test/support/net.js'

const seconds = Number(process.argv[2] ?? 5)
const logger = pino({ level: 'silent' })

function event(n: number): SecurityEvent {
  // Distinct rules: every event is its own finding, so each one is delivered and timed.
  return {
    input: 'bench',
    source: 'syscall',
    rule: `bench rule ${n}`,
    priority: 'Warning',
    priorityText: 'Warning',
    time: new Date().toISOString().replace('Z', '000000Z'),
    output: 'A shell was spawned in a container with an attached terminal | user=root process=bash',
    hostname: 'node-1',
    tags: ['T1059', 'mitre_execution'],
    workload: { namespace: 'shop', pod: 'cart-api-7d9c6b7b9c-x2x8k', container: { id: '3ad7b26ded6d', name: 'cart-api' } },
    fields: { 'proc.cmdline': 'bash', 'user.name': 'root' },
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5))
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function step(rate: number | 'max') {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bench-'))
  const received = new Map<string, number>()
  const latencies: number[] = []
  const delivery = (validateConfig({ sinks: { securityHub: { batch: { flushIntervalMs: 0 }, resendIntervalMs: 0 } } }).sinks as any).securityHub
  const sink: Sink = {
    id: 'instant',
    delivery: { ...delivery, rateLimit: { requestsPerSecond: 1e9, burst: 1e9 } },
    start: async () => {},
    encode: (f) => ({ id: f.id, bytes: 1000, payload: f.id }),
    send: async (batch) => {
      const now = performance.now()
      for (const e of batch) latencies.push(now - (received.get(e.id) ?? now))
      return { kind: 'ok' }
    },
  }
  // The composition root, with only the instant sink: the spool, pipeline and runner are serve's own.
  const config = validateConfig({ dataDir: dir, logLevel: 'silent', findings: { windowSecs: 3600 }, spool: { maxBytes: 8 * 2 ** 30 }, sinks: { file: { enabled: false }, console: { enabled: false } } })
  const falconet = await createFalconet(config, { env: {}, logger, extraSinks: [sink as Sink<unknown>] })
  const ingest = falconet.ingest
  const options = { keyFields: config.findings.keyFields, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
  const { findingId } = await import('../src/aggregate/finding-id.js')
  await falconet.start()

  const started = performance.now()
  let n = 0
  const inflight: Promise<unknown>[] = []
  while (performance.now() - started < seconds * 1000) {
    // Requests of 1 event, as Falco sends them; at 'max', as many as keep 64 in flight.
    const target = rate === 'max' ? n + 64 - inflight.length : Math.floor(((performance.now() - started) / 1000) * rate)
    while (n < target) {
      const e = event(n++)
      received.set(findingId(e, options), performance.now())
      const p = ingest([e]).finally(() => inflight.splice(inflight.indexOf(p), 1))
      inflight.push(p)
    }
    await (rate === 'max' ? Promise.race(inflight) : new Promise((r) => setImmediate(r)))
  }
  await Promise.all(inflight)
  const ingestSecs = (performance.now() - started) / 1000
  // Everything accepted is delivered before close returns (within the grace period).
  await waitUntil(() => latencies.length >= n, 60_000)
  const totalSecs = (performance.now() - started) / 1000
  await falconet.close()
  rmSync(dir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  return {
    target: rate === 'max' ? 'max' : `${rate}/s`,
    events: n,
    accepted_per_s: Math.round(n / ingestSecs),
    delivered_per_s: Math.round(latencies.length / totalSecs),
    p50_ms: percentile(latencies, 50).toFixed(1),
    p99_ms: percentile(latencies, 99).toFixed(1),
  }
}

async function falcoPostLatency(count = 2000) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bench-'))
  const port = await freePort()
  const config = validateConfig({ dataDir: dir, logLevel: 'silent', server: { port, host: '127.0.0.1' }, sinks: { console: { enabled: false } } })
  const running = await serve(config)
  const address = { port }
  const body = readFileSync(new URL('../test/fixtures/falco/01-terminal-shell-in-container.json', import.meta.url), 'utf8')
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const res = await fetch(`http://127.0.0.1:${address.port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await res.arrayBuffer()
    times.push(performance.now() - t0)
  }
  await running.close()
  rmSync(dir, { recursive: true, force: true })
  times.sort((a, b) => a - b)
  return { requests: count, p50_ms: percentile(times, 50).toFixed(2), p99_ms: percentile(times, 99).toFixed(2), max_ms: times[times.length - 1]!.toFixed(2) }
}

const rows = []
for (const rate of [1000, 10_000, 'max'] as const) rows.push(await step(rate))
console.log(`\nspool → instant sink, ${seconds} s per step, durability=process, one event per request`)
console.table(rows)
console.log('\nFalco POST → 200 (sequential, keep-alive; the 200 is sent after the spool commit)')
console.table([await falcoPostLatency()])
