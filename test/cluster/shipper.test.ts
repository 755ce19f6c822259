import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { Cluster } from '../../src/cluster/index.js'
import { MERGE_OUTBOX, type OccurrenceBatch } from '../../src/cluster/replication.js'
import { MERGE, TAKE } from '../../src/cluster/scripts.js'
import { findingFromStore } from '../../src/cluster/aggregate.js'
import { premerge } from '../../src/cluster/shipper.js'
import { TRACKED_NAMES } from '../../src/aggregate/aggregator.js'
import { startStore, dropStore } from '../support/store.js'
import { falcoEvent, storeSchemaDefaults } from '../support/cluster.js'
import { fromMs } from '../../src/model/time.js'

const logger = pino({ level: 'silent' })
const aggregate = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }

/**
 * The crash the high-water mark is for: the store merged a batch, the replica died before it removed
 * the batch from its outbox. The replica's next shipper sends it again; the store refuses it and the
 * counts stay exact. And the request path: a commit writes its deltas locally, nothing reaches the
 * store until the shipper runs.
 */
t.test('a batch merged before a crash is refused when the restarted replica sends it again', async (t) => {
  const server = await startStore()
  t.teardown(() => dropStore(server))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-shipper-'))
  const open = async () => {
    const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger, policy: findingPolicy({ windowMs: 3_600_000 }) })
    const cluster = new Cluster({ ...storeSchemaDefaults, url: server.url, shipIntervalMs: 10 }, aggregate, { logger, spool }, 'replica-a')
    await cluster.store.ready()
    cluster.queue({ id: 'securityHub', resendMs: 1000, lifecycle: true })
    const ingest = createPipeline(aggregate, spool, () => [], undefined, {}, undefined, cluster.replication)
    return { spool, cluster, ingest }
  }
  const count = async (c: Cluster) => {
    const reply = await c.store.run<[number, number, number, string, Array<[string, string[], number, number]>]>(TAKE, [c.store.key('lease:sink:securityHub'), c.store.key('fence:sink:securityHub')], [c.store.prefix, 'securityHub', c.store.instanceId, 1000, Date.now() + 1e9, 100])
    return reply[4].map((e) => findingFromStore(...e)).reduce((n, f) => n + f.count, 0)
  }
  let a = await open()
  const events = (n: number, from: number) => Array.from({ length: n }, (_, i) => falcoEvent({ time: fromMs(Date.now() + from + i), pod: `web-${(from + i) % 7}` }))
  await a.ingest(events(10, 0))
  await a.ingest(events(5, 10))
  t.equal(a.spool.outboxQueue(MERGE_OUTBOX).pending(), 2, 'two commits wait in the outbox; the store has seen nothing')
  t.equal(await a.cluster.store.client.exists(a.cluster.store.key('hwm')), 0)

  // What the shipper would send, merged by the store — and then the process dies before its ack.
  const items = a.spool
    .outboxQueue(MERGE_OUTBOX)
    .due(100, Date.now(), false)
    .items.map((i) => i.value as OccurrenceBatch)
  const reply = await a.cluster.store.run(
    MERGE,
    [a.cluster.store.key('hwm')],
    [
      a.cluster.store.prefix,
      a.cluster.store.replicaId,
      items[0]!.seq,
      items.at(-1)!.seq,
      aggregate.windowMs,
      Date.now(),
      3_600_000,
      JSON.stringify([{ id: 'securityHub', resend: 1000 }]),
      JSON.stringify(
        premerge(
          items.flatMap((b) => b.deltas),
          aggregate.windowMs,
        ),
      ),
      TRACKED_NAMES,
    ],
  )
  t.same(reply, [1, 0], 'merged once')
  await a.cluster.store.close()
  await a.spool.close()

  a = await open()
  t.equal(a.spool.outboxQueue(MERGE_OUTBOX).pending(), 2, 'after the restart the batch is still in the outbox')
  await a.ingest(events(3, 15))
  a.cluster.start()
  t.ok(await a.cluster.flush())
  t.equal(a.spool.outboxQueue(MERGE_OUTBOX).pending(), 0, 'the outbox is empty')
  t.equal(await count(a.cluster), 18, 'the replayed 15 counted once, the 3 new ones once')
  await a.cluster.close()
  await a.spool.close()
})
