import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { encode } from '@msgpack/msgpack'
import fc from 'fast-check'
import { decodeBody, decodeRecords, type DecodedRecord } from '../../src/sources/fluent-bit/decode.js'

/**
 * decodeRecords hands each record on as it is read (the endpoint classifies it and keeps none).
 * It must hand on exactly what decodeBody returns — every record once, in order, the same
 * malformed count — including where the msgpack decoder refuses an entry part-way through a
 * chunk and the rest is read entry by entry.
 */
const FORMATS = new URL('../fixtures/fluent-bit/formats/', import.meta.url).pathname
const TYPES: Record<string, string> = { json: 'application/json', ndjson: 'application/x-ndjson', msgpack: 'application/msgpack' }

function streamed(body: Buffer, type: string) {
  const records: DecodedRecord[] = []
  const counts = decodeRecords(body, type, { dateKey: 'date' }, (r) => records.push(r))
  return { list: records, records: counts.records, malformed: counts.malformed }
}

t.test('captured json, json_lines and msgpack chunks: every record handed on once, in order', async (t) => {
  const expected: Record<string, (body: Buffer, file: string) => unknown[]> = {
    json: (body) => JSON.parse(String(body)),
    ndjson: (body) =>
      String(body)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l)),
    msgpack: (_body, file) => (JSON.parse(readFileSync(join(FORMATS, file.replace('.msgpack', '.decoded.json')), 'utf8')) as Array<[unknown, unknown]>).map((e) => e[1]),
  }
  let bodies = 0
  for (const file of readdirSync(FORMATS).filter((f) => /\.body\.(json|ndjson|msgpack)$/.test(f) && !f.startsWith('gelf'))) {
    const ext = file.split('.').pop()!
    const body = readFileSync(join(FORMATS, file))
    const s = streamed(body, TYPES[ext]!)
    t.same(
      s.list.map((r) => r.record),
      expected[ext]!(body, file),
      file,
    )
    t.same([s.records, s.malformed], [s.list.length, 0], `${file}: counts`)
    t.same(
      decodeBody(body, TYPES[ext]!, { dateKey: 'date' }).records.map((r) => r.record),
      s.list.map((r) => r.record),
      `${file}: decodeBody`,
    )
    bodies++
  }
  t.ok(bodies >= 5, `${bodies} captured bodies`)
})

const entry = (record: unknown) => Buffer.from(encode([1795255200, record]))
/** A map with a `__proto__` key: @msgpack/msgpack refuses it, which ends decodeMulti part-way. */
const poisoned = Buffer.from([0x92, 0xce, 0x6b, 0x02, 0x6f, 0x20, 0x81, 0xa9, ...Buffer.from('__proto__'), 0x01])

t.test('msgpack: an entry the decoder refuses mid-chunk costs itself; the others are taken once', async (t) => {
  const body = Buffer.concat([entry({ log: 'a' }), entry({ log: 'b' }), poisoned, entry({ log: 'c' }), entry({ log: 'd' }).subarray(0, 5)])
  const s = streamed(body, 'application/msgpack')
  t.same(
    s.list.map((r) => r.record.log),
    ['a', 'b', 'c'],
    'before and after the refused entry, each once',
  )
  t.equal(s.records, 3)
  t.equal(s.malformed, 2, 'the refused entry and the cut one')
  t.same(
    decodeBody(body, 'application/msgpack', { dateKey: 'date' }).records.map((r) => r.record.log),
    ['a', 'b', 'c'],
  )
})

t.test('msgpack, any mix of good, refused and non-record entries: each good record exactly once, in order', async (t) => {
  const piece = fc.oneof(
    fc.string({ maxLength: 20 }).map((log) => ({ bytes: entry({ log }), log: log as string | undefined, bad: 0 })),
    fc.constant({ bytes: poisoned, log: undefined, bad: 1 }),
    fc.integer().map((n) => ({ bytes: Buffer.from(encode([1, n])), log: undefined, bad: 1 })), // not a record
  )
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
      const s = streamed(Buffer.concat(pieces.map((p) => p.bytes)), 'application/msgpack')
      const want = pieces.filter((p) => p.log !== undefined).map((p) => p.log)
      if (JSON.stringify(s.list.map((r) => r.record.log)) !== JSON.stringify(want)) throw new Error(`records ${JSON.stringify(s.list.map((r) => r.record.log))} != ${JSON.stringify(want)}`)
      if (s.records !== want.length) throw new Error('record count')
      if (s.malformed !== pieces.reduce((n, p) => n + p.bad, 0)) throw new Error(`malformed ${s.malformed}`)
    }),
    { numRuns: 300, seed: 18 },
  )
  t.pass('300 chunks')
})

t.test('json_lines: records are handed on while the chunk is read, not after', async (t) => {
  const body = Buffer.from('{"log":"a"}\n{"log":"b"}\nnot json\n{"log":"c"}\n')
  const seen: string[] = []
  const counts = decodeRecords(body, 'application/x-ndjson', { dateKey: 'date' }, (r) => seen.push(String(r.record.log)))
  t.same(seen, ['a', 'b', 'c'])
  t.same(counts, { records: 3, malformed: 1 })
})

t.test('msgpack values: str and bin become text (BOM, non-ASCII, long and short alike), 64-bit integers stay exact', async (t) => {
  const long = `\uFEFF${'é'.repeat(150)}`
  const body = Buffer.from(encode([1795255200, { log: 'ascii', bom: '\uFEFFx', long, bin: Buffer.from('bytes ü'), nested: { list: ['a', ['b', { c: 'd' }]], n: 1.5 }, big: 1785402843512345678n, small: 42n }], { useBigInt64: true }))
  const [r] = streamed(body, 'application/msgpack').list
  t.same(r?.record, { log: 'ascii', bom: '\uFEFFx', long, bin: 'bytes ü', nested: { list: ['a', ['b', { c: 'd' }]], n: 1.5 }, big: '1785402843512345678', small: 42 })
  t.equal(Object.getPrototypeOf(r?.record), Object.prototype)
})

t.test('msgpack values: a constructor key holding a prototype is dropped at any depth; a plain one stays', async (t) => {
  const body = Buffer.from(encode([1795255200, { log: 'x', constructor: { prototype: { polluted: 1 } }, inner: { constructor: { prototype: 1 }, keep: 1 }, cm: { constructor: 'data' } }]))
  const [r] = streamed(body, 'application/msgpack').list
  t.same(r?.record, { log: 'x', inner: { keep: 1 }, cm: { constructor: 'data' } })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
