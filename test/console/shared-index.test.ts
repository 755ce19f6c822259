import t, { type Test } from 'tap'
import pino from 'pino'
import { fold, type FindingState } from '../../src/aggregate/aggregator.js'
import { deltaOf } from '../../src/cluster/aggregate.js'
import { MERGE } from '../../src/cluster/scripts.js'
import { Store } from '../../src/cluster/store.js'
import { SharedFindingIndex } from '../../src/console/shared-index.js'
import type { FindingQuery } from '../../src/console/findings-index.js'
import { startStore, dropStore } from '../support/store.js'
import { waitFor } from '../support/net.js'
import { falcoEvent, storeSchemaDefaults } from '../support/cluster.js'

/**
 * The shared console index on a real redis-server, two replicas' indexes side by side: changes
 * made through both at once are all kept (compare-and-set), retention applies in the store and
 * both replicas' lists follow it, and a replica started later loads what the store holds.
 */
const logger = pino({ level: 'silent' })
const options = { keyFields: [], severityMapping: { Emergency: 'CRITICAL', Alert: 'CRITICAL', Critical: 'CRITICAL', Error: 'HIGH', Warning: 'MEDIUM', Notice: 'LOW', Informational: 'INFORMATIONAL', Debug: 'INFORMATIONAL' }, windowMs: 3_600_000 } as const
const all: FindingQuery = { sort: 'lastSeen', order: 'desc', offset: 0, limit: 500 }

async function setup(t: Test, retention = { days: 14, maxFindings: 10_000, maxBytes: 1 << 30 }) {
  const server = await startStore()
  t.teardown(() => dropStore(server))
  const stores: Store[] = []
  let seq = 0
  const replica = async (name: string) => {
    const store = new Store({ ...storeSchemaDefaults, url: server.url }, { logger, replicaId: name })
    await store.ready()
    stores.push(store)
    const listeners = new Set<(ids: string[]) => void>()
    const index = new SharedFindingIndex(retention, { store, logger, sinks: ['file', 'receiver-hook'], onMerged: (l) => (listeners.add(l), () => listeners.delete(l)) })
    t.teardown(async () => {
      await index.close()
      await store.close()
    })
    await index.ready()
    /** Merge one occurrence of each finding into the store as this replica, then tell its index (as the cluster's shipper does). */
    const merge = async (items: Array<{ id: string; pod: string; time: string }>) => {
      const deltas = items.map(({ id, pod, time }) => deltaOf(fold(undefined, falcoEvent({ time, pod }), id, options as never) as FindingState, Date.now()))
      seq++
      await store.run(MERGE, [store.key('hwm')], [store.prefix, name, seq, seq, options.windowMs, Date.now(), 3_600_000, JSON.stringify([{ id: 'file', resend: 1000 }]), JSON.stringify(deltas), 500])
      for (const l of listeners) l(items.map((i) => i.id))
      await index.flush()
    }
    return { index, merge }
  }
  return { replica, server }
}

t.test('changes through two replicas at once are all kept; both list the same', async (t) => {
  const { replica } = await setup(t)
  const a = await replica('a')
  const b = await replica('b')
  await a.merge([{ id: 'F1', pod: 'web-1', time: '2026-07-30T10:00:01.000000000Z' }])
  await b.merge([{ id: 'F1', pod: 'web-2', time: '2026-07-30T10:00:02.000000000Z' }])
  await waitFor(
    async () => (await b.index.get('F1'))?.finding.count === 2,
    30_000,
    () => 'B never saw the merged count',
  )
  const record = (await a.index.get('F1'))!
  t.equal(record.finding.distinctPods, 2, "the merged finding: both replicas' pods")
  t.equal(record.timeline.length, 2, 'a timeline point per version, whichever replica wrote it')
  // Twenty sinks' outcomes, half through each replica, written at the same moment.
  const version = record.finding.version
  for (let i = 0; i < 20; i++) {
    if (i % 2) a.index.delivered(`sink-${i}`, [{ id: 'F1', version }], Date.now())
    else b.index.deadLettered(`sink-${i}`, [{ id: 'F1', version }], { code: 'Rejected', reason: `refused ${i}` }, Date.now())
    await Promise.all([a.index.flush(), b.index.flush()])
  }
  let seen: unknown
  await waitFor(
    async () => {
      const r = (await b.index.get('F1'))!
      seen = r
      return Object.keys(r.delivered).filter((s) => s.startsWith('sink-')).length === 10 && Object.keys(r.deadLettered ?? {}).length === 10
    },
    30_000,
    () => `outcomes lost: ${JSON.stringify(seen)}`,
  )
  t.pass('every outcome kept, whichever replica recorded it (compare-and-set on the record)')
  await a.index.annotate('F1', { archivedBy: { who: 'alice', at: new Date().toISOString(), comment: 'ok' } })
  t.equal((await b.index.get('F1'))!.archivedBy?.who, 'alice', 'an archive note through A is read through B')
  await waitFor(
    async () => JSON.stringify((await a.index.query(all)).items) === JSON.stringify((await b.index.query(all)).items),
    30_000,
    () => 'the lists differ',
  )
  t.same(
    (await b.index.query(all)).items.map((r) => [r.id, r.count, r.summary]),
    [['F1', 2, 'shell']],
    'the same list, summaries read from the store',
  )
})

t.test('retention in the store: both replicas drop what it removes; a replica started later loads the rest', async (t) => {
  const { replica } = await setup(t, { days: 14, maxFindings: 100, maxBytes: 1 << 30 })
  const a = await replica('a')
  const b = await replica('b')
  for (let i = 0; i < 120; i += 10) {
    await a.merge(Array.from({ length: 10 }, (_, j) => ({ id: `F${String(i + j).padStart(3, '0')}`, pod: `web-${i + j}`, time: `2026-07-30T10:00:${String((i + j) % 60).padStart(2, '0')}.000000000Z` })))
    await new Promise((r) => setTimeout(r, 5)) // arrival order: F000 first
  }
  let totals: number[] = []
  await waitFor(
    async () => {
      totals = [(await a.index.query(all)).total, (await b.index.query(all)).total]
      return totals.every((n) => n <= 105) && totals[0] === totals[1]
    },
    30_000,
    () => `totals ${totals}`,
  )
  // Over 105% of the limit a sweep trims to 95% (so the next is some way off), as in the local index.
  t.ok(totals[0]! >= 95 && totals[0]! <= 105, `${totals[0]} kept of 120 (limit 100)`)
  const ids = (await b.index.query({ ...all, sort: 'rule' })).items.map((r) => r.id)
  t.notOk(ids.includes('F000'), 'the least recently stored went first')
  t.ok(ids.includes('F119'), 'the newest stayed')
  t.equal(await b.index.get('F000'), undefined, 'its record is gone from the store')
  // A replica that starts loads what the store holds, and sweeps once: to the limit itself.
  const c = await replica('c')
  await waitFor(
    async () => {
      totals = await Promise.all([a, b, c].map(async (r) => (await r.index.query(all)).total))
      return totals.every((n) => n === 100)
    },
    30_000,
    () => `totals ${totals}`,
  )
  t.pass('the replica started later lists the same as the others, at the limit after its start sweep')
  t.equal((await c.index.stats(Date.now() - 3_600_000, Date.now())).index.findings, 100, 'its overview counts them')
})

t.test('the store away: the list goes on from memory, a detail is 503; back empty (its data lost), the replicas follow', async (t) => {
  const { replica, server } = await setup(t)
  const a = await replica('a')
  const b = await replica('b')
  await a.merge([
    { id: 'F1', pod: 'web-1', time: '2026-07-30T10:00:01.000000000Z' },
    { id: 'F2', pod: 'web-2', time: '2026-07-30T10:00:02.000000000Z' },
  ])
  await waitFor(
    async () => (await b.index.query(all)).total === 2,
    30_000,
    () => 'B never listed them',
  )
  await server.stop()
  t.equal((await b.index.query(all)).total, 2, 'the list still answers from the rows in memory')
  await t.rejects(b.index.get('F1'), { statusCode: 503, code: 'FALCONET_ERR_STORE_UNAVAILABLE' }, 'a detail: 503 with a code, no stack')
  await t.rejects(b.index.stats(Date.now() - 60_000, Date.now()), { statusCode: 503, code: 'FALCONET_ERR_STORE_UNAVAILABLE' }, "the overview's charts too")
  await server.start() // no persistence: the store comes back empty
  let totals: number[] = []
  await waitFor(
    async () => {
      totals = [(await a.index.query(all)).total, (await b.index.query(all)).total]
      return totals.every((n) => n === 0)
    },
    60_000,
    () => `totals ${totals}: a replica kept rows the store no longer has`,
  )
  t.pass('both replicas notice the store lost its data and load again')
  await a.merge([{ id: 'F3', pod: 'web-3', time: '2026-07-30T10:00:03.000000000Z' }])
  await waitFor(
    async () => (await b.index.query(all)).items[0]?.id === 'F3',
    60_000,
    () => 'B does not follow the stream again',
  )
  t.pass('and follow the new stream')
})
