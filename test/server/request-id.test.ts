// Request ids (src/server/request-id.ts): unique within a process, apart between processes, UUID-shaped.
import t from 'tap'
import { requestIds } from '../../src/server/request-id.js'

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('ids count up without repeating, across the blocks of 256 the suffix is looked up in', async (t) => {
  const next = requestIds()
  const ids = Array.from({ length: 70_000 }, next)
  t.equal(new Set(ids).size, ids.length, 'no id twice')
  t.ok(
    ids.every((id) => UUID_V8.test(id)),
    'every id is an RFC 9562 version-8 UUID',
  )
  t.same(
    ids.map((id) => Number.parseInt(id.slice(24), 16)),
    ids.map((_, i) => i),
    'the last 48 bits are the request count',
  )
  t.ok(
    ids.every((id) => id.slice(0, 24) === ids[0]!.slice(0, 24)),
    'one random prefix per process',
  )
})

t.test('two processes (two generators) draw different prefixes', async (t) => {
  const prefixes = new Set(Array.from({ length: 50 }, () => requestIds()().slice(0, 24)))
  t.equal(prefixes.size, 50)
})
