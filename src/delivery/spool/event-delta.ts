import type { FieldValue, SecurityEvent } from '../../model/event.js'

/**
 * An occurrence's event as its difference from the finding's first event (its base): the top-level
 * members that changed or went, and in `fields` — the producer's raw fields, most of the event —
 * the fields that changed or went. Repeats of one finding share almost everything (rule, workload,
 * image, most fields), so what is written per occurrence is a few hundred bytes instead of the
 * whole event (~1.5 KB on the Falco fixtures).
 */
export interface EventDelta {
  set?: Record<string, unknown>
  gone?: string[]
  fields?: Record<string, FieldValue>
  fieldsGone?: string[]
}

type Loose = Record<string, unknown>

export function eventDelta(base: SecurityEvent, event: SecurityEvent): EventDelta {
  const delta: EventDelta = {}
  const [b, e] = [base as unknown as Loose, event as unknown as Loose]
  // Field by field when both have fields (an event from an old spool may not): else as any member.
  const byField = isObject(base.fields) && isObject(event.fields)
  const keys = Object.keys(e)
  const baseKeys = Object.keys(b)
  if (sameKeys(keys, baseKeys)) {
    // A repeat from one source lists the base's members in the base's order: compared by position
    // (Object.values lists them in Object.keys' order), and none can have gone. A load by a computed
    // key, on events whose fields have as many shapes as there are rules, was most of what an
    // identical repeat cost. Nested members (workload, process) are few and keep the keyed walk:
    // by position they cost as much, with two more arrays of garbage each.
    const values = Object.values(e)
    const baseValues = Object.values(b)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      if ((key === 'fields' && byField) || same(baseValues[i], values[i])) continue
      own((delta.set ??= {}), key, values[i])
    }
  } else {
    for (const key of keys) {
      if ((key === 'fields' && byField) || same(b[key], e[key])) continue
      own((delta.set ??= {}), key, e[key])
    }
    for (const key of baseKeys) if (!Object.hasOwn(e, key)) (delta.gone ??= []).push(key)
  }
  if (byField && base.fields !== event.fields) fieldsDelta(delta, base.fields, event.fields)
  return delta
}

/** The raw fields that changed or went (`fields`, `fieldsGone`), positionally when both list the same keys. */
function fieldsDelta(delta: EventDelta, base: Record<string, FieldValue>, fields: Record<string, FieldValue>): void {
  const keys = Object.keys(fields)
  const baseKeys = Object.keys(base)
  if (sameKeys(keys, baseKeys)) {
    const values = Object.values(fields)
    const baseValues = Object.values(base)
    for (let i = 0; i < keys.length; i++) if (!same(baseValues[i], values[i])) own((delta.fields ??= {}), keys[i]!, values[i])
    return
  }
  for (const key of keys) {
    if (Object.hasOwn(base, key) && same(base[key], fields[key])) continue
    own((delta.fields ??= {}), key, fields[key])
  }
  for (const key of baseKeys) if (!Object.hasOwn(fields, key)) (delta.fieldsGone ??= []).push(key)
}

/** The event back: a new object; members the delta leaves alone are the base's own (never mutated). */
export function applyEventDelta(base: SecurityEvent, delta: EventDelta): SecurityEvent {
  // Spreads define own properties: a raw field named `__proto__` stays a field, never a prototype.
  const event: Loose = { ...base, ...delta.set }
  if (delta.fields || delta.fieldsGone) {
    const fields: Loose = { ...base.fields, ...delta.fields }
    for (const key of delta.fieldsGone ?? []) delete fields[key]
    event.fields = fields
  }
  for (const key of delta.gone ?? []) delete event[key]
  return event as unknown as SecurityEvent
}

/** Defined, not assigned: a key named `__proto__` (a hostile raw field) stays an own property. */
function own(target: Loose, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Deep equality of an event's JSON-like members (strings, numbers, booleans, null, arrays, plain
 * objects): a few lines instead of util.isDeepStrictEqual, whose generic checks (prototypes, Maps,
 * typed arrays) cost more than the delta saves. "Different" when unsure: that only stores more.
 */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) if (!Object.hasOwn(b, key) || !same((a as Loose)[key], (b as Loose)[key])) return false
  return true
}

/** The same keys in the same order. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
