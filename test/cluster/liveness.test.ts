import t from 'tap'
import pino from 'pino'
import { SourceLiveness } from '../../src/monitor/source-liveness.js'
import { Cluster } from '../../src/cluster/index.js'
import { SharedLiveness } from '../../src/cluster/liveness.js'
import { startStore, dropStore } from '../support/store.js'
import { storeSchemaDefaults } from '../support/cluster.js'

const logger = pino({ level: 'silent' })

t.test('sightings are merged cluster-wide and only the lease holder raises a silence', async (t) => {
  const server = await startStore()
  t.teardown(() => dropStore(server))
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') }
  const replica = async (name: string) => {
    const memory = new Map<string, unknown>()
    const state = { get: <T>(k: string) => memory.get(k) as T | undefined, put: async (k: string, v: unknown) => void memory.set(k, v) }
    const cluster = new Cluster(
      { ...storeSchemaDefaults, url: server.url, leaseSecs: 30 },
      { keyFields: {}, severityMapping: {} as never, windowMs: 3_600_000 },
      {
        logger,
        spool: {
          state,
          outboxQueue: () => {
            throw new Error('not used')
          },
        },
      },
      name,
    )
    t.teardown(() => cluster.store.close())
    await cluster.store.ready()
    const shared = new SharedLiveness(cluster, 7 * 86_400_000)
    const raised: string[] = []
    const resolved: string[] = []
    const liveness = new SourceLiveness(
      { silentAfterMs: { falco: 60_000 }, forgetAfterMs: 7 * 86_400_000, maxSources: 100, falcoLearnFrom: 'any', repeatEveryMs: 3_600_000, priority: 'Error' },
      {
        now: () => clock.now,
        store: state,
        ingest: async (events) => (raised.push(...events.map((e) => e.output)), { duplicate: false }),
        resolve: async (event) => (resolved.push(event.output), true),
        logger,
        raises: shared.raises,
      },
    )
    shared.start(liveness, 60_000)
    t.teardown(() => shared.stop())
    return { shared, liveness, raised, resolved }
  }
  const a = await replica('a')
  const b = await replica('b')
  t.ok(await b.shared.lease.step(), 'b leads the monitor')
  t.notOk(await a.shared.lease.step(), 'a stands by')
  a.liveness.seen('falco', 'node-1')
  b.liveness.seen('falco', 'node-1')
  clock.now += 50_000
  a.liveness.seen('falco', 'node-1') // node-1's Falco now only reaches replica a
  clock.now += 40_000
  await a.shared.sync()
  await b.shared.sync()
  await b.liveness.check()
  t.same(b.raised, [], 'b knows node-1 talked to a 40 s ago: not silent')
  clock.now += 120_000
  await a.liveness.check()
  t.same(a.raised, [], 'a does not raise: it does not hold the lease')
  await b.liveness.check()
  t.equal(b.raised.length, 1, 'the leader raises node-1 once')
  clock.now += 10_000
  a.liveness.seen('falco', 'node-1')
  await a.shared.sync()
  await b.shared.sync()
  await b.liveness.settled()
  t.equal(b.resolved.length, 1, 'node-1 talking to a resolves the silence b raised')
})
