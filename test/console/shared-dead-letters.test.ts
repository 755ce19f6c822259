import t from 'tap'
import type { Store } from '../../src/cluster/store.js'
import { SharedDeadLetters } from '../../src/console/shared-dead-letters.js'
import type { FindingRecord } from '../../src/console/findings-index.js'
import { storeRig } from '../support/cluster.js'

/**
 * The redrive's atomic step on a real redis-server: replicas racing to redrive the same letter
 * queue it once; a letter whose aggregate is gone from the store stays; the list follows the
 * records, and a letter cleared is announced (each replica's file forgets it).
 */
function record(id: string, dead: string[]): FindingRecord {
  const at = '2026-12-06T06:00:00.000Z'
  return {
    finding: { id, version: 3 } as FindingRecord['finding'],
    timeline: [],
    routedTo: [],
    delivered: {},
    deadLettered: Object.fromEntries(dead.map((sink) => [sink, { version: 3, at, code: 'Rejected', reason: '400' }])),
    indexedAt: at,
  }
}

/** A record and (unless `gone`) its merged aggregate, as the shared index and the merge write them. */
async function seed(s: Store, id: string, dead: string[], gone = false): Promise<FindingRecord> {
  const r = record(id, dead)
  await s.command('seed', 'HSET', s.key('c:rec'), id, JSON.stringify(r))
  await s.command('seed', 'HSET', s.key('c:rev'), id, '1')
  if (!gone) await s.command('seed', 'HSET', s.key(`f:${id}`), 'v', '3', 'n', '1')
  return r
}

t.test('many replicas redrive the same letters at once: each is queued once, and leaves the record', async (t) => {
  const { open } = await storeRig(t)
  const stores = await Promise.all(['r0', 'r1', 'r2', 'r3'].map(open))
  const books = stores.map((s) => new SharedDeadLetters(s, 1000))
  const s = stores[0]!
  const ids = Array.from({ length: 20 }, (_, i) => `falconet/syscall/${i}`)
  for (const id of ids) {
    const r = await seed(s, id, ['receiver-hook', 'file'])
    for (const b of books) b.observe(id, r)
  }
  t.equal(books[1]!.list().length, 40, 'every letter listed (20 findings × 2 sinks)')
  t.same(books[1]!.counts(), { 'receiver-hook': 20, file: 20 })

  const queueFor = (sink: string) => [sink]
  const results = await Promise.all(books.flatMap((b) => [b.redrive({ sink: 'receiver-hook' }, queueFor), b.redrive({ sink: 'receiver-hook' }, queueFor)]))
  t.equal(
    results.reduce((n, r) => n + r.requeued, 0),
    20,
    'eight redrives of the same 20 letters at once: 20 requeued in all, none twice',
  )
  t.same(
    results.flatMap((r) => r.skipped),
    [],
    'none skipped',
  )
  t.equal(await s.command('t', 'ZCARD', s.key('q:receiver-hook')), 20, "all 20 in the sink's shared queue, due now")
  t.equal(await s.command('t', 'ZCARD', s.key('q:file')), 0, "the other sink's letters are not queued")
  const [json] = await s.command<Array<string | null>>('t', 'HMGET', s.key('c:rec'), ids[0]!)
  const after = JSON.parse(json!) as FindingRecord
  t.same(Object.keys(after.deadLettered ?? {}), ['file'], "the record keeps the other sink's letter only")
  t.same(after.timeline, [], 'and its arrays stay arrays')
  t.equal(await s.command('t', 'HGET', s.key('c:rev'), ids[0]!), '2', 'one write: the revision moved once')
  const stream = await s.command<unknown[]>('t', 'XRANGE', s.key('c:chg'), '-', '+')
  t.ok(stream.length >= 1, "the change is announced on the console's change stream (every replica follows)")

  // The list follows the records as a replica reads them back: a cleared letter is announced.
  const cleared: string[] = []
  books[2]!.onCleared((sink, id) => cleared.push(`${sink} ${id}`))
  books[2]!.observe(ids[0]!, after)
  t.same(cleared, [`receiver-hook ${ids[0]}`], 'the letter redriven elsewhere is announced (the file forgets it)')
  t.same(
    books[2]!.list({ findingId: ids[0]! }).map((l) => l.sink),
    ['file'],
  )
  books[2]!.observe(ids[1]!, undefined)
  t.same(cleared.length, 1, 'a record dropped by retention is not a redrive')
  // A reload (the store lost its data, or this replica's point in the stream was trimmed): only what it holds stays.
  books[2]!.keepOnly(new Set([ids[2]!]))
  t.same([...new Set(books[2]!.list().map((l) => l.id))], [ids[2]], 'after a reload, only the records loaded are listed')
  t.same(cleared.length, 1, 'and none announced as redriven')
})

t.test('a letter whose aggregate left the store stays, with why; a sink not run here is skipped', async (t) => {
  const { open } = await storeRig(t)
  const s = await open('r0')
  const book = new SharedDeadLetters(s, 1000)
  book.observe('gone', await seed(s, 'gone', ['receiver-hook'], true))
  book.observe('other', await seed(s, 'other', ['receiver-old']))
  const r = await book.redrive({}, (sink) => (sink === 'receiver-hook' ? [sink] : []))
  t.equal(r.requeued, 0)
  t.match(r.skipped, [
    { sink: 'receiver-old', id: 'other', reason: /not enabled/ },
    { sink: 'receiver-hook', id: 'gone', reason: /window closed/ },
  ])
  const [json] = await s.command<Array<string | null>>('t', 'HMGET', s.key('c:rec'), 'gone')
  t.ok((JSON.parse(json!) as FindingRecord).deadLettered?.['receiver-hook'], 'the letter is still recorded')
  t.equal(await s.command('t', 'ZCARD', s.key('q:receiver-hook')), 0, 'nothing queued')
})
