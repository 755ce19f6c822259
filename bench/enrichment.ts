/**
 * The enrichment figures alone (also part of `npm run bench`): 10,000 pods and 500 nodes by default.
 *
 *   npx tsx bench/enrichment.ts [pods] [nodes]
 */
import { enrichmentSuite } from './suites/enrichment.js'
import { buildFalconet } from './lib/targets.js'
import { pinSelf } from './lib/procs.js'

pinSelf()
if (process.env.BENCH_NO_BUILD !== '1') buildFalconet()
const r = await enrichmentSuite(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 500), Number(process.env.BENCH_IDLE_SECS ?? 45))
console.log(`\nEnrichment: ${r.pods} pods, ${r.nodes} nodes (realistic objects, local list/watch server in another process)`)
console.table([{ start_to_synced_ms: Math.round(r.syncMs), rss_3s_after_synced_mb: Math.round(r.justSyncedRssMb), [`rss_${r.idleSecs}s_after_synced_mb`]: Math.round(r.rssMb), heap_used_mb: Math.round(r.heapUsedMb), cache: r.cache }])
console.table(r.lookups.map((l) => ({ ...l, microsPerEvent: l.microsPerEvent.toFixed(2) })))
