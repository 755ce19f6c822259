import t from 'tap'
import fc from 'fast-check'
import { STORED_LIMITS, trimForStorage } from '../../src/aggregate/trim.js'
import type { SecurityEvent } from '../../src/model/event.js'

/** needsTrim as it was before its lists were walked with an indexed loop (`some` with a closure). */
function reference(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.length > STORED_LIMITS.chars
  if (depth > 8 || value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.length > STORED_LIMITS.items || value.some((v) => reference(v, depth + 1))
  let n = 0
  for (const key in value) {
    if (++n > STORED_LIMITS.fields || key.length > STORED_LIMITS.chars || reference((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

t.test('an event is kept as the same object exactly when the former check found nothing to trim (lists with holes, long strings, many items, deep nesting)', async (t) => {
  const long = fc.constantFrom('x'.repeat(STORED_LIMITS.chars), 'y'.repeat(STORED_LIMITS.chars + 1))
  const leaf = fc.oneof(fc.string({ maxLength: 4 }), long, fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined))
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('object')),
    list: fc.oneof(fc.array(tie('value'), { maxLength: 4 }), fc.sparseArray(tie('value'), { maxLength: 6 }), fc.array(fc.constant(1), { minLength: STORED_LIMITS.items - 1, maxLength: STORED_LIMITS.items + 1 })),
    object: fc.dictionary(fc.oneof(fc.string({ maxLength: 3 }), long), tie('value'), { maxKeys: 4 }),
  }))
  fc.assert(
    fc.property(value, (fields) => {
      const event = { rule: 'r', fields } as unknown as SecurityEvent
      t.equal(trimForStorage(event) === event, !reference(event, 0))
    }),
    { numRuns: 3000 },
  )
  t.end()
})
