import t from 'tap'
import pino from 'pino'
import { SharedDocs } from '../../src/cluster/shared-docs.js'
import { Silences } from '../../src/route/silences.js'
import { storeRig } from '../support/cluster.js'

/**
 * Silences on two replicas sharing a real redis-server. Each replica reads its copy of the shared
 * document, refreshed every second; a change must start from what the store holds, not from that
 * copy: a script creating silences through the Service lands its requests on different replicas
 * back to back, within one refresh, and every silence must survive.
 */
const logger = pino({ level: 'silent' })
const endsAt = () => new Date(Date.now() + 3_600_000).toISOString()

t.test('silences made back to back on two replicas, before either refreshed, are all kept', async (t) => {
  const { open } = await storeRig(t)
  const docsA = new SharedDocs(await open('a'), ['silences'], logger)
  const docsB = new SharedDocs(await open('b'), ['silences'], logger)
  await Promise.all([docsA.refresh(), docsB.refresh()])
  const a = new Silences(docsA)
  const b = new Silences(docsB)
  docsA.onChange(() => a.reload())
  docsB.onChange(() => b.reload())

  const one = await a.add({ matchers: ['namespace = one'], endsAt: endsAt(), createdBy: 'ci', comment: 'first' })
  const two = await b.add({ matchers: ['namespace = two'], endsAt: endsAt(), createdBy: 'ci', comment: 'second' }) // B has not refreshed
  const three = await a.add({ matchers: ['namespace = three'], endsAt: endsAt(), createdBy: 'ci', comment: 'third' }) // nor has A
  await Promise.all([docsA.refresh(), docsB.refresh()])
  const ids = (s: Silences) =>
    s
      .list()
      .map((x) => x.id)
      .sort()
  t.same(ids(a), [one.id, two.id, three.id].sort(), 'A lists all three')
  t.same(ids(b), ids(a), 'and so does B')

  // Concurrent writes from both replicas at once: each retries over the other's.
  const more = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).add({ matchers: [`namespace = n${i}`], endsAt: endsAt(), createdBy: 'ci', comment: String(i) })))
  await Promise.all([docsA.refresh(), docsB.refresh()])
  t.equal(a.list().length, 9, 'nine silences after six concurrent creations')
  t.same(ids(b), ids(a))

  // A removal on B of a silence A made, before B refreshed: the others stay.
  t.ok(await b.remove(more[1]!.id))
  t.notOk(await a.remove('no-such-id'), 'an unknown id removes nothing')
  await Promise.all([docsA.refresh(), docsB.refresh()])
  t.equal(a.list().length, 8)
  t.notOk(
    a.list().some((s) => s.id === more[1]!.id),
    'the removed one is gone on A too',
  )
  t.same(ids(b), ids(a))
})
