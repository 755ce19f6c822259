import t from 'tap'
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Spool } from '../../src/delivery/spool.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { Redriver, SHED } from '../../src/delivery/redrive.js'
import { fold, idFor, toFinding, type FindingState } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { silent, testEvent } from '../support/runner.js'

/**
 * Redrive over a real spool and real dead-letter files: letters go back to their sink's queue in
 * one committed spool write and only then leave their file; what cannot be queued stays.
 */
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }

function rig(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-redrive-'))
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: { a: 0, b: 0 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
  t.teardown(() => spool.close())
  const deadLetters = new DeadLetterFile(dir, silent)
  const redriver = new Redriver({
    deadLetters,
    record: (items, to, o) => spool.record(items, to, o),
    findingSinks: new Set(['a', 'b']),
    sinksFor: () => ['a', 'b'],
    outboxes: { bridge: 'audit' },
  })
  /** Fold an event into the spool for sink a, deliver it as dead-lettered (discard), write the letter. */
  const refuse = async (n: number, sink = 'a'): Promise<FindingState> => {
    const e = testEvent(n, { rule: `rule ${n}` })
    const id = idFor(e, options)
    await spool.record([{ id, apply: (p) => fold(p, e, id, options) }], [sink])
    const [due] = spool.due(sink, 1, Date.now()).items
    await spool.discard(sink, [{ id, version: due!.state.version }])
    await deadLetters.write(sink, [{ findingId: id, code: 'Rejected', reason: '400 Bad Request', payload: { asff: true }, item: toFinding(due!.state) }])
    return due!.state
  }
  return { dir, spool, deadLetters, redriver, refuse }
}

t.test('a redriven letter is queued again for its sink, then leaves its file', async (t) => {
  const { spool, deadLetters, redriver, refuse } = rig(t)
  const f = await refuse(1)
  await refuse(2)
  t.equal(spool.pendingCount('a'), 0)
  t.same(Object.keys(await deadLetters.counts()), ['a'])

  const result = await redriver.redrive({ sink: 'a', findingId: f.id })
  t.same(result, { requeued: 1, skipped: [] })
  t.equal(spool.pendingCount('a'), 1, 'queued for a')
  t.equal(spool.pendingCount('b'), 0, 'not for b')
  t.equal(spool.due('a', 10, Date.now()).items[0]!.state.id, f.id)
  t.same((await deadLetters.list()).map((l) => l.findingId).length, 1, 'only the other letter is left')
  t.same(await redriver.redrive({ sink: 'a', findingId: f.id }), { requeued: 0, skipped: [] }, 'a second redrive finds nothing')
})

t.test('several letters of one finding queue it once; a finding the spool forgot is restored from the letter', async (t) => {
  const { dir, spool, deadLetters, redriver } = rig(t)
  const e = testEvent(7, { rule: 'forgotten' })
  const id = idFor(e, options)
  const state = fold(undefined, e, id, options)
  // Never in this spool (expired and forgotten since): the letter carries the finding.
  await deadLetters.write('a', [{ findingId: id, code: 'Rejected', reason: 'first', payload: {}, item: toFinding(state) }])
  await deadLetters.write('a', [{ findingId: id, code: 'Rejected', reason: 'second', payload: {}, item: toFinding(state) }])
  t.same(await redriver.redrive(), { requeued: 2, skipped: [] })
  t.equal(spool.pendingCount('a'), 1, 'one queue entry for the two letters')
  t.equal(spool.due('a', 10, Date.now()).items[0]!.state.event.rule, 'forgotten')
  t.equal(readFileSync(join(dir, 'dead-letter', 'a.jsonl'), 'utf8'), '')
})

t.test('shed findings go back to every sink; unknown sinks and letters without a finding stay', async (t) => {
  const { dir, spool, deadLetters, redriver } = rig(t)
  const shed = fold(undefined, testEvent(3, { rule: 'shed' }), 'falconet/syscall/shed', options)
  await deadLetters.write(SHED, [{ findingId: shed.id, code: 'Shed', reason: 'spool near its disk budget', payload: toFinding(shed) }])
  await deadLetters.write('gone', [{ findingId: 'x', code: 'Rejected', reason: 'sink since removed', payload: {} }])
  await deadLetters.write('b', [{ findingId: 'falconet/syscall/unknown', code: 'Rejected', reason: 'an ASFF payload only', payload: { SchemaVersion: '2018-10-08' } }])
  appendFileSync(join(dir, 'dead-letter', 'b.jsonl'), 'not json\n')

  const result = await redriver.redrive()
  t.equal(result.requeued, 1)
  t.same(result.skipped.map((s) => s.sink).sort(), ['b', 'gone'])
  t.match(result.skipped.find((s) => s.sink === 'gone')!.reason, /not enabled/)
  t.match(result.skipped.find((s) => s.sink === 'b')!.reason, /no longer holds/)
  t.equal(spool.pendingCount('a'), 1)
  t.equal(spool.pendingCount('b'), 1)
  t.same(await deadLetters.counts(), { b: 2, gone: 1, spool: 0 }, 'the unreadable line is kept too')
})

t.test('outbox letters (the Falco bridge) go back to their outbox', async (t) => {
  const { spool, deadLetters, redriver } = rig(t)
  const event = { kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'a-1' }
  await deadLetters.write('bridge', [{ findingId: 'a-1', code: 'Rejected', reason: '400', payload: { items: [event] }, item: event }])
  t.same(await redriver.redrive({ sink: 'bridge' }), { requeued: 1, skipped: [] })
  const queue = spool.outboxQueue('audit')
  t.same(
    queue.due(10, Date.now(), false).items.map((i) => i.value),
    [event],
  )
})

t.test('a letter written while a redrive runs is kept', async (t) => {
  const { deadLetters, redriver, refuse } = rig(t)
  await refuse(1)
  const running = redriver.redrive({ sink: 'a' })
  const late = deadLetters.write('a', [{ findingId: 'late', code: 'Rejected', reason: 'meanwhile', payload: {} }])
  await Promise.all([running, late])
  t.same(
    (await deadLetters.list({ sink: 'a' })).map((l) => l.findingId),
    ['late'],
  )
})
