import t from 'tap'
import fc from 'fast-check'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { applyEventDelta, eventDelta } from '../../src/delivery/spool/event-delta.js'
import { Spool } from '../../src/delivery/spool.js'
import { fold, idFor, type FindingState } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { falcoFixtures } from '../support/fixtures.js'
import { silent } from '../support/runner.js'

/**
 * A finding's occurrences store their event as the difference from its first event: whatever the
 * two events are, the event read back is the one written — the same members, values and fields.
 */
const events = falcoFixtures().map((f) => normalizeFalcoAlert(JSON.parse(f.body)))
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const tmp = () => mkdtempSync(join(tmpdir(), 'falconet-delta-'))
const open = (dir: string) => new Spool({ dir, maxBytes: 1 << 30, durability: 'process', resendMs: { a: 0 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })

/** The next occurrence of `e` as Falco would send it: a later time, another process, one field gone, one new. */
function later(e: SecurityEvent, n: number): SecurityEvent {
  const fields: Record<string, unknown> = { ...e.fields, 'evt.time': `17000000000000000${n}`, 'proc.pid': 1000 + n, 'fd.name': `/tmp/x${n}` }
  delete fields[Object.keys(e.fields)[0]!]
  const { hostname: _gone, ...rest } = e
  return { ...rest, fields: fields as SecurityEvent['fields'], time: `2026-12-06T07:0${n % 10}:00.000000000Z`, output: `${e.output} (#${n})` }
}

t.test('every fixture against every other, and against its own next occurrence: applied back it is the event written', async (t) => {
  for (const [i, base] of events.entries()) {
    for (const event of [base, later(base, i), events[(i + 1) % events.length]!]) {
      t.strictSame(applyEventDelta(base, eventDelta(base, event)), event)
    }
  }
  t.strictSame(eventDelta(events[0]!, events[0]!), {}, 'an identical repeat stores nothing of its event')
  // An event from an old spool without fields, either way round.
  const { fields: _fields, ...bare } = events[0]!
  for (const [a, b] of [
    [bare, events[1]!],
    [events[1]!, bare],
  ] as Array<[SecurityEvent, SecurityEvent]>)
    t.strictSame(applyEventDelta(a, eventDelta(a, b)), b)
})

t.test('keys in another order, or as many keys but one replaced, at the top, in fields and in nested members', async (t) => {
  const base = events[0]!
  const reversed = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T
  const [first, ...rest] = Object.keys(base.fields)
  const replaced = { ...Object.fromEntries(rest.map((k) => [k, base.fields[k]!])), 'fd.name': '/etc/shadow' }
  const { hostname: _h, ...noHost } = base
  const cases: SecurityEvent[] = [
    reversed(base),
    { ...base, fields: reversed(base.fields) },
    { ...base, fields: replaced },
    { ...noHost, actor: { user: 'root' } } as SecurityEvent, // as many top-level keys, one replaced
    { ...base, workload: reversed(base.workload) },
    { ...base, workload: { ...Object.fromEntries(Object.entries(base.workload).slice(1)), other: 'x' } as SecurityEvent['workload'] },
  ]
  t.ok(first, 'the fixture has fields')
  for (const [i, event] of cases.entries()) t.strictSame(applyEventDelta(base, eventDelta(base, event)), event, `case ${i + 1}`)
  t.strictSame(eventDelta(base, reversed(base)), {}, 'the same members in another order change nothing')
})

t.test('a raw field named __proto__ stays a field, and the base is never changed', async (t) => {
  const base = { ...events[0]!, fields: { ...events[0]!.fields } }
  const frozen = structuredClone(base)
  const event = { ...base, fields: Object.defineProperty({ ...base.fields }, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true }) } as SecurityEvent
  const back = applyEventDelta(base, eventDelta(base, event))
  t.equal(Object.getPrototypeOf(back.fields), Object.prototype)
  t.equal(Object.getOwnPropertyDescriptor(back.fields, '__proto__')?.value, 'x')
  t.strictSame(base, frozen)
})

t.test('through the spool: each occurrence reads back with its own event, across a restart and with findings of older spools', async (t) => {
  const dir = tmp()
  const base = events[0]!
  const id = idFor(base, options)
  const record = (spool: Spool, e: SecurityEvent) => spool.record([{ id, apply: (p: FindingState | undefined) => fold(p, e, id, options, Date.now()) }], ['a'])
  const read = (spool: Spool) => spool.due('a', 10, Date.now(), true).items[0]!.state
  // An older spool: the whole event stored with the finding, names under their own key without a base.
  const older = fold(undefined, base, id, options, Date.now())
  const { pods, containers, ...rest } = older
  const root = openLmdb({ path: dir, compression: false })
  await root.openDB({ name: 'findings' }).put(id, rest)
  await root.openDB({ name: 'finding-names' }).put(id, { pods, containers })
  const queued = ['a', 0, 1] as const
  await root.openDB({ name: 'pending' }).put(queued as unknown as string, { id, notBefore: 0, queuedAt: Date.now() })
  await root.openDB({ name: 'delivery' }).put([id, 'a'] as unknown as string, { queued })
  await root.close()

  let spool = open(dir)
  t.strictSame(read(spool).event, base, 'the older layout reads as it was')
  for (let n = 1; n <= 3; n++) {
    const e = later(base, n)
    await record(spool, e)
    t.strictSame(read(spool).event, e, `occurrence ${n + 1} reads back as written`)
  }
  await spool.close()
  spool = open(dir)
  t.teardown(() => spool.close())
  t.strictSame(read(spool).event, later(base, 3), 'and after a restart')
  t.equal(read(spool).count, 4)
  await record(spool, { ...base, time: '2026-12-06T07:09:00.000000000Z' })
  t.strictSame(read(spool).event, { ...base, time: '2026-12-06T07:09:00.000000000Z' }, 'an occurrence like the first but its time')
  t.equal(read(spool).count, 5)
})

/**
 * The delta as it was computed before members listed in the same order were compared by position
 * (kept here as the reference): a computed-key walk of each side, the gone keys in a second pass.
 */
function formerEventDelta(base: SecurityEvent, event: SecurityEvent): ReturnType<typeof eventDelta> {
  type Loose = Record<string, unknown>
  const delta: ReturnType<typeof eventDelta> = {}
  const [b, e] = [base as unknown as Loose, event as unknown as Loose]
  const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v)
  const own = (target: Loose, key: string, value: unknown) => Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  const same = (x: unknown, y: unknown): boolean => {
    if (Object.is(x, y)) return true
    if (typeof x !== 'object' || x === null || typeof y !== 'object' || y === null) return false
    if (Array.isArray(x)) return Array.isArray(y) && x.length === y.length && x.every((v, i) => same(v, y[i]))
    if (Array.isArray(y) || Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false
    const keys = Object.keys(x)
    return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && same((x as Loose)[k], (y as Loose)[k]))
  }
  const byField = isObject(base.fields) && isObject(event.fields)
  for (const key of Object.keys(e)) {
    if ((key === 'fields' && byField) || same(b[key], e[key])) continue
    own((delta.set ??= {}), key, e[key])
  }
  for (const key of Object.keys(b)) if (!Object.hasOwn(e, key)) (delta.gone ??= []).push(key)
  if (byField && base.fields !== event.fields) {
    const [bf, ef] = [base.fields as Loose, event.fields as Loose]
    for (const key of Object.keys(ef)) {
      if (Object.hasOwn(bf, key) && same(bf[key], ef[key])) continue
      own((delta.fields ??= {}), key, ef[key])
    }
    for (const key of Object.keys(bf)) if (!Object.hasOwn(ef, key)) (delta.fieldsGone ??= []).push(key)
  }
  return delta
}

/** Equal and listed in the same order at every level (what msgpack writes), -0 and NaN as themselves. */
function exactly(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(a) !== Array.isArray(b)) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const [ka, kb] = [Object.keys(a), Object.keys(b)]
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && exactly((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

t.test('property: the delta is exactly the former one (same members, same order), whatever the two events', async (t) => {
  // Few keys and values, so that pairs share keys, orders and values often; __proto__ and fields among them.
  const key = fc.constantFrom('a', 'b', 'c', 'fields', 'time', '__proto__', 'constructor')
  const leaf = fc.constantFrom<unknown>(0, -0, Number.NaN, 1, '', 'x', 'y', null, true, false)
  const objectOf = (entries: Array<[string, unknown]>) => {
    const o: Record<string, unknown> = {}
    for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
    return o
  }
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, leaf, tie('list'), tie('object')),
    list: fc.array(tie('value'), { maxLength: 3 }),
    object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(objectOf),
  }))
  const entries = fc.array(fc.tuple(key, value), { maxLength: 7 })
  // The event: unrelated, or the base's members with some values replaced, some dropped, some added, maybe reordered.
  const derived = fc.tuple(entries, fc.array(fc.tuple(fc.nat(8), fc.constantFrom('keep', 'replace', 'drop'), value), { maxLength: 4 }), entries, fc.boolean()).map(([base, edits, added, reverse]) => {
    const next: Array<[string, unknown]> = base.map(([k, v]) => [k, v])
    for (const [at, edit, v] of edits) {
      if (next.length === 0) break
      const i = at % next.length
      if (edit === 'replace') next[i] = [next[i]![0], v]
      else if (edit === 'drop') next.splice(i, 1)
    }
    return [base, [...next, ...(added.length > 2 ? added.slice(0, 1) : [])].slice(), reverse] as const
  })
  const pair = fc.oneof(
    fc.tuple(entries, entries).map(([a, b]) => [objectOf(a), objectOf(b)]),
    derived.map(([a, b, reverse]) => [objectOf(a), objectOf(reverse ? [...b].reverse() : b)]),
    // the fields member as an object on both sides, keys shared
    derived.map(([a, b, reverse]) => [
      objectOf([
        ['time', 'x'],
        ['fields', objectOf(a)],
      ]),
      objectOf([
        ['time', 'x'],
        ['fields', objectOf(reverse ? [...b].reverse() : b)],
      ]),
    ]),
  )
  fc.assert(
    fc.property(pair, ([base, event]) => {
      const [b, e] = [base as unknown as SecurityEvent, event as unknown as SecurityEvent]
      return exactly(eventDelta(b, e), formerEventDelta(b, e))
    }),
    { numRuns: 20_000 },
  )
  // And on the fixtures: each against itself, its next occurrence and another rule's alert.
  for (const [i, base] of events.entries()) for (const event of [normalizeFalcoAlert(JSON.parse(falcoFixtures()[i]!.body)), later(base, i), events[(i + 1) % events.length]!]) t.ok(exactly(eventDelta(base, event), formerEventDelta(base, event)), `fixture ${i + 1}`)
})
