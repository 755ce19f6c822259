/**
 * Spool housekeeping and budget (issue 15.4). Prints figures; asserts nothing.
 *
 *   node --expose-gc --import tsx bench/spool-housekeeping.ts [remembered-hashes=1000000]
 *
 * 1. N remembered Fluent Bit chunk hashes: the longest event-loop stall (what /healthz waits)
 *    during a housekeeping step — within the window (every tick) and when the window passes —
 *    and RSS.
 * 2. Spool usage after draining: 34 alerts with 1 MB rule names; one request of 100,000 exec
 *    events by distinct users (the /k8s-audit EventList of the issue), through the pipeline.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Spool } from '../src/delivery/spool.js'
import { findingPolicy } from '../src/aggregate/policy.js'
import { createPipeline } from '../src/pipeline/pipeline.js'
import { DEFAULT_SEVERITY_MAPPING } from '../src/model/severity.js'
import type { SecurityEvent } from '../src/model/event.js'

const hashes = Number(process.argv[2] ?? 1_000_000)
const logger = pino({ level: 'silent' })
const WINDOW_MS = 86_400_000
const CHUNK_WINDOW_MS = 3_600_000
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`
/** Run with `node --expose-gc --import tsx` to take garbage collection out of the stalls measured. */
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
/** Blocks the LMDB file really occupies (the map is sparse). */
const onDisk = (dir: string) => statSync(join(dir, 'data.mdb')).blocks * 512

function open(maxBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bench-hk-'))
  const spool = new Spool({ dir, maxBytes, durability: 'process', resendMs: { a: 0 }, logger, policy: findingPolicy({ windowMs: WINDOW_MS }), seenWindowMs: { chunk: CHUNK_WINDOW_MS, event: CHUNK_WINDOW_MS } })
  return { spool, dir }
}

/** The longest gap between 1 ms timers while `work` runs: how long a /healthz would have waited. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now()
  let worst = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
  }, 1)
  await new Promise((r) => setTimeout(r, 20))
  last = performance.now()
  await work()
  await new Promise((r) => setTimeout(r, 20))
  clearInterval(timer)
  return worst
}

function event(n: number, over: Partial<SecurityEvent> = {}): SecurityEvent {
  return {
    input: 'bench',
    source: 'k8s_audit',
    rule: 'Attach/Exec Pod',
    priority: 'Notice',
    priorityText: 'Notice',
    time: new Date().toISOString().replace('Z', '000000Z'),
    output: `exec by user-${n}`,
    hostname: 'api',
    tags: [],
    workload: { namespace: 'shop' },
    fields: { 'ka.user.name': `user-${n}` },
    keyFields: ['ka.user.name'],
    ...over,
  }
}

async function drain(spool: Spool) {
  for (let due = spool.due('a', 5_000, Date.now(), true).items; due.length > 0; due = spool.due('a', 5_000, Date.now(), true).items) {
    await spool.acknowledge(
      'a',
      due.map((d) => ({ id: d.state.id, version: d.state.version })),
      Date.now(),
    )
  }
  for (let i = 0; i < 200; i++) if ((await spool.housekeep(Date.now())).visited === 0) break
}

async function rememberedHashes() {
  const { spool, dir } = open(2 ** 30)
  const rssBefore = process.memoryUsage().rss
  // Batches of 1,000: what one event-loop turn of chunk commits puts in one LMDB transaction.
  const keys = (from: number) => Array.from({ length: 1_000 }, (_, i) => `chunk-hash-${from + i}`)
  for (let i = 0; i < hashes; i += 1_000) await spool.record([], [], { markSeen: keys(i) })
  gc()
  const rssFilled = process.memoryUsage().rss
  const ticks: number[] = []
  for (let i = 0; i < 5; i++) {
    gc()
    ticks.push(await longestStall(() => spool.housekeep(Date.now())))
  }
  gc()
  const rssTicks = process.memoryUsage().rss
  const usage = spool.usageBytes(true)
  const expiry = await longestStall(() => spool.housekeep(Date.now() + CHUNK_WINDOW_MS + CHUNK_WINDOW_MS / 4, { seenBuckets: 64 }))
  console.log(`${hashes.toLocaleString()} remembered chunk hashes: spool ${mb(usage)} (seen keys ${mb(usage - spool.owedBytes(true))}, estimated), file ${mb(onDisk(dir))} on disk`)
  console.log(`  longest /healthz stall per housekeeping tick (5 ticks): ${ticks.map((t) => `${t.toFixed(1)} ms`).join(', ')}`)
  console.log(`  the tick that expires them all: ${expiry.toFixed(1)} ms; keys left ${spool.seenKeyCount()}`)
  console.log(`  RSS: ${mb(rssBefore)} before, ${mb(rssFilled)} filled, ${mb(rssTicks)} after the ticks`)
  await spool.close()
  rmSync(dir, { recursive: true, force: true })
}

async function hugeRuleNames() {
  const { spool, dir } = open(32 * 2 ** 20)
  const ingest = createPipeline({ keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: WINDOW_MS }, spool, ['a'])
  const huge = 'x'.repeat(2 ** 20)
  let refused = 0
  for (let i = 0; i < 34; i++) await ingest([event(i, { source: 'syscall', rule: `${i}${huge}`, keyFields: [] })]).catch(() => refused++)
  const full = spool.usageBytes(true)
  await drain(spool)
  console.log(`34 alerts with 1 MB rule names, 32 MiB budget: ${refused} refused, spool ${mb(full)}, after draining ${mb(spool.usageBytes(true))}`)
  await spool.close()
  rmSync(dir, { recursive: true, force: true })
}

async function execBurst() {
  const { spool, dir } = open(2 ** 30)
  const ingest = createPipeline({ keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: WINDOW_MS }, spool, ['a'])
  const events = Array.from({ length: 100_000 }, (_, i) => event(i))
  const rssBefore = process.memoryUsage().rss
  const started = performance.now()
  await ingest(events)
  const took = performance.now() - started
  const rssAfter = process.memoryUsage().rss
  const findings = spool.findingCount()
  const full = spool.usageBytes(true)
  await drain(spool)
  console.log(`100,000 exec events by distinct users in one request: ${took.toFixed(0)} ms, ${findings} findings, spool ${mb(full)}, after draining ${mb(spool.usageBytes(true))}; RSS ${mb(rssBefore)} → ${mb(rssAfter)}`)
  await spool.close()
  rmSync(dir, { recursive: true, force: true })
}

await rememberedHashes()
await hugeRuleNames()
await execBurst()
