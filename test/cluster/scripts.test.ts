import t from 'tap'
import pino from 'pino'
import { fold, type FindingState } from '../../src/aggregate/aggregator.js'
import { deltaOf, findingFromStore } from '../../src/cluster/aggregate.js'
import { ACK, CHECKPOINT, MERGE, TAKE, TOKEN } from '../../src/cluster/scripts.js'
import { Lease } from '../../src/cluster/lease.js'
import type { Store } from '../../src/cluster/store.js'
import { falcoEvent, storeRig } from '../support/cluster.js'

const logger = pino({ level: 'silent' })
const options = { keyFields: [], severityMapping: { Emergency: 'CRITICAL', Alert: 'CRITICAL', Critical: 'CRITICAL', Error: 'HIGH', Warning: 'MEDIUM', Notice: 'LOW', Informational: 'INFORMATIONAL', Debug: 'INFORMATIONAL' }, windowMs: 3_600_000 } as const

/** A delta of `n` occurrences on `pods`, between two times. */
function delta(id: string, pods: string[], times: string[], priority = 'Warning') {
  let state: FindingState | undefined
  times.forEach((time, i) => (state = fold(state, falcoEvent({ time, pod: pods[i % pods.length]!, priority }), id, options as never)))
  return deltaOf(state!, Date.now())
}

const merge = (s: Store, replica: string, from: number, to: number, deltas: unknown[], sinks = [{ id: 'securityHub', resend: 1000 }]) => s.run<[number, number]>(MERGE, [s.key('hwm')], [s.prefix, replica, from, to, options.windowMs, Date.now(), 3_600_000, JSON.stringify(sinks), JSON.stringify(deltas), 500])

const take = (s: Store, sink: string, now = Date.now()) => s.run<[number, ...unknown[]]>(TAKE, [s.key(`lease:sink:${sink}`), s.key(`fence:sink:${sink}`)], [s.prefix, sink, s.instanceId, 10_000, now, 100])

t.test('batches from two replicas merge exactly; a replayed batch changes nothing', async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  const b = await open('b')
  const d1 = delta('F1', ['p1', 'p2'], ['2026-07-30T10:00:01.000000000Z', '2026-07-30T10:00:02.000000000Z'])
  const d2 = delta('F1', ['p2', 'p3', 'p4'], ['2026-07-30T10:00:00.500000000Z', '2026-07-30T10:00:03.000000000Z', '2026-07-30T10:00:04.000000000Z'], 'Critical')
  t.same(await merge(a, 'a', 1, 1, [d1]), [1, 0])
  t.same(await merge(b, 'b', 1, 3, [d2]), [1, 0])
  t.same(await merge(a, 'a', 1, 1, [d1]), [-1, 1], 'a replay of a merged batch is recognised')
  t.same(await merge(b, 'b', 2, 3, [d2]), [-1, 3], 'so is one that overlaps the mark')
  const reply = await take(a, 'securityHub')
  t.equal(reply[0], 1, 'the first drainer takes the lease')
  const entries = reply[4] as Array<[string, string[], number, number]>
  t.equal(entries.length, 1)
  const f = findingFromStore(...entries[0]!)
  t.equal(f.count, 5, 'every occurrence once')
  t.equal(f.distinctPods, 4, 'distinct pods are the union')
  t.equal(f.firstObservedAt, '2026-07-30T10:00:00.500000000Z')
  t.equal(f.lastObservedAt, '2026-07-30T10:00:04.000000000Z')
  t.equal(f.severity, 'CRITICAL', 'the most urgent severity')
  t.equal(f.version, 2)
  t.equal(f.event.time, '2026-07-30T10:00:04.000000000Z', 'the latest event')
  t.same(f.samplePods.sort(), ['p1', 'p2', 'p3', 'p4'])
  t.equal((await take(b, 'securityHub'))[0], 0, 'a second replica does not drain the same sink')
})

t.test('a delivered version leaves the queue; a change after it is due after the resend interval', async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  await merge(a, 'a', 1, 1, [delta('F1', ['p1'], ['2026-07-30T10:00:01.000000000Z'])])
  const now = Date.now()
  const first = await take(a, 'securityHub', now)
  const f = findingFromStore(...(first[4] as Array<[string, string[], number, number]>)[0]!)
  await merge(a, 'a', 2, 2, [delta('F1', ['p2'], ['2026-07-30T10:00:02.000000000Z'])])
  t.same(await a.run(ACK, [], [a.prefix, 'securityHub', now, 1000, JSON.stringify([[f.id, f.version]])]), [2], 'the delivery covered what the store had then')
  const soon = await take(a, 'securityHub', now + 10)
  t.same(soon[4], [], 'the newer version waits for the resend interval')
  t.equal(soon[3], String(now + 1000))
  const later = await take(a, 'securityHub', now + 1000)
  const g = findingFromStore(...(later[4] as Array<[string, string[], number, number]>)[0]!)
  t.equal(g.version, 2)
  await a.run(ACK, [], [a.prefix, 'securityHub', now + 1000, 1000, JSON.stringify([[g.id, g.version]])])
  t.same((await take(a, 'securityHub', now + 5000))[4], [], 'delivered: nothing owed')
})

t.test('an audit detection merged by one replica is skipped when another brings it again', async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  const d = { ...delta('F2', ['p1'], ['2026-07-30T10:00:01.000000000Z']), once: ['audit-1/F2'] }
  t.same(await merge(a, 'a', 1, 1, [d]), [1, 0])
  t.same(await merge(a, 'b', 1, 1, [d]), [0, 1], 'counted once cluster-wide')
})

t.test('the token bucket is shared: a burst, then the rate', async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  const b = await open('b')
  const waits: number[] = []
  for (let i = 0; i < 6; i++) waits.push(await (i % 2 ? a : b).run<number>(TOKEN, [a.key('rl:x')], [2, 4]))
  t.same(waits.slice(0, 4), [0, 0, 0, 0], 'the burst, across replicas')
  t.ok(waits[4]! > 0 && waits[4]! <= 500, `then a wait (${waits[4]} ms at 2/s)`)
})

t.test('leases: one holder, a new fencing token per holder, a deposed leader cannot write the checkpoint', async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  const b = await open('b')
  const la = new Lease(a, 'poller', 1000, { logger })
  const lb = new Lease(b, 'poller', 1000, { logger })
  t.ok(await la.step())
  t.notOk(await lb.step())
  const fenceA = la.fence!
  t.equal(await a.run(CHECKPOINT, [a.key('cp'), a.key('fence:poller')], [fenceA, 'x']), 1)
  await new Promise((r) => setTimeout(r, 1200)) // a's lease expires without renewal
  t.ok(await lb.step(), 'taken over after expiry')
  t.ok(lb.fence! > fenceA)
  t.equal(await a.run(CHECKPOINT, [a.key('cp'), a.key('fence:poller')], [fenceA, 'stale']), 0, 'the old token is refused')
  t.equal(await b.client.get(b.key('cp')), 'x')
  // The detectors' state travels with the checkpoint, fenced the same way.
  const withState = (s: typeof a, fence: number, cp: string) => s.run(CHECKPOINT, [s.key('cp'), s.key('fence:poller'), s.key('st'), s.key('win')], [fence, cp, 1, 'first-seen:exec:alice', '1', 'forbidden-secrets|bob', '{"count":3}'])
  t.equal(await withState(a, fenceA, 'stale'), 0)
  t.equal(await b.client.exists(b.key('st'), b.key('win')), 0, 'a deposed leader hands over no state either')
  t.equal(await withState(b, lb.fence!, 'y'), 1)
  t.same([await b.client.get(b.key('cp')), await b.client.hgetall(b.key('st')), await b.client.hgetall(b.key('win'))], ['y', { 'first-seen:exec:alice': '1' }, { 'forbidden-secrets|bob': '{"count":3}' }], 'checkpoint, durable state and windows in one step')
  await lb.stop()
  t.ok(await la.step(), 'a released lease is free at once')
})

t.test("the window is measured on falconet's clock: occurrences received after an idle window start a new count", async (t) => {
  const { open } = await storeRig(t)
  const a = await open('a')
  const old = ['2026-07-30T10:00:01.000000000Z'] // a replayed backlog: event times long past
  const received = Date.now()
  const d1 = { ...delta('F3', ['p1'], old), cm: received }
  const d2 = { ...delta('F3', ['p2'], old), cm: received + 1000 }
  const d3 = { ...delta('F3', ['p3'], old), cm: received + 1000 + options.windowMs + 1 }
  await merge(a, 'a', 1, 1, [d1])
  await merge(a, 'a', 2, 2, [d2])
  const count = async () => findingFromStore(...((await take(a, 'securityHub'))[4] as Array<[string, string[], number, number]>)[0]!)
  t.equal((await count()).count, 2, 'received a second apart: one count, however old the events')
  await merge(a, 'a', 3, 3, [d3])
  const f = await count()
  t.equal(f.count, 1, 'received after the window: counting starts again')
  t.equal(f.distinctPods, 1)
  t.ok(Date.parse(f.updatedAt) >= d3.cm, 'UpdatedAt is when it changed, not the old event time')
})
