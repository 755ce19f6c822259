/**
 * `npm run bench:console` (node --expose-gc --import tsx bench/console.ts): the console with 100,000 findings (BENCH_CONSOLE_FINDINGS to change).
 * With a shared store, `npm run bench:console-store` (bench/console-store.ts).
 * Prints: time to index them; list-query times in the index (median and p95 of 20 runs) for the
 * default view, filters, free text, a sort and a deep page; the same default query over HTTP; and in
 * Chromium (/usr/bin/chromium, CHROMIUM_PATH to change) the findings page's first paint and the time
 * until the first page of the list is on screen. Figures, not pass/fail.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { open } from 'lmdb'
import type { FindingState } from '../src/aggregate/aggregator.js'
import { Registry } from 'prom-client'
import { chromium } from 'playwright-core'
import { buildApp } from '../src/server/app.js'
import { validateConfig } from '../src/config/load.js'
import { Silences } from '../src/route/silences.js'
import { LocalFindingIndex } from '../src/console/local-index.js'
import { benchFinding as finding, benchQueries, timings } from './lib/console-findings.js'

const N = Number(process.env.BENCH_CONSOLE_FINDINGS ?? 100_000)
const TOKEN = 'bench-console-token-0123456789abcdef'

const dataDir = mkdtempSync(join(tmpdir(), 'falconet-bench-console-'))
const logger = pino({ level: 'silent' })
const config = validateConfig({ dataDir, server: { rateLimit: { management: 0, console: 0 } }, console: { retention: { maxFindings: Math.max(N * 2, 200_000), maxBytes: 4 * 1024 ** 3 } } })
const index = new LocalFindingIndex(dataDir, { ...config.console.retention, maxBytes: 4 * 1024 ** 3 }, { logger })

// Figures depend on what else runs: say how busy the machine was.
console.log(
  `${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node.js ${process.version}`,
)
const gc = (globalThis as { gc?: () => void }).gc
gc?.()
const heapBefore = process.memoryUsage().heapUsed
let started = performance.now()
// The pipeline hands the index finding states decoded from the spool's LMDB (msgpackr), whose
// strings are slices of the record's bytes: the rows are measured on such states, as in production.
const spool = open({ path: join(dataDir, 'bench-spool'), compression: false })
const decoded = async (states: FindingState[]) => {
  await spool.transaction(() => states.forEach((s) => spool.put(s.id, s)))
  return states.map((s) => spool.get(s.id) as FindingState)
}
for (let i = 0; i < N; i += 1000) {
  index.record(await decoded(Array.from({ length: Math.min(1000, N - i) }, (_, j) => finding(i + j))), () => ['securityHub', 'slack-sec'])
  await index.flush()
}
console.log(`indexed ${N.toLocaleString()} findings in ${((performance.now() - started) / 1000).toFixed(1)} s (${index.stats(0, Date.now()).index.bytes.toLocaleString()} bytes stored)`)
gc?.()
const heapAfter = process.memoryUsage().heapUsed
console.log(`memory: rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB, heap ${(heapAfter / 1048576).toFixed(0)} MiB` + (gc ? `, the index's rows ${((heapAfter - heapBefore) / N / 1024).toFixed(2)} KiB per finding (after GC)` : ' (run with node --expose-gc for the per-finding figure)'))

const queries = benchQueries(N)
console.log(`\nlist queries in the index (${N.toLocaleString()} findings, 20 runs each):`)
for (const [name, q] of queries) {
  const times: number[] = []
  let total = 0
  for (let r = 0; r < 20; r++) {
    started = performance.now()
    total = index.query(q).total
    times.push(performance.now() - started)
  }
  console.log(`  ${name.padEnd(44)} ${timings(times)}  (${total.toLocaleString()} match)`)
}

const store = new Map<string, unknown>()
const app = await buildApp({
  config,
  env: { FALCONET_ADMIN_TOKEN: TOKEN },
  logger,
  ingest: async () => ({ duplicate: false }),
  auditIngest: async (a) => ({ events: a.length, duplicates: 0, findings: 0 }),
  registry: new Registry(),
  readiness: { sinks: () => ({}) },
  admin: { silences: new Silences({ get: (k) => store.get(k) as never, put: (k, v) => void store.set(k, v) }) },
  console: { index },
})
await app.listen({ host: '127.0.0.1', port: 0 })
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
const http: number[] = []
for (let r = 0; r < 20; r++) {
  started = performance.now()
  await (await fetch(`${url}/api/findings?limit=50`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()
  http.push(performance.now() - started)
}
console.log(`\nGET /api/findings?limit=50 over HTTP: ${timings(http)}`)

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } })
const page = await context.newPage()
await page.goto(`${url}/ui/login`)
await page.fill('#token', TOKEN)
await page.click('form[action="/ui/auth/login"] button[type=submit]')
await page.waitForSelector('body[data-ready="true"]', { state: 'attached' })
const paints: number[] = []
const lists: number[] = []
for (let r = 0; r < 10; r++) {
  await page.goto(`${url}/ui/`)
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' })
  const m = await page.evaluate(() => {
    const g = globalThis as any
    const fcp = g.performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN
    const ready = g.performance.getEntriesByName('falconet:list')[0]?.startTime ?? NaN
    return { fcp, ready }
  })
  paints.push(m.fcp)
  lists.push(m.ready)
}
console.log(`findings page in Chromium (${N.toLocaleString()} findings, 10 loads): first contentful paint ${timings(paints)}; list on screen ${timings(lists)}`)
console.log(
  `load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
await browser.close()
await app.close()
await index.close()
rmSync(dataDir, { recursive: true, force: true })
