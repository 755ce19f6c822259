import t from 'tap'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import type { SecurityEvent } from '../../src/model/event.js'
import { workloadName } from '../../src/aggregate/workload.js'
import { findingId, memoSize } from '../../src/aggregate/finding-id.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { falcoFixtures, falcoFixture } from '../support/fixtures.js'

const opts = { keyFields: {} }
const alertOf = (prefix: string) => parseJsonLossless(falcoFixture(prefix).body) as Record<string, any>
const idOf = (alert: unknown, o: Parameters<typeof findingId>[1] = opts) => findingId(normalizeFalcoAlert(alert), o)

t.test('the same alert twice gives the same Id', async (t) => {
  for (const { file, body } of falcoFixtures()) {
    t.equal(idOf(parseJsonLossless(body)), idOf(parseJsonLossless(body)), file)
  }
})

t.test('Ids are valid ASFF Ids and distinct across the fixtures', async (t) => {
  const ids = falcoFixtures().map(({ body }) => idOf(parseJsonLossless(body)))
  t.equal(new Set(ids).size, ids.length)
  for (const id of ids) t.match(id, /^falconet\/[a-z0-9_-]+\/[0-9a-f]{40}$/)
})

t.test('a repeat at another time, with another pid or container id, updates the same finding', async (t) => {
  const a = alertOf('01-')
  const b = alertOf('01-')
  b.time = '2026-07-30T10:00:00.000000000Z'
  b.output_fields['evt.time'] = '1785405600000000000'
  b.output_fields['container.id'] = 'ffffffffffff'
  b.output_fields['proc.pid'] = 4242
  t.equal(idOf(a), idOf(b))
})

t.test('a different pod, namespace, container, rule or cluster gives a different Id', async (t) => {
  const base = idOf(alertOf('01-'))
  const variants: Array<[string, (a: Record<string, any>) => void]> = [
    ['pod of another workload', (a) => (a.output_fields['k8s.pod.name'] = 'checkout-6f4b9d7c5d-q2w4r')],
    ['namespace', (a) => (a.output_fields['k8s.ns.name'] = 'staging')],
    ['container', (a) => (a.output_fields['container.name'] = 'sidecar')],
    ['rule', (a) => (a.rule = 'Other rule')],
  ]
  for (const [what, change] of variants) {
    const a = alertOf('01-')
    change(a)
    t.not(idOf(a), base, what)
  }
  t.not(findingId(normalizeFalcoAlert(alertOf('01-')), { keyFields: {}, cluster: 'prod' }), base, 'cluster')
})

t.test('pods of one workload share the Id; aggregation counts them', async (t) => {
  const a = alertOf('01-')
  const b = alertOf('01-')
  b.output_fields['k8s.pod.name'] = 'cart-api-7d9c6b7b9c-zzzzz'
  t.equal(idOf(a), idOf(b), 'another replica of the same Deployment')
  b.output_fields['k8s.pod.name'] = 'cart-api-5c4f8d9b7-zzzzz'
  t.equal(idOf(a), idOf(b), 'a pod of the next ReplicaSet after a rollout')
})

t.test('host events are told apart by host', async (t) => {
  const a = alertOf('11-')
  const b = alertOf('11-')
  b.hostname = 'ip-10-0-99-99.eu-west-1.compute.internal'
  t.not(idOf(a), idOf(b))
})

t.test('configured key fields split findings of one rule on one container', async (t) => {
  const keyFields = { 'Terminal shell in container': ['proc.cmdline'] }
  const a = alertOf('01-')
  const b = alertOf('01-')
  b.output_fields['proc.cmdline'] = 'sh -c id'
  t.equal(idOf(a), idOf(b), 'without key fields: one finding')
  t.not(idOf(a, { keyFields }), idOf(b, { keyFields }), 'with proc.cmdline as key field: two')
})

t.test('k8s_audit alerts are identified by their fields, not their time', async (t) => {
  const a = alertOf('29-')
  const b = alertOf('29-')
  b.time = '2026-07-30T17:00:00.000000000Z'
  b.output_fields['evt.time'] = '1785430800000000000'
  t.equal(idOf(a), idOf(b))
  b.output_fields['ka.user.name'] = 'someone-else'
  t.not(idOf(a), idOf(b))
})

/** findingId as it was written before its facts text was built piece by piece: every stored Id came from it. */
function referenceId(event: SecurityEvent, options: Parameters<typeof findingId>[1]): string {
  const { workload } = event
  const parts: Array<[string, unknown]> = [
    ['cluster', options.cluster ?? ''],
    ['source', event.source],
    ['rule', event.rule],
    ['namespace', workload.namespace ?? ''],
    ['workload', workloadName(workload) ?? ''],
    ['container', workload.container?.name ?? ''],
  ]
  if (!workload.pod) parts.push(['host', event.hostname ?? ''])
  const configured = (Object.hasOwn(options.keyFields, event.rule) ? options.keyFields[event.rule] : undefined) ?? event.keyFields
  const VOLATILE = ['evt.time', 'evt.time.s', 'evt.time.iso8601', 'evt.datetime', 'evt.rawtime', 'evt.num', 'ka.auditid', 'ka.stage']
  const keys = configured
    ? [...configured].sort()
    : event.source === 'k8s_audit'
      ? Object.keys(event.fields)
          .filter((k) => !VOLATILE.includes(k))
          .sort()
      : []
  for (const key of keys) parts.push([`field:${key}`, event.fields[key] ?? null])
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40)
  const slug = /^[a-z0-9_-]{1,32}$/.test(event.source)
    ? event.source
    : event.source
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, '-')
        .slice(0, 32) || 'event'
  return `falconet/${slug}/${digest}`
}

t.test('every Id is the one the pairs-array construction gave (fixtures, and any strings, fields and key fields)', async (t) => {
  for (const { file, body } of falcoFixtures()) {
    const event = normalizeFalcoAlert(parseJsonLossless(body))
    t.equal(findingId(event, opts), referenceId(event, opts), file)
    t.equal(findingId(event, { cluster: 'prod "eu"', keyFields: { [event.rule]: ['proc.cmdline', 'nope', 'evt.time'] } }), referenceId(event, { cluster: 'prod "eu"', keyFields: { [event.rule]: ['proc.cmdline', 'nope', 'evt.time'] } }), `${file} with key fields`)
  }
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', '"', '\\', '\u2028', '\ud800', 'a\u0000b', 'cart-api-7d9c6b7b9c-x2x8k'))
  const value = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 3 }))
  fc.assert(
    fc.property(
      fc.record({ source: fc.oneof(text, fc.constantFrom('syscall', 'k8s_audit')), rule: text, namespace: fc.option(text), pod: fc.option(text), container: fc.option(text), hostname: fc.option(text), cluster: fc.option(text) }),
      fc.dictionary(text, value, { maxKeys: 5 }),
      fc.option(fc.array(text, { maxLength: 3 })),
      (e, fields, keyFields) => {
        const event = eventOf({ source: e.source, rule: e.rule, namespace: e.namespace ?? undefined, pod: e.pod ?? undefined, container: e.container ?? undefined, hostname: e.hostname ?? undefined }, fields)
        const options = { ...(e.cluster !== null ? { cluster: e.cluster } : {}), keyFields: keyFields ? { [e.rule]: keyFields } : {} }
        t.equal(findingId(event, options), referenceId(event, options))
      },
    ),
    { numRuns: 2_000 },
  )
})

t.test('a key field the alert lacks is null in the Id, even when Object.prototype has a member of that name', async (t) => {
  // fields[key] finds Object.prototype's toString / constructor (functions): inside the pairs array
  // JSON.stringify wrote null; on its own it gives undefined, which was written as the text "undefined".
  const event = normalizeFalcoAlert(alertOf('01-'))
  for (const key of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'nope']) {
    const options = { keyFields: { [event.rule]: [key, 'proc.cmdline'] } }
    t.equal(findingId(event, options), referenceId(event, options), key)
  }
})

t.test('an Id found in the memo (facts without key fields) is the Id computed afresh', async (t) => {
  // Short names from a small alphabet, so keys repeat and look alike ('1:a' as a name, '-' as a name,
  // a name or its absence, an owner or a pod): every lookup must give the reference construction's Id.
  const name = fc.oneof(fc.constantFrom('', '-', ':', '1:a', 'a', '0:', 'x-7d9c6b7b9c-x2x8k', 'x'), fc.string({ maxLength: 3 }))
  const maybe = fc.option(name, { nil: undefined })
  const event = fc.record({ source: fc.constantFrom('syscall', 'k8s_audit', 'Odd Source', 'a'), rule: name, namespace: maybe, owner: maybe, pod: maybe, container: maybe, hostname: maybe, cluster: maybe, keyed: fc.boolean() })
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
      for (const e of [...events, ...events]) {
        const ev = eventOf(e, { 'proc.cmdline': e.rule, user: 'u' })
        const options = { ...(e.cluster !== undefined ? { cluster: e.cluster } : {}), keyFields: e.keyed ? { [e.rule]: ['proc.cmdline'] } : {} }
        if (findingId(ev, options) !== referenceId(ev, options)) return false
      }
      return true
    }),
    { numRuns: 2_000 },
  )
  t.pass('every Id matched')
})

t.test('the memo is bounded: thousands of distinct rules still give their own Ids', async (t) => {
  const event = normalizeFalcoAlert(alertOf('01-'))
  const ids = new Set<string>()
  for (let i = 0; i < 5_000; i++) {
    const e = { ...event, rule: `rule ${i % 2_500}` }
    const id = findingId(e, opts)
    if (id !== referenceId(e, opts)) t.fail(`rule ${i}`)
    ids.add(id)
  }
  t.equal(ids.size, 2_500)
  const long = { ...event, rule: 'r'.repeat(1_000) }
  t.equal(findingId(long, opts), referenceId(long, opts), 'a long-named event (no memo) too')
  t.equal(findingId(long, opts), referenceId(long, opts), 'and again')
})

t.test('the memo gives the computed Id for non-string names and for options changed in place (a config reload)', async (t) => {
  // Names an unchecked sender or a bug could pass: numbers and arrays that print like a name,
  // prototype names, '' against absent, an array changed in place; one options object whose cluster
  // and key fields change.
  const changing = ['a']
  const name = fc.constantFrom<unknown>(undefined, '', 'a', '1', 1, 0, Number.NaN, null, false, changing, { toString: () => 'a' }, '__proto__', 'constructor', 'x-7d9c6b7b9c-x2x8k')
  const owner = fc.constantFrom<unknown>(undefined, null, {}, { name: 'a' }, { name: '' }, { name: 1 }, 'a')
  const container = fc.constantFrom<unknown>(undefined, {}, { name: 'a' }, { name: '' }, { name: 1 }, 'a')
  const options: { cluster?: unknown; keyFields: Record<string, string[]> } = { keyFields: {} }
  const change = fc.constantFrom('none', 'cluster', 'keyFields', 'array')
  const event = fc.record({ source: fc.constantFrom<unknown>('syscall', 'k8s_audit', 'Odd Source', 1), rule: name, namespace: name, owner, pod: name, container, hostname: name, keyFields: fc.constantFrom<unknown>(undefined, [], ['f']), fields: fc.constantFrom({}, { f: 1 }, { 'evt.time': 1 }), change })
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 30 }), (events) => {
      for (const e of [...events, ...events]) {
        if (e.change === 'cluster') options.cluster = options.cluster === 'a' ? 1 : options.cluster === 1 ? undefined : 'a'
        if (e.change === 'array') changing[0] = changing[0] === 'a' ? 'b' : 'a'
        if (e.change === 'keyFields') options.keyFields = Object.hasOwn(options.keyFields, String(e.rule)) ? {} : { [String(e.rule)]: ['f'] }
        const workload: Record<string, unknown> = {}
        for (const k of ['namespace', 'owner', 'pod', 'container'] as const) if (e[k] !== undefined) workload[k] = e[k]
        const ev = { source: e.source, rule: e.rule, workload, fields: e.fields, ...(e.hostname !== undefined ? { hostname: e.hostname } : {}), ...(e.keyFields !== undefined ? { keyFields: e.keyFields } : {}) } as unknown as SecurityEvent
        const outcome = (f: () => string) => {
          try {
            return f()
          } catch {
            return 'throws'
          }
        }
        const o = options as Parameters<typeof findingId>[1]
        if (outcome(() => findingId(ev, o)) !== outcome(() => referenceId(ev, o))) return false
      }
      return true
    }),
    { numRuns: 2_000 },
  )
  t.pass('every Id matched')
})

t.test("an Id found in the memo with key fields (configured, or an audit alert's fields) is the Id computed afresh", async (t) => {
  // Few names and values, so events repeat and look alike: a field more or less, the same names in
  // another order, a list that is a prefix of another, 0 and -0, NaN, '1' and 1, null and absent, a
  // volatile field, configured lists that share a prefix or repeat a name.
  const name = fc.constantFrom('a', 'b', 'c', 'evt.time', 'ka.auditid', 'constructor', 'toString', '')
  const value = fc.constantFrom<unknown>('x', 'y', '', '1', 1, 0, -0, Number.NaN, Number.POSITIVE_INFINITY, true, false, null, [], ['x'], ['x', 'y'], ['x', null], [0], [-0], [1, 'x'], { x: 1 }, [{ x: 1 }])
  const place = fc.constantFrom<string | undefined>(undefined, 'p', 'x-7d9c6b7b9c-x2x8k')
  const event = fc.record({
    source: fc.constantFrom('k8s_audit', 'syscall'),
    rule: fc.constantFrom('r', 's'),
    namespace: fc.constantFrom<string | undefined>(undefined, 'n', ''),
    pod: place,
    hostname: place,
    fields: fc.array(fc.tuple(name, value), { maxLength: 5 }),
    keyed: fc.option(fc.array(name, { maxLength: 3 }), { nil: undefined }),
  })
  fc.assert(
    fc.property(fc.array(event, { minLength: 1, maxLength: 30 }), (events) => {
      for (const e of [...events, ...events.reverse(), ...events]) {
        const ev = eventOf(e, Object.fromEntries(e.fields))
        const options = { keyFields: e.keyed ? { [e.rule]: e.keyed } : {} }
        if (findingId(ev, options) !== referenceId(ev, options)) return false
      }
      return true
    }),
    { numRuns: 3_000 },
  )
  t.pass('every Id matched')
})

t.test("a key field's list or object changed in place, or an inherited field, is not taken from the memo", async (t) => {
  const audit = (fields: Record<string, unknown>, hostname = 'h') => eventOf({ source: 'k8s_audit', rule: 'in place', hostname }, fields)
  const list = ['x']
  const nested = { x: 1 }
  for (const [what, fields, change] of [
    ['a list', { a: list }, () => list.push('y')],
    ['an object', { a: nested }, () => (nested.x = 2)],
  ] as const) {
    const before = findingId(audit(fields), opts)
    change()
    const event = audit(fields)
    t.equal(findingId(event, opts), referenceId(event, opts), what)
    t.not(findingId(event, opts), before, what)
  }
  // Object.keys (the Id's key fields) are own fields: an enumerable inherited one is not one of them.
  const own = audit({ a: 'x', b: 'y' })
  t.equal(findingId(own, opts), referenceId(own, opts))
  const proto = Object.prototype as Record<string, unknown>
  try {
    proto.b = 'y'
    const inherited = audit({ a: 'x' }, 'polluted')
    t.equal(findingId(inherited, opts), referenceId(inherited, opts), 'a: x with b: y inherited')
    t.equal(findingId(inherited, opts), referenceId(inherited, opts), 'again')
    const both = audit({ a: 'x', b: 'y' }, 'polluted')
    t.equal(findingId(both, opts), referenceId(both, opts), 'a: x and b: y, both its own')
  } finally {
    delete proto.b
  }
})

t.test('key fields the memo cannot compare are computed (or refused) as before', async (t) => {
  const outcome = (f: () => string) => {
    try {
      return f()
    } catch {
      return 'throws'
    }
  }
  const base = { source: 'k8s_audit', rule: 'odd inputs', hostname: 'h' }
  const withKeys = (keyFields: unknown, fields: unknown) => ({ ...eventOf(base, {}), keyFields, fields }) as unknown as SecurityEvent
  for (const [what, first, second] of [
    ['a list-like object as key fields', withKeys(['f'], { f: 'x' }), withKeys({ length: 1, 0: 'f' }, { f: 'x' })],
    ['no fields at all', withKeys(undefined, {}), withKeys(undefined, undefined)],
    ['key fields that are not names', withKeys([1], { 1: 'x' }), withKeys(['1'], { 1: 'x' })],
  ] as const) {
    for (const event of [first, second, first, second])
      t.equal(
        outcome(() => findingId(event, opts)),
        outcome(() => referenceId(event, opts)),
        what,
      )
  }
  let named = 'f'
  const changing = withKeys([{ length: 1, toString: () => named }], { f: 'x', g: 'x' })
  t.equal(findingId(changing, opts), referenceId(changing, opts), 'a key field named by an object')
  named = 'g'
  t.equal(findingId(changing, opts), referenceId(changing, opts), 'the object naming another field')
})

t.test('the memo with key fields is bounded: per place, in all, and by what one entry holds', async (t) => {
  const audit = (fields: Record<string, unknown>, hostname = 'bounded') => eventOf({ source: 'k8s_audit', rule: 'bounded', hostname }, fields)
  const check = (event: SecurityEvent) => t.equal(findingId(event, opts), referenceId(event, opts))
  // One Falco's audit alerts by 100 users: the last few are kept, not all of them.
  for (let i = 0; i < 100; i++) findingId(audit({ user: `u${i}` }), opts)
  t.equal(memoSize().largestPlace, 8)
  check(audit({ user: 'u99' }))
  check(audit({ user: 'u0' }))
  // 5,000 places: never more than 2,048 entries.
  for (let i = 0; i < 5_000; i++) {
    findingId(audit({ user: 'u' }, `host ${i}`), opts)
    if (memoSize().entries > 2_048) return t.fail(`${memoSize().entries} entries after ${i + 1} places`)
  }
  const entries = memoSize().entries
  const unmemoised = (what: string, fields: Record<string, unknown>) => {
    const event = audit(fields, `unmemoised ${what}`)
    check(event)
    check(event)
    t.equal(memoSize().entries, entries, what)
  }
  unmemoised('33 key fields', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 'x'])))
  unmemoised('65 list items', { f: Array.from({ length: 65 }, () => 'x') })
  unmemoised('66 list items in two fields', { f: Array.from({ length: 33 }, () => 'x'), g: Array.from({ length: 33 }, () => 'x') })
  unmemoised('a 1,025-character value', { f: 'x'.repeat(1_025) })
  unmemoised('a 1,025-character name', { ['f'.repeat(1_025)]: 'x' })
  const kept = audit(Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`f${i}`, ['x', 'y']])), 'kept')
  check(kept)
  t.equal(memoSize().entries, entries + 1, '32 key fields of two items each are memoised')
})

/** A Falco event with these names (an absent one left out, not undefined) and fields. */
function eventOf(e: { source: string; rule: string; namespace?: string; owner?: string; pod?: string; container?: string; hostname?: string }, fields: Record<string, unknown>): SecurityEvent {
  return {
    input: 'falco',
    source: e.source,
    rule: e.rule,
    priority: 'Notice',
    priorityText: 'Notice',
    time: '2026-07-30T09:14:03.512345678Z',
    output: '',
    tags: [],
    workload: {
      ...(e.namespace !== undefined ? { namespace: e.namespace } : {}),
      ...(e.owner !== undefined ? { owner: { kind: 'Deployment', name: e.owner } } : {}),
      ...(e.pod !== undefined ? { pod: e.pod } : {}),
      ...(e.container !== undefined ? { container: { id: 'c', name: e.container } } : {}),
    },
    ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
    fields,
  } as unknown as SecurityEvent
}
