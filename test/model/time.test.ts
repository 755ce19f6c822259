import t from 'tap'
import fc from 'fast-check'
import { addMs, canonicalTime, fromMs, laterMs, parseTime } from '../../src/model/time.js'

const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
/** A canonical time: a millisecond from 1970 to 9999 and six more digits. */
const canonical = fc.tuple(fc.integer({ min: 0, max: MAX_MS }), fc.stringMatching(/^\d{6}$/)).map(([ms, sub]) => `${fromMs(ms).slice(0, 23)}${sub}Z`)

t.test('laterMs: canonical times compare as text exactly as Date.parse compares them, to the millisecond', async (t) => {
  fc.assert(
    fc.property(canonical, canonical, fc.integer({ min: -2, max: 2 }), fc.stringMatching(/^\d{6}$/), (a, b, step, sub) => {
      t.equal(laterMs(a, b), Date.parse(a) > Date.parse(b), `${a} ${b}`)
      // The same millisecond or the next ones, with other sub-millisecond digits.
      const near = `${fromMs(Date.parse(a) + step).slice(0, 23)}${sub}Z`
      t.equal(laterMs(near, a), Date.parse(near) > Date.parse(a), `${near} ${a}`)
      t.equal(laterMs(a, near), Date.parse(a) > Date.parse(near), `${a} ${near}`)
    }),
    { numRuns: 2_000 },
  )
  // Anything else (an offset, fewer digits, not a time) is judged by Date.parse.
  for (const [a, b] of [
    ['2026-07-30T11:14:03.5+02:00', '2026-07-30T09:14:03.400000000Z'],
    ['2026-07-30T09:14:03.400000000Z', '2026-07-30T11:14:03.5+02:00'],
    ['2026-07-30T09:14:03Z', '2026-07-30T09:14:02.999999999Z'],
    ['yesterday', '2026-07-30T09:14:03.400000000Z'],
  ])
    t.equal(laterMs(a!, b!), Date.parse(a!) > Date.parse(b!), `${a} ${b}`)
})

t.test('addMs keeps the sub-millisecond digits, and the receipt time fromMs remembers stays right', async (t) => {
  const now = Date.UTC(2026, 6, 30, 9, 14, 3, 512)
  t.equal(fromMs(now), '2026-07-30T09:14:03.512000000Z')
  t.equal(addMs('2026-07-30T09:14:03.512345678Z', 1), '2026-07-30T09:14:03.513345678Z')
  t.equal(addMs('2026-07-30T09:14:03.999345678Z', 1), '2026-07-30T09:14:04.000345678Z')
  t.equal(fromMs(now), '2026-07-30T09:14:03.512000000Z')
  t.equal(fromMs(now + 1), '2026-07-30T09:14:03.513000000Z')
})

t.test('parseTime is Date.parse, whatever it was asked before', async (t) => {
  for (const text of ['2026-07-30T09:14:03.512345678Z', '2026-07-30T09:14:03.512345678Z', 'nope', '', '2026-07-30T11:14:03.5+02:00', '2026-07-30T09:14:03.512345678Z']) t.equal(Object.is(parseTime(text), Date.parse(text)), true, text)
})

t.test('24:00 (the end of a day, which Date.parse takes as the next midnight) is written as the next day, and is not compared as text', async (t) => {
  // As written, 2026-07-30T24:00 sorts before 2026-07-31T00:00 although it is the same instant:
  // laterMs said the next midnight was a later millisecond, and UpdatedAt did not move on.
  t.equal(canonicalTime('2026-07-30T24:00:00Z'), '2026-07-31T00:00:00.000000000Z')
  t.equal(canonicalTime('2026-07-30t24:00:00.000000000z'), '2026-07-31T00:00:00.000000000Z')
  t.equal(canonicalTime('2026-07-30T23:59:59.999999999Z'), '2026-07-30T23:59:59.999999999Z')
  for (const [a, b] of [
    ['2026-07-31T00:00:00.000000000Z', '2026-07-30T24:00:00.000000000Z'],
    ['2026-07-30T24:00:00.000000000Z', '2026-07-31T00:00:00.000000000Z'],
    ['2026-07-31T00:00:00.001000000Z', '2026-07-30T24:00:00.000000000Z'],
  ])
    t.equal(laterMs(a!, b!), Date.parse(a!) > Date.parse(b!), `${a} ${b}`)
})

t.test('a day past its month (Date.parse takes 2026-04-31 as 1 May) is written as the day it is, so laterMs compares it right', async (t) => {
  // As written, 2026-04-31T00:00 sorts before 2026-05-01T00:00 (the same instant) and before
  // 2026-05-01T00:00:01 (a second earlier): UpdatedAt stayed put or went back. The audit and
  // Fluent Bit sources take any time Date.parse takes.
  t.equal(canonicalTime('2026-04-31T00:00:00Z'), '2026-05-01T00:00:00.000000000Z')
  t.equal(canonicalTime('2026-02-29T10:00:00.5Z'), '2026-03-01T10:00:00.500000000Z')
  t.equal(canonicalTime('2024-02-29T10:00:00.123456789Z'), '2024-02-29T10:00:00.123456789Z')
  t.equal(canonicalTime('2026-12-31T23:59:59.999999999Z'), '2026-12-31T23:59:59.999999999Z')
  const two = (n: number) => String(n).padStart(2, '0')
  const time = fc
    .tuple(fc.constantFrom(1970, 2000, 2024, 2026, 2100, 9999), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 59 }), fc.constantFrom('', '.5', '.123456789'))
    .map(([y, mo, d, h, mi, f]) => `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:00${f}Z`)
    .filter((s) => !Number.isNaN(Date.parse(s)))
  fc.assert(
    fc.property(time, time, (x, y) => {
      const [a, b] = [canonicalTime(x), canonicalTime(y)]
      t.equal(Date.parse(a), Date.parse(x), `${x} -> ${a}`)
      t.equal(laterMs(a, b), Date.parse(a) > Date.parse(b), `${a} ${b}`)
    }),
    { numRuns: 2_000 },
  )
})

t.test('addMs gives what Date arithmetic gives, in any order of calls (its remembered second included)', async (t) => {
  const reference = (time: string, ms: number) => new Date(Date.parse(time) + ms).toISOString().slice(0, 23) + time.slice(23, 29) + 'Z'
  const two = (n: number) => String(n).padStart(2, '0')
  // Canonical-looking text that is not a real second (minute 99, 30 February) must not be written as text.
  const odd = fc
    .tuple(fc.constantFrom(1970, 2024, 2026, 9999), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 999 }))
    .map(([y, mo, d, h, mi, s, ms]) => `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, '0')}123456Z`)
  const time = fc.oneof(
    canonical,
    odd,
    fc.constantFrom(
      '2026-07-30T09:14:03.999345678Z',
      '2026-07-30T09:14:03.000000000Z',
      '2026-07-30T09:14:03.5Z',
      '2026-07-30T11:14:03.5+02:00',
      '2026-07-30T09:14:03.512345678z',
      '2026-07-30T09:14:03.512345678+00:00',
      '2026-07-30T09:14:03.512345678Zx',
      '2026-07-30T09:14:03.512345Z',
      '2026-07-30T09:14:03.512Z',
      '2026-07-30T23:59:60.000000000Z',
      '0000-01-01T00:00:00.000000000Z',
      '1969-12-31T23:59:59.999000000Z',
    ),
  )
  // Not only whole milliseconds: a fraction, -0, NaN or a huge step must not be added as text.
  const ms = fc.oneof(fc.constantFrom(1, 1, 1, 0, -0, -1, 1000, 999, 0.5, -0.5, Number.NaN, 1e20, 86_400_000), fc.integer({ min: -2_000, max: 2_000 }))
  fc.assert(
    fc.property(fc.array(fc.tuple(time, ms), { minLength: 1, maxLength: 20 }), (calls) => {
      for (const [time, n] of calls) {
        // From a real time the next millisecond, as UpdatedAt moves on in a storm.
        for (const x of [time, Number.isNaN(Date.parse(time)) ? time : reference(time, 1)]) {
          let expected: string | Error
          try {
            expected = reference(x, n)
          } catch (err) {
            expected = err as Error
          }
          // Twice: the second call may take the remembered second's way.
          for (let i = 0; i < 2; i++) {
            if (expected instanceof Error) t.throws(() => addMs(x, n), `${x} + ${n}`)
            else if (addMs(x, n) !== expected) t.equal(addMs(x, n), expected, `${x} + ${n}`)
          }
        }
      }
    }),
    { numRuns: 2_000 },
  )
})

t.test("parseTime reads a canonical time on the day it last parsed from its digits: Date.parse's answer, in any order of calls", async (t) => {
  const two = (n: number) => String(n).padStart(2, '0')
  // Canonical-looking text on few days (so days repeat): minute or second 60 and 99, hour 24, 30 February, month 13, year 0.
  const odd = fc
    .tuple(fc.constantFrom(0, 1969, 1970, 2024, 2026, 9999), fc.constantFrom(0, 1, 2, 7, 12, 13), fc.constantFrom(0, 1, 28, 29, 30, 31, 32), fc.integer({ min: 0, max: 24 }), fc.constantFrom(0, 1, 59, 60, 99), fc.constantFrom(0, 1, 59, 60, 99), fc.integer({ min: 0, max: 999 }), fc.stringMatching(/^\d{6}$/))
    .map(([y, mo, d, h, mi, s, ms, sub]) => `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, '0')}${sub}Z`)
  // One character changed: a letter for a digit, another separator, a character more or less.
  const near = fc.tuple(odd, fc.integer({ min: 0, max: 30 }), fc.constantFrom('', 'x', '0', '9', ' ', '-', ':', '.', 'z', 't', '+', '\u0660', '00')).map(([text, i, c]) => text.slice(0, i) + c + text.slice(i + 1))
  const time = fc.oneof(canonical, odd, near, fc.constantFrom('2026-07-30T09:14:03.5Z', '2026-07-30T11:14:03.5+02:00', '2026-07-30T09:14:03.512345678+00:00', '', 'nope'))
  fc.assert(
    fc.property(fc.array(time, { minLength: 1, maxLength: 20 }), (texts) => {
      for (const text of [...texts, ...texts.reverse()]) if (!Object.is(parseTime(text), Date.parse(text))) return false
      return true
    }),
    { numRuns: 3_000 },
  )
  // Not text (only code can pass it): Date.parse's answer too, before and after a canonical time.
  const text = { toString: () => '2026-07-30T09:14:03.512345678Z' }
  for (const value of ['2026-07-30T09:14:04.512345678Z', undefined, null, 1, text, '2026-07-30T09:14:05.512345678Z', text] as unknown[]) t.ok(Object.is(parseTime(value as string), Date.parse(value as string)), String(value))
  t.pass('every answer matched')
})
