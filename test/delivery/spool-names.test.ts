import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { Spool } from '../../src/delivery/spool.js'
import { fold, idFor, TRACKED_NAMES, type FindingState } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { silent, testEvent } from '../support/runner.js'

/**
 * A finding's pod and container names live under a key of their own, written only when they
 * change, and the states last used are kept decoded: what a repeat costs no longer grows with the
 * names. What must not change: the counts, across restarts, older spools and failed writes.
 */
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const tmp = () => mkdtempSync(join(tmpdir(), 'falconet-spool-'))
const open = (dir: string) => new Spool({ dir, maxBytes: 1 << 30, durability: 'process', resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
const inPod = (n: number, pod: string) => testEvent(n, { rule: 'shell in pod', pod })
const record = (spool: Spool, events: ReturnType<typeof testEvent>[], sinks: Parameters<Spool['record']>[1] = ['a']) =>
  spool.record(
    events.map((e) => {
      const id = idFor(e, options)
      return { id, apply: (p: FindingState | undefined) => fold(p, e, id, options) }
    }),
    sinks,
  )
const stateOf = (spool: Spool) => spool.due('a', 10, Date.now(), true).items[0]!.state

t.test('distinct pods count once each, up to the tracked bound, and survive a restart', async (t) => {
  const dir = tmp()
  const first = open(dir)
  for (let i = 0; i < TRACKED_NAMES + 20; i++) await record(first, [inPod(i, `web-${i}`)])
  for (let i = 0; i < 30; i++) await record(first, [inPod(i, `web-${i}`)]) // repeats: no new name
  let state = stateOf(first)
  t.equal(state.count, TRACKED_NAMES + 50)
  t.equal(state.distinctPods, TRACKED_NAMES, 'bounded: a lower bound beyond it')
  t.equal(state.pods.length, TRACKED_NAMES)
  await first.close()

  const second = open(dir)
  t.teardown(() => second.close())
  state = stateOf(second)
  t.equal(state.pods.length, TRACKED_NAMES, 'the names are read back with the finding')
  t.equal(state.count, TRACKED_NAMES + 50)
  await record(second, [inPod(999, 'web-3')])
  t.equal(stateOf(second).distinctPods, TRACKED_NAMES, 'a pod seen before the restart is not counted again')
})

t.test('names written once are read back after a restart, and a new pod after it counts', async (t) => {
  const dir = tmp()
  const first = open(dir)
  await record(first, [inPod(1, 'api-1')])
  await record(first, [inPod(2, 'api-2')])
  await record(first, [inPod(3, 'api-1')])
  await first.close()
  const second = open(dir)
  t.teardown(() => second.close())
  await record(second, [inPod(4, 'api-2')])
  await record(second, [inPod(5, 'api-3')])
  const state = stateOf(second)
  t.same(state.pods, ['shop/api-1', 'shop/api-2', 'shop/api-3'])
  t.equal(state.distinctPods, 3)
  t.equal(state.count, 5)
})

t.test('a spool written before the names had their own key is read and carried on', async (t) => {
  const dir = tmp()
  const e = inPod(1, 'old-1')
  const id = idFor(e, options)
  const old = fold(fold(undefined, e, id, options), inPod(2, 'old-2'), id, options)
  // The previous layout: the whole state, names inline, under the finding's Id.
  const root = openLmdb({ path: dir, compression: false })
  await root.openDB({ name: 'findings' }).put(id, old)
  await root.close()

  const first = open(dir)
  t.equal(first.findingCount(), 1)
  await record(first, [inPod(3, 'old-1')])
  await first.close()
  const second = open(dir)
  t.teardown(() => second.close())
  await record(second, [inPod(4, 'old-2'), inPod(5, 'old-3')])
  const state = stateOf(second)
  t.same(state.pods, ['shop/old-1', 'shop/old-2', 'shop/old-3'], 'the inline names moved to their own key on the first change')
  t.equal(state.distinctPods, 3)
  t.equal(state.count, 5)
})

t.test('writes asked for in one turn commit together; one that fails takes nothing of the others, nor leaves its state behind', async (t) => {
  const spool = open(tmp())
  t.teardown(() => spool.close())
  await record(spool, [inPod(1, 'p-1')])
  const results = await Promise.allSettled([
    record(spool, [inPod(2, 'p-2')]),
    // Fails after its finding was put: the transaction it shared is rolled back and retried without it.
    record(spool, [inPod(3, 'p-3')], () => {
      throw new Error('routing failed')
    }),
    record(spool, [testEvent(4, { rule: 'another' })]),
  ])
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  const shell = spool
    .due('a', 10, Date.now(), true)
    .items.map((d) => d.state)
    .find((s) => s.event.rule === 'shell in pod')!
  t.equal(shell.count, 2, 'the failed occurrence is not counted')
  t.same(shell.pods, ['shop/p-1', 'shop/p-2'], 'nor its pod, even in the states kept decoded')
  t.equal(spool.findingCount(), 2)
  await record(spool, [inPod(5, 'p-1')])
  const next = spool
    .due('a', 10, Date.now(), true)
    .items.map((d) => d.state)
    .find((s) => s.event.rule === 'shell in pod')!
  t.equal(next.count, 3, 'the next occurrence folds into the committed state, not the one rolled back')
  t.equal(next.version, 3)
})

t.test('a finding queued by a write whose batch failed is queued again when the write is retried', async (t) => {
  const spool = open(tmp())
  t.teardown(() => spool.close())
  const results = await Promise.allSettled([
    record(spool, [testEvent(1, { rule: 'queued then rolled back' })]),
    record(spool, [testEvent(2, { rule: 'fails' })], () => {
      throw new Error('routing failed')
    }),
  ])
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  )
  const due = spool.due('a', 10, Date.now(), true).items.map((d) => d.state.event.rule)
  t.same(due, ['queued then rolled back'], 'owed to its sink: the queued pair remembered in the failed batch was not trusted')
  await record(spool, [testEvent(3, { rule: 'queued then rolled back' })])
  t.equal(spool.pendingCount('a'), 1, 'a repeat keeps its one place in the queue')
  const [item] = spool.due('a', 10, Date.now(), true).items
  await spool.acknowledge('a', [{ id: item!.state.id, version: item!.state.version }], Date.now())
  t.equal(spool.pendingCount('a'), 0)
  await record(spool, [testEvent(4, { rule: 'queued then rolled back' })])
  t.equal(spool.pendingCount('a'), 1, 'a repeat after the delivery is owed again')
})

t.test('findings repeated within one turn are written once, as their last state, with one change-index key each', async (t) => {
  const dir = tmp()
  const first = open(dir)
  await record(first, [inPod(0, 'w-0')])
  // One turn: the known finding repeated with a changing event and a new pod, a new finding created and repeated.
  await Promise.all([...Array.from({ length: 10 }, (_, i) => record(first, [testEvent(i + 1, { rule: 'shell in pod', pod: i === 9 ? 'w-9' : 'w-0' })])), ...Array.from({ length: 5 }, (_, i) => record(first, [testEvent(20 + i, { rule: 'born in this turn' })]))])
  await first.close()
  const raw = openLmdb({ path: dir, compression: false })
  t.equal(raw.openDB({ name: 'findings-by-change' }).getCount(), 2, 'one index key per finding')
  await raw.close()
  const second = open(dir)
  t.teardown(() => second.close())
  const states = second.due('a', 10, Date.now(), true).items.map((d) => d.state)
  const shell = states.find((s) => s.event.rule === 'shell in pod')!
  const born = states.find((s) => s.event.rule === 'born in this turn')!
  t.equal(shell.count, 11)
  t.equal(shell.event.output, 'event 10', 'the last event of the turn')
  t.same(shell.pods, ['shop/w-0', 'shop/w-9'])
  t.equal(born.count, 5)
  t.equal(born.event.output, 'event 24')
  await second.acknowledge(
    'a',
    states.map((s) => ({ id: s.id, version: s.version })),
    Date.now(),
  )
  await second.housekeep(Date.now() + 2 * 3_600_000)
  t.equal(second.findingCount(), 0, 'both reached through the index once their window closed')
})

t.test('a removed finding takes its names with it', async (t) => {
  const spool = open(tmp())
  t.teardown(() => spool.close())
  await record(spool, [inPod(1, 'gone-1'), inPod(2, 'gone-2')])
  const [due] = spool.due('a', 10, Date.now(), true).items
  await spool.acknowledge('a', [{ id: due!.state.id, version: due!.state.version }], Date.now())
  await spool.housekeep(Date.now() + 2 * 3_600_000)
  t.equal(spool.findingCount(), 0)
  await record(spool, [inPod(3, 'gone-1')])
  const state = stateOf(spool)
  t.same(state.pods, ['shop/gone-1'], 'a new count starts with no names of the old one')
  t.equal(state.count, 1)
})

t.test('a spool whose values were written as msgpackr records (lmdb-js default encoder) opens, delivers and counts on', async (t) => {
  const dir = tmp()
  const e = inPod(1, 'rec-1')
  const id = idFor(e, options)
  const state = fold(fold(undefined, e, id, options), inPod(2, 'rec-2'), id, options)
  const { pods, containers, ...rest } = state
  // The layout before plain maps: every store with lmdb-js's default encoder (inline record definitions).
  const root = openLmdb({ path: dir, compression: false })
  const queued = ['a', 0, 1] as const
  await root.openDB({ name: 'findings' }).put(id, rest)
  await root.openDB({ name: 'finding-names' }).put(id, { pods, containers })
  await root.openDB({ name: 'pending' }).put(queued as unknown as string, { id, notBefore: 0, queuedAt: Date.now() })
  await root.openDB({ name: 'delivery' }).put([id, 'a'] as unknown as string, { queued })
  await root.close()

  const first = open(dir)
  const [due] = first.due('a', 10, Date.now(), true).items
  t.equal(due?.state.count, 2, 'the queued finding is due with its count')
  t.same(due?.state.pods, ['shop/rec-1', 'shop/rec-2'])
  t.same(await first.acknowledge('a', [{ id, version: state.version }], Date.now()), [2], 'its delivery record is read: the delivery covered both occurrences')
  await record(first, [inPod(3, 'rec-3')])
  await first.close()
  const second = open(dir)
  t.teardown(() => second.close())
  const after = stateOf(second)
  t.equal(after.count, 3, 'the repeat after the conversion counts on')
  t.same(after.pods, ['shop/rec-1', 'shop/rec-2', 'shop/rec-3'])
  t.same(await second.acknowledge('a', [{ id, version: after.version }], Date.now()), [1], 'only the new occurrence is new to the sink')
})

t.test('one finding repeated by many requests of one turn counts each once, in one commit, and reads back after a restart', async (t) => {
  const dir = tmp()
  const first = open(dir)
  await record(first, [inPod(0, 'burst-0')])
  // 40 requests in one event-loop turn: one transaction, each fold starting from the one before it.
  const duplicates = await Promise.all(Array.from({ length: 40 }, (_, i) => record(first, [inPod(i + 1, `burst-${i % 3}`)])))
  t.same(duplicates, Array(40).fill(false))
  let state = stateOf(first)
  t.equal(state.count, 41)
  t.equal(state.version, 41, 'each request made a version of its own')
  t.same(state.pods, ['shop/burst-0', 'shop/burst-1', 'shop/burst-2'])
  await first.close()
  const second = open(dir)
  t.teardown(() => second.close())
  state = stateOf(second)
  t.equal(state.count, 41, 'committed, not only remembered')
  t.same(state.pods, ['shop/burst-0', 'shop/burst-1', 'shop/burst-2'])
  t.equal(state.distinctPods, 3)
})
