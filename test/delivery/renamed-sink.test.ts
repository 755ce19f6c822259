import t from 'tap'
import { mkdtempSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Spool } from '../../src/delivery/spool.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { fold, idFor } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { silent, testEvent } from '../support/runner.js'

// The Security Hub sink's id was `securityhub` until it became its config key `securityHub`
// (src/delivery/renamed-sinks.ts). What the previous version wrote under the old id must still
// be delivered, once, after the upgrade.
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const open = (dir: string) => new Spool({ dir, maxBytes: 64 * 1024 * 1024, durability: 'process', resendMs: { securityHub: 60_000 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })

async function record(spool: Spool, n: number, sinks: string[]) {
  for (let i = 0; i < n; i++) {
    const e = testEvent(i, { rule: `rule-${i}` })
    const id = idFor(e, options)
    await spool.record([{ id, apply: (p) => fold(p, e, id, options) }], sinks)
  }
}

t.test('a spool queued under the old id: everything pending is owed under the new id, once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-rename-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The previous version: its sink id was `securityhub`. Five findings, two of them delivered.
  const old = open(dir)
  await record(old, 5, ['securityhub', 'cloudwatchLogs'])
  const before = old.due('securityhub', 100, Date.now()).items
  t.equal(before.length, 5)
  await old.acknowledge(
    'securityhub',
    before.slice(0, 2).map((d) => ({ id: d.state.id, version: d.state.version })),
    Date.now(),
  )
  await old.close()

  const spool = open(dir)
  t.equal(spool.pendingCount('securityhub'), 0, 'nothing left under the old id')
  t.equal(spool.pendingCount('securityHub'), 3, 'the three undelivered findings are owed under the new id')
  t.equal(spool.pendingCount('cloudwatchLogs'), 5, 'other sinks untouched')
  const due = spool.due('securityHub', 100, Date.now()).items
  t.same(
    due.map((d) => d.state.id).sort(),
    before
      .slice(2)
      .map((d) => d.state.id)
      .sort(),
    'exactly the ones not delivered',
  )
  await spool.acknowledge(
    'securityHub',
    due.map((d) => ({ id: d.state.id, version: d.state.version })),
    Date.now(),
  )
  t.equal(spool.pendingCount('securityHub'), 0)
  // The delivery records moved too: the delivered versions are not owed again when asked.
  const first = before[0]!.state
  await spool.record([{ id: first.id, apply: () => first }], ['securityHub'])
  t.equal(spool.pendingCount('securityHub'), 0, 'a version delivered under the old id is not queued again under the new one')
  await spool.close()

  const again = open(dir)
  t.teardown(() => again.close())
  t.equal(again.pendingCount('securityHub') + again.pendingCount('securityhub'), 0, 'reopened: nothing delivered twice')
})

t.test('the dead-letter file of the old id is listed, filtered and redriven under the new id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-rename-dl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const letter = (findingId: string) => ({ findingId, code: 'InvalidInput', reason: 'too big', payload: {}, item: { id: findingId } })
  await new DeadLetterFile(dir, silent).write('securityhub', [letter('falconet/syscall/a'), letter('falconet/syscall/b')])
  t.ok(existsSync(join(dir, 'dead-letter', 'securityhub.jsonl')), 'written under the old name, as the previous version did')

  const letters = new DeadLetterFile(dir, silent)
  t.same(await letters.sinks(), ['securityHub'])
  t.same(readdirSync(join(dir, 'dead-letter')), ['securityHub.jsonl'], 'the file was renamed, not copied')
  t.match(await letters.list(), [
    { sink: 'securityHub', findingId: 'falconet/syscall/a' },
    { sink: 'securityHub', findingId: 'falconet/syscall/b' },
  ])
  t.equal((await letters.list({ sink: 'securityhub' })).length, 2, '--sink with the old id still finds them')
  // A redrive takes a letter out of its file once it is queued again.
  await letters.remove(await letters.list({ findingId: 'falconet/syscall/a' }))
  t.same(
    (await letters.list()).map((l) => l.findingId),
    ['falconet/syscall/b'],
  )
})

t.test('both files (both versions wrote letters): one file, the older letters first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-rename-dl2-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const letter = (findingId: string) => ({ findingId, code: 'X', reason: 'r', payload: {} })
  await new DeadLetterFile(dir, silent).write('securityhub', [letter('old')])
  // A file already under the new name: the old one is folded into it rather than renamed over it.
  const { writeFileSync, readFileSync } = await import('node:fs')
  const oldPath = join(dir, 'dead-letter', 'securityhub.jsonl')
  const text = readFileSync(oldPath, 'utf8')
  writeFileSync(join(dir, 'dead-letter', 'securityHub.jsonl'), text.replace('"old"', '"new"'))
  const letters = new DeadLetterFile(dir, silent)
  t.same(
    (await letters.list()).map((l) => l.findingId),
    ['old', 'new'],
  )
  t.notOk(existsSync(oldPath))
})
