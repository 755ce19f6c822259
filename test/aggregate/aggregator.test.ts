import t from 'tap'
import { fold, toFinding, TRACKED_NAMES, type AggregateOptions } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'

// falconet's clock at the first event's time: UpdatedAt is on falconet's clock (issue 15 item 2).
const options: AggregateOptions = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000, now: () => Date.parse('2026-07-30T09:00:00.000Z') }
const at = (iso: string) => iso.replace('Z', '000000Z')

t.test('the first occurrence is a finding of count 1', async (t) => {
  const s = fold(undefined, testEvent(1, { time: at('2026-07-30T09:00:00.000Z') }), 'id', options)
  t.match(s, { count: 1, distinctPods: 1, distinctContainers: 1, version: 1, severity: 'LOW' })
  t.equal(s.firstObservedAt, '2026-07-30T09:00:00.000000000Z')
  t.equal(s.updatedAt, s.lastObservedAt, 'the clock reads the event time')
})

t.test('UpdatedAt is on falconet\'s clock: one event dated 9999 cannot poison it (issue 15 item 2)', async (t) => {
  const now = Date.parse('2026-12-06T00:00:00.000Z')
  const clock = { ...options, now: () => now }
  let s = fold(undefined, testEvent(1, { time: '9999-12-31T23:59:59.999999999Z' }), 'id', clock)
  t.equal(s.updatedAt, '2026-12-06T00:00:00.000000000Z', 'a far-future event time does not become UpdatedAt')
  s = fold(s, testEvent(2, { time: '2026-12-05T23:59:00.000000000Z' }), 'id', { ...clock, now: () => now + 1000 })
  t.equal(s.updatedAt, '2026-12-06T00:00:01.000000000Z', 'the next real event moves it forward, in RFC 3339')
  // A state written before times were bounded (UpdatedAt 9999) is not carried forward past year 9999.
  const poisoned = { ...s, updatedAt: '9999-12-31T23:59:59.999999999Z' }
  const next = fold(poisoned, testEvent(3, { time: '2026-12-06T00:00:02.000000000Z' }), 'id', { ...clock, now: () => now + 2000 })
  t.match(next.updatedAt, /^2026-12-06T00:00:02\.\d{9}Z$/)
  // An event a little ahead (within the skew) keeps UpdatedAt ≥ CreatedAt.
  const ahead = fold(undefined, testEvent(4, { time: '2026-12-06T00:01:00.000000000Z' }), 'id2', clock)
  t.equal(ahead.updatedAt, ahead.firstObservedAt)
})

t.test('repeats count, move LastObservedAt and UpdatedAt forward, keep FirstObservedAt', async (t) => {
  let s = fold(undefined, testEvent(1, { time: at('2026-07-30T09:00:00.000Z') }), 'id', options)
  s = fold(s, testEvent(2, { time: at('2026-07-30T09:05:00.000Z'), pod: 'cart-api-7d9c6b7b9c-other' }), 'id', options)
  t.match(s, { count: 2, distinctPods: 2, version: 2 })
  t.equal(s.firstObservedAt, '2026-07-30T09:00:00.000000000Z')
  t.equal(s.lastObservedAt, '2026-07-30T09:05:00.000000000Z')
  t.equal(s.event.output, 'event 2', 'the latest occurrence describes the finding')
})

t.test('UpdatedAt moves forward by at least a millisecond even for same-time or older repeats', async (t) => {
  let s = fold(undefined, testEvent(1, { time: '2026-07-30T09:00:00.000100000Z' }), 'id', options)
  const first = s.updatedAt
  s = fold(s, testEvent(2, { time: '2026-07-30T09:00:00.000900000Z' }), 'id', options) // same millisecond
  t.ok(Date.parse(s.updatedAt) > Date.parse(first), `${s.updatedAt} is a later millisecond than ${first}`)
  const second = s.updatedAt
  s = fold(s, testEvent(3, { time: at('2026-07-30T08:00:00.000Z') }), 'id', options) // arrives late
  t.ok(Date.parse(s.updatedAt) > Date.parse(second))
  t.equal(s.firstObservedAt, '2026-07-30T08:00:00.000000000Z')
  t.equal(s.lastObservedAt, '2026-07-30T09:00:00.000900000Z', 'a late event does not move LastObservedAt back')
  t.equal(toFinding(s).event.output, 'event 2', 'nor replace the latest occurrence')
})

t.test('the severity is the most urgent seen', async (t) => {
  let s = fold(undefined, testEvent(1, { priority: 'Warning' }), 'id', options)
  s = fold(s, testEvent(2, { priority: 'Critical' }), 'id', options)
  s = fold(s, testEvent(3, { priority: 'Notice' }), 'id', options)
  t.equal(s.severity, 'CRITICAL')
})

t.test('after the window a repeat starts a new count under the same Id', async (t) => {
  let s = fold(undefined, testEvent(1, { time: at('2026-07-30T09:00:00.000Z') }), 'id', options)
  s = fold(s, testEvent(2, { time: at('2026-07-30T09:30:00.000Z') }), 'id', options)
  s = fold(s, testEvent(3, { time: at('2026-07-30T12:00:00.000Z') }), 'id', options)
  t.match(s, { id: 'id', count: 1, version: 3 })
  t.equal(s.firstObservedAt, '2026-07-30T12:00:00.000000000Z')
})

t.test('distinct pods are counted up to a bound, and toFinding drops the bookkeeping', async (t) => {
  let s = fold(undefined, testEvent(0, { pod: 'p-0' }), 'id', options)
  for (let i = 1; i < TRACKED_NAMES + 20; i++) s = fold(s, testEvent(i, { pod: `p-${i}` }), 'id', options)
  t.equal(s.distinctPods, TRACKED_NAMES)
  t.equal(s.samplePods.length, 5)
  const f = toFinding(s)
  t.notOk('pods' in f)
  t.notOk('containers' in f)
})
