/**
 * Before/after for a change in src/: two builds of falconet measured in alternating rounds under
 * the same load, on the same cores, so a noisy machine hurts both alike; the figure that counts is
 * each round's ratio B ÷ A.
 *
 *   npm run build && cp -r dist bench/results/ab/before     # the build to compare against
 *   (change src/) npm run build
 *   npx tsx bench/ab.ts bench/results/ab/before dist [falco|fluent-bit]
 *
 * BENCH_SECS (default 8) per run, BENCH_REPEATS (default 5) rounds; BENCH_AB_FORMAT picks the
 * Fluent Bit format (default json_lines), BENCH_AB_CONNECTIONS the Falco connections (default 32). BENCH_AB_NODE_ARGS_A / _B add Node flags to one side
 * (the same build twice with different flags, e.g. BENCH_AB_NODE_ARGS_B=--max-semi-space-size=64);
 * BENCH_AB_RATE_LIMIT_FALCO_A / _B set one side's Falco rate limit (default 0, off; e.g. 1000000000
 * to measure the limiter's work without refusals: the bench's one address sends above the default 2000/s).
 * BENCH_AB_DURABILITY sets both sides' `spool.durability` (default process; `disk` fsyncs before each 2xx).
 */
import { resolve } from 'node:path'
import type autocannon from 'autocannon'
import { falcoBodies, fluentBitCases } from './lib/bodies.js'
import { runLoad } from './lib/load.js'
import { saturate } from './lib/paced.js'
import { cpuMsOf, MB, pinSelf, pinning, sampleRss, type Server } from './lib/procs.js'
import { securityHubSink } from './lib/sinks.js'
import { startFalconet } from './lib/targets.js'
import { repeated } from './lib/stats.js'
import { FLUENT_BIT_CONNECTIONS } from './suites/fluent-bit.js'

const [a, b, path = 'falco'] = process.argv.slice(2)
if (!a || !b || !['falco', 'fluent-bit'].includes(path)) {
  console.error('usage: npx tsx bench/ab.ts <distA> <distB> [falco|fluent-bit]')
  process.exit(2)
}
const secs = Number(process.env.BENCH_SECS ?? 8)
const rounds = Number(process.env.BENCH_REPEATS ?? 5)
const format = process.env.BENCH_AB_FORMAT ?? 'json_lines'
pinSelf()

const hub = await securityHubSink()
const servers: Array<Server & { label: string }> = []
for (const [label, dist] of [
  ['A', a],
  ['B', b],
] as const) {
  const nodeArgs = (process.env[`BENCH_AB_NODE_ARGS_${label}`] ?? '').split(' ').filter(Boolean)
  const rateLimitFalco = Number(process.env[`BENCH_AB_RATE_LIMIT_FALCO_${label}`] ?? 0)
  const config = process.env.BENCH_AB_DURABILITY ? { spool: { durability: process.env.BENCH_AB_DURABILITY } } : undefined
  servers.push({ ...(await startFalconet({ securityHub: hub.url, dist: resolve(dist), nodeArgs, rateLimitFalco, config })), label })
}

const requests: autocannon.Request[] = falcoBodies().map((body) => ({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body }))
const chunks = fluentBitCases().find((c) => c.format === format)!
let n = 0
/** Per run: the rate, and the server's CPU µs per unit (robust to a busy machine, unlike the rate). */
const cpu: Record<string, number[]> = { A: [], B: [] }
/** Per run: the server's peak RSS (MB) under the load. */
const peak: Record<string, number[]> = { A: [], B: [] }
const measure = async (s: Server & { label?: string }, seconds: number): Promise<number> => {
  const before = cpuMsOf(s.child.pid!)
  const rss = sampleRss(() => s.rss())
  let rate: number
  if (path === 'falco') rate = (await runLoad({ url: s.url, seconds, connections: Number(process.env.BENCH_AB_CONNECTIONS ?? 32), requests })).requestsPerSec
  else {
    const r = await saturate({ url: s.url, path: '/fluent-bit', seconds, connections: FLUENT_BIT_CONNECTIONS, headers: chunks.headers, body: () => chunks.parts(n++) })
    rate = (r.ok / r.seconds) * chunks.records
  }
  const samples = rss.stop()
  if (s.label) cpu[s.label]!.push(((cpuMsOf(s.child.pid!) - before) * 1000) / (rate * seconds))
  if (s.label) peak[s.label]!.push(Math.max(...samples.map((x) => x.bytes)) / MB)
  return rate
}
const unit = path === 'falco' ? 'requests/s' : `${format} records/s`
for (const s of servers) await measure({ ...s, label: undefined }, 2) // warm-up, not counted
const runs: Record<string, number[]> = { A: [], B: [] }
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 ? [...servers].reverse() : servers) runs[s.label]!.push(await measure(s, secs))
  console.log(`round ${round + 1}: A ${Math.round(runs.A!.at(-1)!)}  B ${Math.round(runs.B!.at(-1)!)} ${unit}; CPU µs per unit A ${cpu.A!.at(-1)!.toFixed(path === 'falco' ? 0 : 2)}  B ${cpu.B!.at(-1)!.toFixed(path === 'falco' ? 0 : 2)}; peak RSS A ${peak.A!.at(-1)!.toFixed(0)}  B ${peak.B!.at(-1)!.toFixed(0)} MB`)
}
await Promise.all(servers.map((s) => s.stop()))
await hub.close()
const ra = repeated(runs.A!)
const rb = repeated(runs.B!)
const ratio = repeated(runs.B!.map((x, i) => x / runs.A![i]!))
console.log(`\n${path} (${unit}), ${rounds} rounds of ${secs} s, ${pinning.why}`)
console.log(`A ${a}: median ${Math.round(ra.median)} (${Math.round(ra.min)} – ${Math.round(ra.max)})`)
console.log(`B ${b}: median ${Math.round(rb.median)} (${Math.round(rb.min)} – ${Math.round(rb.max)})`)
console.log(`B ÷ A per round: median ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)} – ${ratio.max.toFixed(2)})`)
const cpuRatio = repeated(cpu.B!.map((x, i) => x / cpu.A![i]!))
console.log(`server CPU µs per ${path === 'falco' ? 'request' : 'record'}: A median ${repeated(cpu.A!).median.toFixed(2)}, B median ${repeated(cpu.B!).median.toFixed(2)}; B ÷ A per round: median ${cpuRatio.median.toFixed(2)} (${cpuRatio.min.toFixed(2)} – ${cpuRatio.max.toFixed(2)})`)
const peakRatio = repeated(peak.B!.map((x, i) => x / peak.A![i]!))
console.log(`server peak RSS (MB): A median ${repeated(peak.A!).median.toFixed(0)}, B median ${repeated(peak.B!).median.toFixed(0)}; B ÷ A per round: median ${peakRatio.median.toFixed(2)} (${peakRatio.min.toFixed(2)} – ${peakRatio.max.toFixed(2)})`)
