/**
 * `npm run bench:profile [falco|fluent-bit]`: falconet (compiled, on the server core) under the
 * Falco single-alert load and under Fluent Bit json_lines chunks, each with `node --cpu-prof`.
 * Writes bench/results/profiles/<date>-<path>.cpuprofile (open in Chrome DevTools or speedscope for
 * the flame graph) and prints self time by function and by package/file.
 *
 *   BENCH_PROFILE_SECS=15 npm run bench:profile -- falco
 *   BENCH_PROFILE_FORMAT='json_lines gzip' npm run bench:profile -- fluent-bit
 *   BENCH_PROFILE_CONNECTIONS=64 npm run bench:profile -- falco
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import { falcoBodies, fluentBitCases } from './lib/bodies.js'
import { runLoad } from './lib/load.js'
import { pinSelf, pinning } from './lib/procs.js'
import { securityHubSink } from './lib/sinks.js'
import { buildFalconet, startFalconet, ROOT } from './lib/targets.js'
import { summarise, type SelfTime } from './lib/cpuprofile.js'

const PATHS = ['falco', 'fluent-bit'] as const
const which = process.argv.slice(2).length ? process.argv.slice(2) : [...PATHS]
const secs = Number(process.env.BENCH_PROFILE_SECS ?? 10)
/** The Fluent Bit chunk format profiled: json_lines unless BENCH_PROFILE_FORMAT says (e.g. "msgpack gzip"). */
const format = process.env.BENCH_PROFILE_FORMAT ?? 'json_lines'
/** Connections in flight (default 10 for Falco, 4 for Fluent Bit): more make commits bigger and the path CPU-bound. */
const connections = (path: string) => Number(process.env.BENCH_PROFILE_CONNECTIONS ?? (path === 'falco' ? 10 : 4))
const dir = join(ROOT, 'bench/results/profiles')
const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')

pinSelf()
if (process.env.BENCH_NO_BUILD !== '1') buildFalconet()
mkdirSync(dir, { recursive: true })

const table = (rows: SelfTime[]) => ['| self ms | % | where |', '| ---: | ---: | --- |', ...rows.map((r) => `| ${r.ms.toFixed(0)} | ${r.percent.toFixed(1)} | \`${r.name}\` |`)].join('\n')
let report = `# CPU profiles ${stamp}\n\n${pinning.why}; ${secs} s of load per path.\n`

for (const path of which) {
  if (!(PATHS as readonly string[]).includes(path)) throw new Error(`unknown path ${path}: ${PATHS.join(', ')}`)
  const hub = await securityHubSink()
  const name = `${stamp}-${path}`
  const falconet = await startFalconet({ securityHub: hub.url, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] })
  let requests: autocannon.Request[]
  let unit: string
  if (path === 'falco') {
    requests = falcoBodies().map((body) => ({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body }))
    unit = 'alerts'
  } else {
    const c = fluentBitCases().find((x) => x.format === format)!
    let n = 0
    requests = [{ method: 'POST', path: '/fluent-bit', headers: c.headers, setupRequest: (req) => ({ ...req, body: c.chunk(n++) }) }]
    unit = `${format} chunks of ${c.records} records`
  }
  await runLoad({ url: falconet.url, seconds: 2, connections: connections(path), requests }) // warm-up, not profiled
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const r = await runLoad({ url: falconet.url, seconds: secs, connections: connections(path), requests })
  const toUs = Number(process.hrtime.bigint() / 1000n)
  await falconet.stop()
  await hub.close()
  const file = readdirSync(dir).find((f) => f === `${name}.cpuprofile`)
  if (!file) throw new Error(`no profile written for ${path}:\n${falconet.output()}`)
  const s = summarise(join(dir, file), { fromUs, toUs })
  const head = `## ${path}: ${Math.round(r.requestsPerSec)} ${unit}/s with ${connections(path)} connections, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms\n\n${file} (${Math.round(s.totalMs)} ms sampled under load; start-up and shutdown left out)`
  const section = `${head}\n\n### Self time by package / file\n\n${table(s.areas.slice(0, 15))}\n\n### Self time by function\n\n${table(s.functions)}\n`
  console.log(`\n${section}`)
  report += `\n${section}`
}
const out = join(dir, `${stamp}-summary.md`)
writeFileSync(out, report)
console.log(`\nwritten: ${out}`)
