import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { Spool } from '../../src/delivery/spool.js'
import { PLAIN_MAPS } from '../../src/delivery/spool/encoding.js'
import { closeWindow, fold, idFor, type FindingState } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { silent, testEvent } from '../support/runner.js'

/**
 * A finding is stored as two records: what every occurrence changes (count, version, times, audit
 * ids, the event's delta) under its Id, and what seldom changes (severity, first seen, distinct
 * counts, sample pods, archived, names, the base event) under its own key, written only when one
 * of those changes. Whatever changes, the state read back — also after a restart — is the one folded.
 */
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const tmp = () => mkdtempSync(join(tmpdir(), 'falconet-layout-'))
const open = (dir: string) => new Spool({ dir, maxBytes: 1 << 30, durability: 'process', resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
const stateOf = (spool: Spool) => spool.due('a', 10, Date.now(), true).items[0]!.state

/** Occurrences of one finding, each changing something else: time, pod, severity, an older time, an audit id. */
function occurrences(): SecurityEvent[] {
  const at = (s: number) => `2026-07-30T09:00:${String(s).padStart(2, '0')}.000000000Z`
  const audit = (n: number, id: string): SecurityEvent => ({ ...testEvent(n, { rule: 'r', time: at(n) }), fields: { 'ka.auditid': id } })
  return [
    testEvent(1, { rule: 'r', time: at(10) }),
    testEvent(2, { rule: 'r', time: at(10) }), // an identical repeat but its output
    testEvent(3, { rule: 'r', time: at(11) }),
    testEvent(4, { rule: 'r', time: at(12), pod: 'web-2' }), // a new pod: names, distinct count, sample pods
    testEvent(5, { rule: 'r', time: at(13), priority: 'Critical' }), // more urgent: severity
    testEvent(6, { rule: 'r', time: at(14), priority: 'Notice' }), // severity stays the most urgent
    testEvent(7, { rule: 'r', time: at(5) }), // older than the first: first seen moves back, the event stays
    audit(15, 'audit-1'),
    audit(16, 'audit-2'),
    testEvent(17, { rule: 'r', time: at(17) }), // audit ids carried on
  ]
}

t.test('every member reads back as folded after each occurrence, in the same spool and after restarts', async (t) => {
  const dir = tmp()
  const events = occurrences()
  const id = idFor(events[0]!, options)
  let expected: FindingState | undefined
  let spool = open(dir)
  const changes: Array<(p: FindingState | undefined) => FindingState> = events.map((e) => (p) => fold(p, e, id, options, Date.parse(e.time)))
  changes.push((p) => closeWindow(p!, Date.parse('2026-07-30T10:30:00Z'))) // archived
  changes.push((p) => fold(p, events[2]!, id, options, Date.parse('2026-07-30T11:30:00Z'))) // a new window: count starts over
  for (const [n, apply] of changes.entries()) {
    expected = apply(expected)
    await spool.record([{ id, apply }], ['a'])
    t.strictSame(stateOf(spool), expected, `occurrence ${n + 1}`)
    if (n % 3 === 2) {
      await spool.close()
      spool = open(dir)
      t.strictSame(stateOf(spool), expected, `occurrence ${n + 1}, after a restart`)
    }
  }
  t.equal(stateOf(spool).count, 1, 'the new window counted from one')
  t.equal(stateOf(spool).version, changes.length)
  await spool.close()
})

t.test('a repeat that changes only count and times writes the Id key only; a cold change writes the other', async (t) => {
  const dir = tmp()
  const events = occurrences()
  const id = idFor(events[0]!, options)
  const spool = open(dir)
  t.teardown(() => spool.close())
  const root = openLmdb({ path: dir, compression: false, readOnly: true })
  t.teardown(() => root.close())
  const names = root.openDB({ name: 'finding-names' })
  const coldBytes = () => (root.resetReadTxn(), names.getBinary(id)) // a fresh snapshot: the spool wrote since
  const record = (e: SecurityEvent) => spool.record([{ id, apply: (p) => fold(p, e, id, options, Date.parse(e.time)) }], ['a'])
  await record(events[0]!)
  const first = coldBytes()
  await record(events[2]!)
  t.strictSame(coldBytes(), first, 'a later time: the cold record unchanged')
  await record(events[4]!)
  t.not(Buffer.compare(coldBytes()!, first!), 0, 'severity raised: the cold record written')
  t.equal(stateOf(spool).severity, 'CRITICAL')
})

t.test('a spool of the previous layout (the whole state under its Id) is read, carried on and moved to the new one by its next write', async (t) => {
  const dir = tmp()
  const events = occurrences()
  const id = idFor(events[0]!, options)
  const older = fold(fold(undefined, events[0]!, id, options, 1), events[3]!, id, options, 2)
  const { pods, containers, event, ...rest } = older
  const root = openLmdb({ path: dir, compression: false })
  await root.openDB({ name: 'findings', ...PLAIN_MAPS }).put(id, { ...rest, eventDelta: {} })
  await root.openDB({ name: 'finding-names', ...PLAIN_MAPS }).put(id, { pods, containers, base: event })
  const queued = ['a', 0, 1] as const
  await root.openDB({ name: 'pending' }).put(queued as unknown as string, { id, notBefore: 0, queuedAt: Date.now() })
  await root.openDB({ name: 'delivery' }).put([id, 'a'] as unknown as string, { queued })
  await root.close()

  let spool = open(dir)
  t.strictSame(stateOf(spool), older, 'read as it was written')
  const expected = fold(older, events[5]!, id, options, 3)
  await spool.record([{ id, apply: (p) => fold(p, events[5]!, id, options, 3) }], ['a'])
  await spool.close()
  spool = open(dir)
  t.teardown(() => spool.close())
  t.strictSame(stateOf(spool), expected, 'its repeat reads back after a restart')
  const check = openLmdb({ path: dir, compression: false, readOnly: true })
  t.teardown(() => check.close())
  t.notOk('id' in (check.openDB({ name: 'findings', ...PLAIN_MAPS }).get(id) as object), 'the Id key holds only what occurrences change now')
  t.equal((check.openDB({ name: 'finding-names', ...PLAIN_MAPS }).get(id) as { severity?: string }).severity, expected.severity)
})

t.test('with disk durability a read outside a write never sees a cold record its commit has not finished (state of one version)', async (t) => {
  const dir = tmp()
  const spool = new Spool({ dir, maxBytes: 1 << 30, durability: 'disk', resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
  t.teardown(() => spool.close())
  const id = 'f-disk'
  // Every occurrence in a new pod: a state of one version has as many distinct pods as occurrences.
  const occurrence = (n: number) => testEvent(n, { rule: 'r', pod: `web-${n}`, time: `2026-07-30T09:00:${String(n % 60).padStart(2, '0')}.000000000Z` })
  const mixed: string[] = []
  for (let n = 0; n < 40; n++) {
    let settled = false
    const written = spool.record([{ id, apply: (p) => fold(p, occurrence(n), id, options, 1_000 + n) }], ['a']).finally(() => (settled = true))
    // Read as the sink runner does, while the write is under way (its callback run, its commit not yet).
    while (!settled) {
      const state = spool.due('a', 10, Date.now(), true).items[0]?.state
      if (state && state.distinctPods !== state.count) mixed.push(`count ${state.count}, distinct pods ${state.distinctPods}`)
      await new Promise(setImmediate)
    }
    await written
  }
  t.strictSame(mixed.slice(0, 5), [], 'each state read is one committed version')
})
