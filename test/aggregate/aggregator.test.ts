import t from 'tap'
import { fold, toFinding, TRACKED_NAMES, type AggregateOptions } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'

const options: AggregateOptions = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const at = (iso: string) => iso.replace('Z', '000000Z')

t.test('the first occurrence is a finding of count 1', async (t) => {
  const s = fold(undefined, testEvent(1, { time: at('2026-07-30T09:00:00.000Z') }), 'id', options)
  t.match(s, { count: 1, distinctPods: 1, distinctContainers: 1, version: 1, severity: 'LOW' })
  t.equal(s.firstObservedAt, '2026-07-30T09:00:00.000000000Z')
  t.equal(s.updatedAt, s.lastObservedAt, 'the clock reads the event time')
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
