/**
 * `npm run bench`: the whole benchmark suite (see bench/README.md), or some of it:
 *
 *   npm run bench                       all suites, default durations (about 12–14 minutes)
 *   npm run bench -- falco storm        only these (falco, fluent-bit, storm, steady, enrichment, scale-out)
 *   BENCH_QUICK=1 npm run bench         a smoke run (scratch figures)
 *   BENCH_SOAK_SECS=600 npm run bench   the 10-minute soak
 *
 * Prints one table and writes bench/results/<date>-results.md, .json and
 * <date>-throughput-latency.png. Benchmarks print figures; they do not pass or fail.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { settingsFrom } from './lib/settings.js'
import { pinSelf, pinning } from './lib/procs.js'
import { findFalcosidekick, type Peer } from './lib/peer.js'
import { buildFalconet, ROOT } from './lib/targets.js'
import { rows, markdownTable, chartData, type Results } from './lib/report.js'
import { renderChart } from './lib/chart.js'
import { falcoHttpSuite } from './suites/falco-http.js'
import { fluentBitSuite } from './suites/fluent-bit.js'
import { stormSuite } from './suites/storm.js'
import { steadySuite } from './suites/steady.js'
import { enrichmentSuite } from './suites/enrichment.js'
import { scaleOutSuite } from './suites/scale-out.js'

const settings = settingsFrom(process.env, process.argv.slice(2))
pinSelf()
const startedAt = new Date()
const git = (args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return '?'
  }
}
const meta = {
  date: startedAt.toISOString(),
  commit: `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src']) ? ' (src modified)' : ''}`,
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  pinning: pinning.why,
  loadAverageAtStart: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
  loadAverageAtEnd: '',
  minutes: 0,
}
const log = (line: string) => process.stdout.write(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)
log(`falconet benchmark — ${settings.suites.join(', ')}${settings.quick ? ' (BENCH_QUICK: smoke run, figures mean little)' : ''}; ${pinning.why}; load average ${meta.loadAverageAtStart}`)

if (process.env.BENCH_NO_BUILD !== '1') {
  log('building falconet (npm run build)')
  buildFalconet()
}
let peer: Peer = { available: false, reason: 'not looked for' }
if (settings.suites.includes('falco')) {
  peer = findFalcosidekick()
  log(peer.available ? `falcosidekick: ${peer.binary} (${peer.how})` : `falcosidekick: not available (${peer.reason})`)
}

const results: Results = { failed: {} }
const suites: Record<string, () => Promise<void>> = {
  falco: async () => void (results.falco = await falcoHttpSuite(settings, peer)),
  'fluent-bit': async () => void (results.fluentBit = await fluentBitSuite(settings)),
  storm: async () => void (results.storm = await stormSuite(settings)),
  steady: async () => void (results.steady = await steadySuite(settings)),
  enrichment: async () => void (results.enrichment = await enrichmentSuite(settings.pods, settings.nodes, settings.idleSecs)),
  'scale-out': async () => void (results.scaleOut = await scaleOutSuite(settings)),
}
for (const name of settings.suites) {
  log(`suite ${name}`)
  try {
    await suites[name]!()
  } catch (err) {
    results.failed[name] = (err as Error).stack ?? String(err)
    log(`suite ${name} FAILED: ${(err as Error).message}`)
  }
}
meta.loadAverageAtEnd = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')
meta.minutes = Math.round((Date.now() - startedAt.getTime()) / 6000) / 10

const table = markdownTable(rows(results))
console.log(`\n${table}\n`)

const day = startedAt.toISOString().slice(0, 10)
const base = `${day}${settings.scratch ? '-scratch' : ''}`
const dir = join(ROOT, 'bench/results')
mkdirSync(dir, { recursive: true })
const subtitle = `${meta.date.slice(0, 16)}Z, ${meta.commit}, Node ${meta.node}, ${meta.cpu}, load ${meta.loadAverageAtStart}${settings.scratch ? ' — SCRATCH' : ''}`
const chart = `${base}-throughput-latency.png`
try {
  writeFileSync(join(dir, chart), (await renderChart(chartData(results, subtitle))).png)
} catch (err) {
  log(`chart not drawn: ${(err as Error).message}`)
}
const durations = `Falco runs ${settings.secs} s, Fluent Bit runs ${settings.fluentBitSecs} s, ${settings.repeats} measured runs each after ${settings.warmupSecs} s of warm-up; storm ${settings.stormAlerts} alerts over ${settings.stormSecs} s; steady ${settings.steadyRate} alerts/s for ${settings.soakSecs} s; enrichment ${settings.pods} pods, ${settings.nodes} nodes`
const markdown = `# falconet benchmark, ${day}${settings.scratch ? ' (scratch: shorter or partial run)' : ''}

- When: ${meta.date}, ${meta.minutes} minutes; commit ${meta.commit}; Node ${meta.node}; ${meta.cpu}
- CPUs: ${meta.pinning}
- Load average (1, 5, 15 min) at start: ${meta.loadAverageAtStart}; at end: ${meta.loadAverageAtEnd}${Number(meta.loadAverageAtStart.split(' ')[0]) > 1 ? ' — the machine was not idle: compare ratios within a run, not absolute figures across runs' : ''}
- Settings: ${durations}
- falcosidekick: ${peer.available ? `${peer.binary} (${peer.how})` : `not available (${peer.reason})`}

Medians of the measured runs; spread is the smallest and largest run. Ratios are taken between runs of the same round. Benchmarks print figures; they do not pass or fail. What each figure means: bench/README.md.

${table}

![throughput and latency](${chart})
`
writeFileSync(join(dir, `${base}-results.md`), markdown)
writeFileSync(join(dir, `${base}-results.json`), JSON.stringify({ meta, settings, results, rows: rows(results) }, null, 2))
log(`written: bench/results/${base}-results.md, .json, ${chart}`)
