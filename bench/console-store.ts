/**
 * `npm run bench:console-store` (node --expose-gc --import tsx bench/console-store.ts): the console
 * index with several replicas, on a real redis-server / valkey-server (test/support/store.ts starts
 * one on a free loopback port). 100,000 findings (BENCH_CONSOLE_FINDINGS) are written to the store
 * as console records (the script the index writes with), then a replica's SharedFindingIndex loads
 * them. Prints: the write and load times, the store's memory, list-query times of the shared index
 * against the local (LMDB) one on the same findings — interleaved, round by round, so both see the
 * same machine — a finding's detail (two store round trips), and how long a change written through
 * one replica takes to reach another's rows (its live update). Figures, not pass/fail.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { toFinding } from '../src/aggregate/aggregator.js'
import { validateConfig } from '../src/config/load.js'
import { Store } from '../src/cluster/store.js'
import { LocalFindingIndex } from '../src/console/local-index.js'
import { SharedFindingIndex } from '../src/console/shared-index.js'
import { PUT_RECORDS } from '../src/console/shared-scripts.js'
import { nextRecord } from '../src/console/rows.js'
import type { FindingIndex } from '../src/console/findings-index.js'
import { dropStore, startStore } from '../test/support/store.js'
import { benchFinding, benchQueries, timings } from './lib/console-findings.js'

const N = Number(process.env.BENCH_CONSOLE_FINDINGS ?? 100_000)
const ROUNDS = 20

const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!

const logger = pino({ level: 'silent' })
const server = await startStore()
const dataDir = mkdtempSync(join(tmpdir(), 'falconet-bench-console-store-'))
const config = validateConfig({ dataDir, cluster: { store: { url: server.url } } })
const retention = { days: 14, maxFindings: Math.max(N * 2, 200_000), maxBytes: 4 * 1024 ** 3 }
const store = new Store(config.cluster.store, { logger, replicaId: 'bench-writer' })
await store.ready()
console.log(
  `${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node.js ${process.version}`,
)

// The same findings in both: the local index through its hook, the store through the index's write script.
const local = new LocalFindingIndex(dataDir, retention, { logger })
let started = performance.now()
const now = Date.now()
for (let i = 0; i < N; i += 500) {
  const states = Array.from({ length: Math.min(500, N - i) }, (_, j) => benchFinding(i + j))
  local.record(states, () => ['securityHub', 'slack-sec'])
  const args = states.flatMap((s) => [s.id, '0', JSON.stringify(nextRecord(undefined, toFinding(s), [], now)), String(now)])
  await store.run(PUT_RECORDS, [], [store.prefix, 10_000, ...args])
}
await local.flush()
console.log(`wrote ${N.toLocaleString()} console records to the store in ${((performance.now() - started) / 1000).toFixed(1)} s (batches of 500)`)
const memory = String(await store.command('bench', 'INFO', 'memory'))
console.log(`store memory: ${/used_memory_human:(\S+)/.exec(memory)?.[1]} (${N.toLocaleString()} records)`)

started = performance.now()
const shared = new SharedFindingIndex(retention, { store, logger, sinks: ['securityHub', 'slack-sec'], onMerged: () => () => {} })
await shared.ready()
console.log(`a replica loaded every row in ${((performance.now() - started) / 1000).toFixed(1)} s`)
;(globalThis as { gc?: () => void }).gc?.() // both indexes measured after a full collection

const queries = benchQueries(N)
console.log(`\nlist queries, ${N.toLocaleString()} findings, ${ROUNDS} interleaved rounds (local LMDB index | shared store index):`)
for (const [name, q] of queries) {
  const times: Record<'local' | 'shared', number[]> = { local: [], shared: [] }
  let totals = ''
  for (let r = 0; r < ROUNDS; r++) {
    for (const [kind, index] of (r % 2
      ? [
          ['shared', shared],
          ['local', local],
        ]
      : [
          ['local', local],
          ['shared', shared],
        ]) as Array<['local' | 'shared', FindingIndex]>) {
      const t0 = performance.now()
      const page = await index.query(q)
      times[kind].push(performance.now() - t0)
      if (r === 0) totals += `${kind} ${page.total.toLocaleString()} `
    }
  }
  console.log(`  ${name.padEnd(44)} local ${timings(times.local)} | shared ${timings(times.shared)} | ratio ${(median(times.shared) / median(times.local)).toFixed(2)}  (${totals.trim()})`)
}

const ids = Array.from({ length: ROUNDS }, (_, i) => benchFinding(Math.floor((i * N) / ROUNDS)).id)
const detail: number[] = []
for (const id of ids) {
  const t0 = performance.now()
  await shared.get(id)
  detail.push(performance.now() - t0)
}
console.log(`\na finding's detail from the store (record + delivery state): ${timings(detail)}`)

// A change written through one replica (the write script: record + change stream) until another's rows have it.
const propagation: number[] = []
for (const [r, id] of ids.entries()) {
  const record = (await shared.get(id))!
  const next = { ...record, finding: { ...record.finding, count: record.finding.count + 1, version: record.finding.version + 1 } }
  const rev = String(await store.command('bench', 'HGET', store.key('c:rev'), id))
  const seen = new Promise<void>((resolve) => {
    const off = shared.onChange((changed) => {
      if (changed.includes(id)) {
        off()
        resolve()
      }
    })
  })
  const t0 = performance.now()
  const [, , conflicts] = await store.run<[number, number, string[]]>(PUT_RECORDS, [], [store.prefix, 10_000, id, rev, JSON.stringify(next), String(Date.now() + r)])
  if (conflicts.length > 0) throw new Error('unexpected conflict')
  await seen
  propagation.push(performance.now() - t0)
}
console.log(`a change written through one replica, in another's rows and live updates: ${timings(propagation)}`)
console.log(
  `load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)

await shared.close()
await local.close()
await store.close()
await dropStore(server)
rmSync(dataDir, { recursive: true, force: true })
