import t from 'tap'
import { fold, type FindingState } from '../../src/aggregate/aggregator.js'
import { deltaOf, findingFromStore } from '../../src/cluster/aggregate.js'
import { ACK, MERGE, TAKE } from '../../src/cluster/scripts.js'
import { SinkRenames } from '../../src/cluster/rename-sinks.js'
import { SharedSinkStatus } from '../../src/cluster/sink-status.js'
import type { Store } from '../../src/cluster/store.js'
import { falcoEvent, storeRig } from '../support/cluster.js'

// Replicas of the previous version queued, delivered and reported under the Security Hub sink's
// old id `securityhub`; after the upgrade the sink drains `securityHub` (src/delivery/renamed-sinks.ts).
const options = { keyFields: [], severityMapping: { Warning: 'MEDIUM' }, windowMs: 3_600_000 } as const
const delta = (id: string, time: string) => deltaOf(fold(undefined as FindingState | undefined, falcoEvent({ time, pod: 'p1' }), id, options as never), Date.now())
const merge = (s: Store, seq: number, deltas: unknown[], sink: string) => s.run(MERGE, [s.key('hwm')], [s.prefix, 'old-replica', seq, seq, options.windowMs, Date.now(), 3_600_000, JSON.stringify([{ id: sink, resend: 1000 }]), JSON.stringify(deltas), 500])
const take = (s: Store, sink: string) => s.run<[number, unknown, number, string, Array<[string, string[], number, number]>]>(TAKE, [s.key(`lease:sink:${sink}`), s.key(`fence:sink:${sink}`)], [s.prefix, sink, s.instanceId, 10_000, Date.now() + 1e9, 100])

t.test("the old id's queue, delivery records and status move to the new id; nothing owed is lost or sent twice", async (t) => {
  const { open } = await storeRig(t)
  const old = await open('old')
  await merge(old, 1, [delta('F1', '2026-07-30T10:00:01.000000000Z'), delta('F2', '2026-07-30T10:00:02.000000000Z'), delta('F3', '2026-07-30T10:00:03.000000000Z')], 'securityhub')
  // The old replica delivered F1 and reported it.
  const owedBefore = (await take(old, 'securityhub'))[4].map((e) => findingFromStore(...e))
  t.equal(owedBefore.length, 3)
  const f1 = owedBefore.find((f) => f.id === 'F1')!
  await old.run(ACK, [], [old.prefix, 'securityhub', Date.now(), 1000, JSON.stringify([[f1.id, f1.version]])])
  await new SharedSinkStatus(old).publish([{ id: 'securityhub', lastSuccessAt: 1_000, lastError: undefined }])

  const now = await open('new')
  await new SinkRenames(now).run()
  t.equal(await now.client.exists(now.key('q:securityhub')), 0, 'the old queue is gone')
  const owed = (await take(now, 'securityHub'))[4].map((e) => findingFromStore(...e))
  t.same(owed.map((f) => f.id).sort(), ['F2', 'F3'], 'the undelivered findings are owed under the new id, F1 is not')
  t.match(await now.client.hgetall(now.key('d:F1')), { securityHub: /^\d+\|1\|1$/ }, "F1's delivery record moved")
  t.notOk(await now.client.hexists(now.key('d:F1'), 'securityhub'))
  const [status] = await new SharedSinkStatus(now).read([{ id: 'securityHub', lastSuccessAt: undefined, lastError: undefined, pending: 0 }])
  t.match(status, { lastSuccessAt: 1_000, pending: 2 }, 'the last delivery is reported under the new id')

  // The same finding merged again by a new replica (same version): not owed again, the record is there.
  await merge(now, 2, [], 'securityHub')
  t.same((await take(now, 'securityHub'))[4].map((e) => e[0]).sort(), ['F2', 'F3'])

  // A rolling upgrade: an old replica still queues under the old id afterwards; the next run moves it.
  await merge(old, 3, [delta('F4', '2026-07-30T10:00:04.000000000Z')], 'securityhub')
  await new SinkRenames(now).run()
  t.same((await take(now, 'securityHub'))[4].map((e) => e[0]).sort(), ['F2', 'F3', 'F4'])
})
