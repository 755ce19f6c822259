import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { PRESSURE_AT, SEEN_SHARE, Spool, SpoolFullError } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { fold, idFor } from '../../src/aggregate/aggregator.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { FOLDED_FIELD } from '../../src/pipeline/burst.js'
import { STORED_LIMITS } from '../../src/aggregate/trim.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { silent, testEvent } from '../support/runner.js'

/**
 * Issue 15.4, the attacks scaled down, asserting the property rather than the time: housekeeping
 * does bounded work per tick whatever the store holds; remembered chunk hashes expire by the
 * bucket; a hostile 1 MB rule name is stored cut; a burst of distinct findings of one rule is
 * folded; delivered findings give way near the budget; a full spool recovers once sinks drain.
 */
const WINDOW_MS = 3_600_000
const aggregate = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: WINDOW_MS }
const open = (maxBytes = 1 << 30, seenWindowMs = 600_000) =>
  new Spool({
    dir: mkdtempSync(join(tmpdir(), 'falconet-hk-')),
    maxBytes,
    durability: 'process',
    resendMs: { a: 0 },
    logger: silent,
    policy: findingPolicy({ windowMs: WINDOW_MS }),
    seenWindowMs: { chunk: seenWindowMs, event: seenWindowMs },
  })
/** Findings folded as if received at `at` (falconet's clock), queued for sink a. */
const recordAt = (spool: Spool, events: ReturnType<typeof testEvent>[], at: number) =>
  spool.record(
    events.map((e) => {
      const id = idFor(e, aggregate)
      return { id, apply: (p) => fold(p, e, id, aggregate, at) }
    }),
    ['a'],
  )
const drain = async (spool: Spool) => {
  for (let due = spool.due('a', 5_000, Date.now(), true).items; due.length > 0; due = spool.due('a', 5_000, Date.now(), true).items) {
    await spool.acknowledge(
      'a',
      due.map((d) => ({ id: d.state.id, version: d.state.version })),
      Date.now(),
    )
  }
}

t.test('100,000 remembered keys: each housekeeping step drops whole buckets, never walks the keys', async (t) => {
  const spool = open(1 << 30, 600_000)
  t.teardown(() => spool.close())
  const keys = Array.from({ length: 100_000 }, (_, i) => `chunk-${i}`)
  for (let i = 0; i < keys.length; i += 5_000) await spool.record([], [], { markSeen: keys.slice(i, i + 5_000) })
  t.equal(spool.seenKeyCount(), 100_000)
  t.same(spool.unseen(['chunk-1', 'chunk-99999', 'never']), ['never'], 'resends are recognised within the window')

  const now = Date.now()
  const within = await spool.housekeep(now, { seenBuckets: 4 })
  t.equal(within.seenBucketsDropped, 0, 'nothing expires within the window')
  t.equal(within.visited, 0, 'no finding to look at')
  // Past the window: the keys go by the bucket (all of them in one or two here), within the step's budget.
  const past = await spool.housekeep(now + 600_000 + 120_000, { seenBuckets: 4 })
  t.ok(past.seenBucketsDropped >= 1 && past.seenBucketsDropped <= 4, `${past.seenBucketsDropped} buckets dropped for 100,000 keys`)
  t.equal(spool.seenKeyCount(), 0, 'every key gone')
  t.same(spool.unseen(['chunk-1']), ['chunk-1'])
})

t.test('closing windows walks at most the step budget of findings, oldest first, and gets through a backlog', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  const longAgo = Date.now() - 2 * WINDOW_MS
  const events = Array.from({ length: 5_000 }, (_, i) => testEvent(i, { rule: `r-${i}` }))
  for (let i = 0; i < events.length; i += 1_000) await recordAt(spool, events.slice(i, i + 1_000), longAgo)
  // The newest ones are still owed to sink a: they must be skipped without stalling the walk.
  await spool.acknowledge(
    'a',
    spool.due('a', 4_000, Date.now(), true).items.map((d) => ({ id: d.state.id, version: d.state.version })),
    Date.now(),
  )
  await recordAt(
    spool,
    Array.from({ length: 500 }, (_, i) => testEvent(i, { rule: `fresh-${i}` })),
    Date.now(),
  )
  const steps = []
  for (let i = 0; i < 10 && spool.findingCount() > 1_500; i++) steps.push(await spool.housekeep(Date.now(), { findings: 1_000 }))
  t.ok(
    steps.every((s) => s.visited <= 1_000),
    `visited per step: ${steps.map((s) => s.visited).join(', ')}`,
  )
  t.equal(spool.findingCount(), 1_500, 'the 4,000 delivered and idle forgotten; the 1,000 still owed and the 500 fresh kept')
  t.ok(steps.length <= 6, `${steps.length} steps for a backlog of 5,000`)
})

t.test('a 1 MB rule name is stored cut to what any sink can carry', async (t) => {
  const spool = open(32 * 1024 * 1024)
  t.teardown(() => spool.close())
  const ingest = createPipeline(aggregate, spool, ['a'])
  const huge = 'x'.repeat(1024 * 1024)
  for (let i = 0; i < 34; i++) await ingest([{ ...testEvent(i, { rule: `${i}-${huge}` }), output: huge, fields: { 'proc.cmdline': huge } }])
  const stored = spool.due('a', 100, Date.now(), true).items.map((d) => d.state)
  t.equal(stored.length, 34, '34 distinct findings (the Id is of the whole rule name)')
  t.ok(
    stored.every((s) => s.event.rule.length <= STORED_LIMITS.chars && s.event.output.length <= STORED_LIMITS.chars),
    'rule and output cut',
  )
  t.ok(
    stored.every((s) => String(s.event.fields['proc.cmdline']).length <= STORED_LIMITS.chars),
    'fields cut',
  )
  t.ok(spool.owedBytes(true) < 4 * 1024 * 1024, `${spool.owedBytes(true)} bytes for 34 MB of alerts (was: a 32 MiB budget full)`)
})

t.test('one request of 20,000 events by distinct principals: a bounded number of findings, every occurrence counted', async (t) => {
  const spool = open()
  t.teardown(() => spool.close())
  const ingest = createPipeline(aggregate, spool, ['a'])
  const events = Array.from({ length: 20_000 }, (_, i) => ({ ...testEvent(i, { rule: 'exec into pod' }), keyFields: ['ka.user.name'], fields: { 'ka.user.name': `user-${i}` } }))
  await ingest(events)
  const stored = spool.due('a', 5_000, Date.now(), true).items.map((d) => d.state)
  t.ok(stored.length <= 1_001, `${stored.length} findings`)
  t.equal(
    stored.reduce((n, s) => n + s.count, 0),
    20_000,
    'counts add up',
  )
  const folded = stored.filter((s) => s.event.fields[FOLDED_FIELD] !== undefined)
  t.equal(folded.length, 1, 'the overflow is one finding, marked')
  t.equal(folded[0]!.count, 20_000 - (stored.length - 1))
})

t.test('delivered findings give way under budget pressure: ingest is never refused while the sink keeps up', async (t) => {
  const budget = 4 * 1024 * 1024
  const spool = open(budget)
  t.teardown(() => spool.close())
  let pressed = 0
  spool.onPressure(() => pressed++)
  let refused = 0
  for (let i = 0; i < 3_000; i++) {
    // Distinct findings, each delivered at once; repeats of none: only budget pressure frees room.
    await recordAt(spool, [{ ...testEvent(i, { rule: `r-${i}` }), output: 'x'.repeat(3_000) }], Date.now()).catch((err) => {
      if (!(err instanceof SpoolFullError)) throw err
      refused++
    })
    await drain(spool)
    if (pressed > 0) {
      pressed = 0
      await spool.housekeep(Date.now())
    }
  }
  t.equal(refused, 0, 'never refused')
  const step = await spool.housekeep(Date.now())
  t.ok(spool.owedBytes(true) < budget * (1 - SEEN_SHARE), 'under the budget')
  t.ok(spool.findingCount() < 3_000, `${spool.findingCount()} findings kept of 3,000 (${step.gaveWay} gave way in the last step)`)
})

t.test('a full spool recovers by itself once its sink drains', async (t) => {
  const budget = 4 * 1024 * 1024
  const spool = open(budget)
  t.teardown(() => spool.close())
  let accepted = 0
  let full: unknown
  for (let i = 0; i < 10_000 && !full; i++) {
    await recordAt(spool, [{ ...testEvent(i, { rule: `r-${i}` }), output: 'x'.repeat(3_000) }], Date.now()).then(
      () => accepted++,
      (err) => (full = err),
    )
  }
  t.type(full, SpoolFullError, `full after ${accepted} owed findings (the sink is down)`)
  await drain(spool) // the sink is back and catches up; the windows are still open
  for (let i = 0; i < 10 && spool.owedBytes(true) >= budget * (1 - SEEN_SHARE) * PRESSURE_AT; i++) await spool.housekeep(Date.now())
  t.ok(spool.owedBytes(true) < budget * (1 - SEEN_SHARE) * PRESSURE_AT, `usage ${spool.owedBytes(true)} back under the pressure mark`)
  await t.resolves(recordAt(spool, [testEvent(0, { rule: 'after' })], Date.now()), 'ingest accepted again')
})

t.test('a spool from the previous layout: keys still inside their window are adopted, the old store dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-hk-old-'))
  const root = openLmdb({ path: dir, compression: false })
  const chunks = root.openDB<number, string>({ name: 'chunks' })
  await root.transaction(() => {
    chunks.put('recent-chunk', Date.now() - 1_000)
    chunks.put('audit:recent', Date.now() - 1_000)
    chunks.put('stale-chunk', Date.now() - 10 * 3_600_000)
  })
  await root.close()
  const reopen = () => new Spool({ dir, maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: silent, policy: findingPolicy({ windowMs: WINDOW_MS }) })
  let spool = reopen()
  t.same(spool.unseen(['recent-chunk', 'stale-chunk'], 'chunk'), ['stale-chunk'], 'a resend of a recent chunk is still recognised')
  t.same(spool.unseen(['audit:recent']), [], 'so is a recent audit ID')
  await spool.close()
  spool = reopen()
  t.teardown(() => spool.close())
  t.equal(spool.seenKeyCount(), 2, 'adopted once')
})

t.test('the change index keeps a finding under the second it changed in: repeats within it write no index key; an older exact-millisecond key still leads to the close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-hk-index-'))
  const reopen = () => new Spool({ dir, maxBytes: 1 << 30, durability: 'process', resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: WINDOW_MS }) })
  const at = 1_785_402_843_123
  const event = testEvent(1)
  const id = idFor(event, aggregate)
  const indexKeys = async (replace?: [number, string]) => {
    const root = openLmdb({ path: dir, compression: false })
    const index = root.openDB<null, [number, string]>({ name: 'findings-by-change' })
    const keys = [...index.getKeys()]
    if (replace)
      await root.transaction(() => {
        for (const k of keys) index.remove(k)
        index.put(replace, null)
      })
    await root.close()
    return keys
  }

  let spool = reopen()
  await recordAt(spool, [event], at)
  await recordAt(spool, [event], at + 500)
  await drain(spool)
  await spool.close()
  t.same(await indexKeys([at + 500, id]), [[at - 123, id]], 'one key, at the start of its second, for both occurrences')

  // As an older version left it: the exact millisecond of the last change.
  spool = reopen()
  t.teardown(() => spool.close())
  t.equal((await spool.housekeep(at + 500 + WINDOW_MS)).visited, 0, 'not reached before its window closes')
  const steps = [await spool.housekeep(at + 501 + WINDOW_MS), await spool.housekeep(at + 501 + WINDOW_MS)]
  t.equal(steps[0]!.forgotten + steps[1]!.forgotten, 1, 'forgotten once its window closed (the old key re-indexed on the way)')
  t.equal(spool.findingCount(), 0)
  await spool.close()
  t.same(await indexKeys(), [], 'no key left behind')
})
