import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEEN_SHARE, Spool, SpoolFullError } from '../../src/delivery/spool.js'
import { fold, idFor } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING, type Priority } from '../../src/model/severity.js'
import { silent, testEvent } from '../support/runner.js'

const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const open = (dir = mkdtempSync(join(tmpdir(), 'falconet-spool-')), maxBytes = 1 << 30, resendMs = 1000, tracksLifecycle = (_sink: string) => false) =>
  new Spool({ dir, maxBytes, durability: 'process', resendMs: { a: resendMs, b: resendMs }, logger: silent, policy: findingPolicy({ windowMs: 60_000, tracksLifecycle }) })
const record = (spool: Spool, events: ReturnType<typeof testEvent>[], sinks = ['a', 'b']) =>
  spool.record(
    events.map((e) => {
      const id = idFor(e, options)
      return { id, apply: (p: any) => fold(p, e, id, options) }
    }),
    sinks,
  )

t.test('each sink has its own queue; acknowledging in one leaves the other', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1), testEvent(2)])
  t.equal(spool.pendingCount('a'), 2)
  const due = spool.due('a', 10, Date.now()).items
  await spool.acknowledge(
    'a',
    due.map((d) => ({ id: d.state.id, version: d.state.version })),
    Date.now(),
  )
  t.equal(spool.pendingCount('a'), 0)
  t.equal(spool.pendingCount('b'), 2)
})

t.test('a change during delivery stays queued; an unchanged finding is not resent before its interval', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1, { rule: 'r' })])
  const [due] = spool.due('a', 10, 1_000).items
  await record(spool, [testEvent(2, { rule: 'r' })]) // arrives while v1 is in flight
  await spool.acknowledge('a', [{ id: due!.state.id, version: due!.state.version }], 1_000)
  t.equal(spool.pendingCount('a'), 1, 'v2 still queued')
  const waiting = spool.due('a', 10, 1_500)
  t.same(waiting.items, [], 'not due within the resend interval')
  t.equal(waiting.nextDueAt, 2_000)
  const later = spool.due('a', 10, 2_000).items
  t.equal(later[0]!.state.count, 2)
  t.equal(spool.due('a', 10, 1_500, true).items.length, 1, 'a shutdown flush ignores the interval')
})

t.test('acknowledge reports how many occurrences each delivery covered', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  for (let i = 0; i < 5; i++) await record(spool, [testEvent(i, { rule: 'r' })])
  const [due] = spool.due('a', 10, Date.now()).items
  t.same(await spool.acknowledge('a', [{ id: due!.state.id, version: due!.state.version }], Date.now()), [5])
  for (let i = 0; i < 3; i++) await record(spool, [testEvent(i, { rule: 'r' })])
  const [again] = spool.due('a', 10, Date.now() + 10_000).items
  t.same(await spool.acknowledge('a', [{ id: again!.state.id, version: again!.state.version }], Date.now()), [3])
})

t.test('the queue survives reopening (a restart)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-spool-'))
  const first = open(dir)
  await record(first, [testEvent(1, { priority: 'Critical' }), testEvent(2)])
  await first.close()
  const second = open(dir)
  t.teardown(() => second.close())
  t.equal(second.pendingCount('a'), 2)
  t.same(
    second.due('a', 10, Date.now()).items.map((d) => d.state.severity),
    ['CRITICAL', 'LOW'],
  )
  await record(second, [testEvent(3)])
  t.equal(second.pendingCount('a'), 3, 'sequence numbers continue after a restart')
})

t.test('discard takes a finding out of one queue', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1)])
  const [due] = spool.due('a', 10, Date.now()).items
  await spool.discard('a', [{ id: due!.state.id, version: due!.state.version }])
  t.equal(spool.pendingCount('a'), 0)
  t.equal(spool.pendingCount('b'), 1)
})

t.test('discard keeps a finding that changed while its dead-lettered version was in flight', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1, { rule: 'r' })])
  const [due] = spool.due('a', 10, Date.now()).items
  await record(spool, [testEvent(2, { rule: 'r' })]) // v2 arrives while v1 is being refused
  await spool.discard('a', [{ id: due!.state.id, version: due!.state.version }])
  t.equal(spool.pendingCount('a'), 1, 'v2 is still owed to this sink')
  t.equal(spool.due('a', 10, Date.now(), true).items[0]?.state.count, 2)
})

t.test('the budget refuses new work before writing anything', async (t) => {
  const spool = open(undefined, 1024 * 1024)
  t.teardown(() => spool.close())
  let refused: unknown
  for (let i = 0; i < 2000 && !refused; i++) {
    await record(spool, [{ ...testEvent(i), output: 'x'.repeat(2000) }]).catch((err) => (refused = err))
  }
  t.type(refused, SpoolFullError)
  t.ok(spool.owedBytes(true) >= 1024 * 1024 * (1 - SEEN_SHARE), "refused at the findings' share of the budget")
})

t.test('expire forgets idle findings that no sink still has queued', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1, { rule: 'old', time: '2026-07-30T09:00:00.000000000Z' })])
  const [due] = spool.due('a', 10, Date.now()).items
  t.equal((await spool.housekeep(Date.now())).forgotten, 0, 'still queued for both sinks: kept')
  await spool.acknowledge('a', [{ id: due!.state.id, version: 1 }], Date.now())
  await spool.acknowledge('b', [{ id: due!.state.id, version: 1 }], Date.now())
  t.equal((await spool.housekeep(Date.now())).forgotten, 1)
  await record(spool, [testEvent(2, { rule: 'old', time: '2026-07-30T10:00:00.000000000Z' })])
  t.equal(spool.due('a', 10, Date.now()).items[0]!.state.count, 1, 'a new count after expiry')
})

t.test('shed drops the least urgent queued findings, oldest first, down to the target', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  const priorities: Priority[] = ['Debug', 'Critical', 'Notice', 'Warning', 'Informational', 'Notice']
  await record(
    spool,
    priorities.map((p, i) => ({ ...testEvent(i, { priority: p }), output: 'x'.repeat(3000) })),
  )
  const kept: string[] = []
  const shed = await spool.shed(0, 2, async (states) => void kept.push(...states.map((s) => s.id))) // keep ranks 0..2 (CRITICAL, HIGH, MEDIUM)
  t.same(
    shed.map((s) => s.event.output.length && s.severity),
    ['INFORMATIONAL', 'INFORMATIONAL', 'LOW', 'LOW'],
  )
  t.same(
    kept,
    shed.map((s) => s.id),
    'each shed finding handed over (dead-lettered) once, before removal',
  )
  t.same(
    spool.due('a', 10, Date.now()).items.map((d) => d.state.severity),
    ['CRITICAL', 'MEDIUM'],
  )
  t.same(
    spool.due('b', 10, Date.now()).items.map((d) => d.state.severity),
    ['CRITICAL', 'MEDIUM'],
  )
})

t.test('shed removes nothing when the dead-letter write fails', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1, { priority: 'Debug' }), testEvent(2, { priority: 'Notice' })])
  await t.rejects(
    spool.shed(0, 2, async () => {
      throw new Error('disk full')
    }),
    /disk full/,
  )
  t.equal(spool.pendingCount('a'), 2, 'still queued')
  t.equal(spool.due('b', 10, Date.now()).items.length, 2)
})

t.test('a finding whose window closed is archived for the sinks that track its life, then forgotten', async (t) => {
  const spool = open(undefined, undefined, undefined, (s) => s === 'a')
  t.teardown(() => spool.close())
  await record(spool, [testEvent(1, { rule: 'old', time: '2026-07-30T09:00:00.000000000Z' })])
  for (const sink of ['a', 'b']) {
    const [due] = spool.due(sink, 10, Date.now()).items
    await spool.acknowledge(sink, [{ id: due!.state.id, version: 1 }], Date.now())
  }
  t.match(await spool.housekeep(Date.now()), { archived: 1, forgotten: 0 }, 'archived first, not forgotten')
  t.equal(spool.pendingCount('b'), 0, 'b does not track lifecycle')
  const [archived] = spool.due('a', 10, Date.now(), true).items
  t.match(archived!.state, { archived: true, version: 2 })
  t.ok(Date.parse(archived!.state.updatedAt) > Date.parse('2026-07-30T09:00:00Z'), 'UpdatedAt moved forward')
  await spool.acknowledge('a', [{ id: archived!.state.id, version: 2 }], Date.now())
  t.match(await spool.housekeep(Date.now()), { forgotten: 1 }, 'then forgotten')
})

t.test('both durabilities: concurrent writes all resolve once committed, and are there after reopening', async (t) => {
  for (const durability of ['process', 'disk'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'falconet-spool-'))
    const first = new Spool({ dir, maxBytes: 1 << 30, durability, resendMs: { a: 0, b: 0 }, logger: silent, policy: findingPolicy({ windowMs: 60_000 }) })
    // 40 requests in flight at once, 4 findings: the `process` ones share one commit per turn, the `disk` ones an fsync.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => record(first, [testEvent(i, { rule: `r-${i % 4}` })])))
    t.same(results, Array(40).fill(false), `${durability}: none taken for a duplicate`)
    await first.close()
    const second = new Spool({ dir, maxBytes: 1 << 30, durability, resendMs: { a: 0, b: 0 }, logger: silent, policy: findingPolicy({ windowMs: 60_000 }) })
    const states = second.due('a', 10, Date.now(), true).items.map((d) => d.state)
    t.same(states.map((s) => s.count).sort(), [10, 10, 10, 10], `${durability}: every occurrence counted once`)
    await second.close()
  }
})

t.test('both durabilities: a write that throws leaves nothing behind, so its retry is no duplicate and its change is owed', async (t) => {
  for (const durability of ['process', 'disk'] as const) {
    const spool = new Spool({ dir: mkdtempSync(join(tmpdir(), 'falconet-spool-')), maxBytes: 1 << 30, durability, resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: 60_000 }) })
    const chunk = (n: number, sinks: Parameters<Spool['record']>[1]) => {
      const e = testEvent(n, { rule: 'delivered, then repeated' })
      const id = idFor(e, options)
      return spool.record([{ id, apply: (p: any) => fold(p, e, id, options) }], sinks, { dedupeKey: `chunk-${n}` })
    }
    await chunk(1, ['a'])
    const [first] = spool.due('a', 10, Date.now(), true).items
    await spool.acknowledge('a', [{ id: first!.state.id, version: first!.state.version }], Date.now())
    // Fails after its finding was put and its chunk marked seen (the sender gets a 5xx and sends the chunk again).
    await t.rejects(
      chunk(2, () => {
        throw new Error('routing failed')
      }),
    )
    t.equal(await chunk(2, ['a']), false, `${durability}: the resent chunk is taken, not a duplicate of the failed write`)
    const owed = spool.due('a', 10, Date.now(), true).items.map((d) => d.state.count)
    t.same(owed, [2], `${durability}: the repeat is owed to the sink, counted once`)
    await spool.close()
  }
})
