import { fluentBitCases } from '../lib/bodies.js'
import { saturate } from '../lib/paced.js'
import { sampleRss, MB } from '../lib/procs.js'
import { securityHubSink } from '../lib/sinks.js'
import { startFalconet } from '../lib/targets.js'
import { repeated, type Repeated } from '../lib/stats.js'
import type { Settings } from '../lib/settings.js'

/**
 * 2. Fluent Bit chunks: ~2 MB, ~2,600 records (real kubernetes-filter metadata, 1 in 500 a Falco
 * alert) in json, json_lines and msgpack, plain and gzip, POSTed to a falconet process on the
 * server core: records/s on that one core, and its RSS. Four chunks in flight (several nodes'
 * Fluent Bits at once), so the core is busy while a commit is written.
 */
export interface FluentBitRow {
  format: string
  chunkKb: number
  records: number
  recordsPerSec: Repeated
  chunksPerSec: Repeated
  p50Ms: Repeated
  peakRssMb: number
  refused: number
}

export interface FluentBitResult {
  secs: number
  repeats: number
  connections: number
  idleRssMb: number
  rows: FluentBitRow[]
}

export const FLUENT_BIT_CONNECTIONS = 4

export async function fluentBitSuite(settings: Settings): Promise<FluentBitResult> {
  const hub = await securityHubSink()
  const falconet = await startFalconet({ securityHub: hub.url })
  try {
    await new Promise((r) => setTimeout(r, 3000))
    const idleRssMb = falconet.rss() / MB
    const rows: FluentBitRow[] = []
    let n = 0
    for (const c of fluentBitCases()) {
      const load = async (seconds: number) => {
        const r = await saturate({ url: falconet.url, path: '/fluent-bit', seconds, connections: FLUENT_BIT_CONNECTIONS, headers: c.headers, body: () => c.parts(n++) })
        return { requestsPerSec: r.ok / r.seconds, p50Ms: r.p50Ms, refused: r.sent - r.ok }
      }
      await load(Math.min(2, settings.warmupSecs))
      const runs = []
      let peak = 0
      for (let i = 0; i < settings.repeats; i++) {
        const sampler = sampleRss(() => falconet.rss())
        runs.push(await load(settings.fluentBitSecs))
        peak = Math.max(peak, ...sampler.stop().map((s) => s.bytes))
      }
      const row: FluentBitRow = {
        format: c.format,
        chunkKb: Math.round(c.bytes / 1024),
        records: c.records,
        recordsPerSec: repeated(runs.map((r) => r.requestsPerSec * c.records)),
        chunksPerSec: repeated(runs.map((r) => r.requestsPerSec)),
        p50Ms: repeated(runs.map((r) => r.p50Ms)),
        peakRssMb: peak / MB,
        refused: runs.reduce((s, r) => s + r.refused, 0),
      }
      rows.push(row)
      process.stdout.write(`  fluent-bit ${c.format}: ${Math.round(row.recordsPerSec.median)} records/s (${row.recordsPerSec.runs.map(Math.round).join(', ')}), peak RSS ${Math.round(row.peakRssMb)} MB\n`)
    }
    return { secs: settings.fluentBitSecs, repeats: settings.repeats, connections: FLUENT_BIT_CONNECTIONS, idleRssMb, rows }
  } finally {
    await falconet.stop()
    await hub.close()
  }
}
