import t from 'tap'
import fc from 'fast-check'
import { canonicalTime } from '../../src/model/time.js'
import { normalizeFalcoAlert, InvalidAlertError, nanosToIso } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { falcoFixtures, falcoFixture } from '../support/fixtures.js'

const parse = (body: string) => normalizeFalcoAlert(parseJsonLossless(body))

t.test('every Falco fixture normalizes with the rule, priority, source and time it carries', async (t) => {
  const fixtures = falcoFixtures()
  t.equal(fixtures.length, 31)
  for (const { file, body } of fixtures) {
    const raw = JSON.parse(body)
    const event = parse(body)
    t.equal(event.rule, raw.rule, `${file}: rule`)
    t.equal(event.priority.toLowerCase(), raw.priority.toLowerCase(), `${file}: priority`)
    t.equal(event.source, raw.source, `${file}: source`)
    t.equal(event.time, raw.time, `${file}: time kept with its nanoseconds`)
    t.equal(event.hostname, raw.hostname, `${file}: hostname`)
    t.same(event.tags, raw.tags ?? [], `${file}: tags`)
    t.same(Object.keys(event.fields).sort(), Object.keys(raw.output_fields).sort(), `${file}: field keys kept literally`)
  }
})

t.test('evt.time above 2^53 is kept exactly, not rounded by JSON.parse', async (t) => {
  const event = parse(falcoFixture('01-').body)
  t.equal(event.fields['evt.time'], '1785402843512345678')
  t.not(String(JSON.parse(falcoFixture('01-').body).output_fields['evt.time']), '1785402843512345678', 'JSON.parse would have rounded it')
})

t.test('workload, container and process come from the suggested output fields', async (t) => {
  const event = parse(falcoFixture('01-').body)
  t.same(event.workload, {
    node: 'ip-10-0-12-34.eu-west-1.compute.internal',
    namespace: 'shop',
    pod: 'cart-api-7d9c6b7b9c-x2x8k',
    container: {
      id: '3ad7b26ded6d',
      name: 'cart-api',
      imageRepository: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api',
      imageTag: '2.14.3',
    },
  })
  t.same(event.process, { name: 'bash', executable: '/usr/bin/bash', commandLine: 'bash', parentName: 'runc', user: 'root', uid: 0, loginUid: -1 })
})

t.test('a host process has no container and no Kubernetes workload', async (t) => {
  const event = parse(falcoFixture('11-').body)
  t.equal(event.workload.container, undefined)
  t.equal(event.workload.pod, undefined)
  t.equal(event.workload.namespace, undefined)
})

t.test('k8s_audit alerts carry the actor and list fields as arrays', async (t) => {
  const event = parse(falcoFixture('29-').body)
  t.equal(event.source, 'k8s_audit')
  t.equal(event.actor?.username, 'kubernetes-admin')
  t.same(event.fields['ka.req.binding.subjects'], ['{"kind":"ServiceAccount","name":"ci-deployer","namespace":"ci"}'])
})

t.test('the internal event (no tags, string fields) normalizes', async (t) => {
  const event = parse(falcoFixture('31-').body)
  t.equal(event.source, 'internal')
  t.same(event.tags, [])
  t.equal(event.priority, 'Debug')
  t.equal(event.fields.n_drops, '18234')
})

t.test('priorities match case-insensitively, and Info means Informational', async (t) => {
  const base = JSON.parse(falcoFixture('01-').body)
  const cases: Array<[string, string]> = [
    ['WARNING', 'Warning'],
    ['critical', 'Critical'],
    ['Info', 'Informational'],
    ['informational', 'Informational'],
    ['EMERGENCY', 'Emergency'],
  ]
  for (const [given, expected] of cases) {
    t.equal(normalizeFalcoAlert({ ...base, priority: given }).priority, expected, given)
  }
})

t.test('invalid alerts are refused with the reason', async (t) => {
  const base = JSON.parse(falcoFixture('01-').body)
  const cases: Array<[string, unknown, RegExp]> = [
    ['no rule', { ...base, rule: undefined }, /"rule" is missing/],
    ['empty rule', { ...base, rule: '  ' }, /"rule" is missing/],
    ['unknown priority', { ...base, priority: 'Severe' }, /"priority" "Severe" is not one of/],
    ['missing priority', { ...base, priority: undefined }, /"priority" null/],
    ['bad time', { ...base, time: 'yesterday' }, /"time" "yesterday" is not an RFC 3339/],
    ['impossible date', { ...base, time: '2026-13-45T99:00:00Z' }, /"time"/],
    ['30 February', { ...base, time: '2026-02-30T10:00:00.000000000Z' }, /not a calendar date/],
    ['output_fields not an object', { ...base, output_fields: [1] }, /"output_fields" must be an object/],
    ['tags not strings', { ...base, tags: [1] }, /"tags" must be an array of strings/],
    ['not an object', 'alert', /must be a JSON object/],
  ]
  for (const [name, alert, message] of cases) {
    t.throws(() => normalizeFalcoAlert(alert), { constructor: InvalidAlertError, message }, name)
  }
})

t.test('a time with an offset is converted to UTC', async (t) => {
  const base = JSON.parse(falcoFixture('01-').body)
  t.equal(normalizeFalcoAlert({ ...base, time: '2026-07-30T11:14:03.5+02:00' }).time, '2026-07-30T09:14:03.500000000Z')
})

t.test('__proto__ keys never survive parsing', async (t) => {
  const parsed = parseJsonLossless('{"rule":"r","__proto__":{"polluted":true},"output_fields":{"__proto__":{"x":1}}}') as Record<string, any>
  t.notOk(Object.hasOwn(parsed, '__proto__'))
  t.notOk(Object.hasOwn(parsed.output_fields, '__proto__'))
  t.equal(({} as any).polluted, undefined)
})

t.test('nanosecond timestamps become RFC 3339 with full precision', async (t) => {
  t.equal(nanosToIso('1785402843512345678'), '2026-07-30T09:14:03.512345678Z')
  t.equal(nanosToIso(0), undefined)
  t.equal(nanosToIso('abc'), undefined)
})

/** normalizeTime as it was before its fast path for canonical times on a day already checked. */
function referenceTime(value: string): string | Error {
  const m = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/i.exec(value)
  if (!m || Number.isNaN(Date.parse(value))) return new Error('not RFC 3339')
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return new Error('not a calendar date')
  const time = canonicalTime(value)
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/.test(time) || time < '1970') return new Error('out of range')
  return time
}

t.test('times: the fast path for a canonical time on the day just checked gives what the full check gives', async (t) => {
  const base = JSON.parse(falcoFixture('01-').body)
  const timeOf = (time: string): string | Error => {
    try {
      return normalizeFalcoAlert({ ...base, time }).time
    } catch (err) {
      return err as Error
    }
  }
  const two = (n: number) => String(n).padStart(2, '0')
  const day = fc.tuple(fc.constantFrom(1969, 1970, 2024, 2026, 9999), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 })).map(([y, m, d]) => `${y}-${two(m)}-${two(d)}`)
  const clock = fc.tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.stringMatching(/^\d{9}$/), fc.constantFrom('Z', 'z', '+00:00', '+02:00', '-00:30')).map(([h, m, s, ns, zone]) => `T${two(h)}:${two(m)}:${two(s)}.${ns}${zone}`)
  fc.assert(
    fc.property(day, clock, clock, (d, first, second) => {
      // The first time (maybe canonical and valid) decides the day the second is judged against.
      for (const time of [`${d}T00:00:00.000000000Z`, d + first, d + second]) {
        const got = timeOf(time)
        const want = referenceTime(time)
        t.equal(got instanceof Error, want instanceof Error, time)
        if (!(got instanceof Error)) t.equal(got, want, time)
      }
    }),
    { numRuns: 3_000 },
  )
})

t.test('times: 24:00 is the next midnight, on the fast path as on the full check; 9999-12-31T24:00 is year 10000', async (t) => {
  const base = JSON.parse(falcoFixture('01-').body)
  const timeOf = (time: string) => normalizeFalcoAlert({ ...base, time }).time
  t.equal(timeOf('2026-07-30T24:00:00.000000000Z'), '2026-07-31T00:00:00.000000000Z', 'the full check')
  t.equal(timeOf('2026-07-30T09:14:03.512345678Z'), '2026-07-30T09:14:03.512345678Z', 'remembers 2026-07-30')
  t.equal(timeOf('2026-07-30T24:00:00.000000000Z'), '2026-07-31T00:00:00.000000000Z', 'on the day remembered')
  t.equal(timeOf('2026-07-30T24:00:00Z'), '2026-07-31T00:00:00.000000000Z')
  t.throws(() => timeOf('2026-07-30T24:00:00.000000001Z'), /is not an RFC 3339 timestamp/)
  t.equal(timeOf('9999-12-31T23:59:59.999999999Z'), '9999-12-31T23:59:59.999999999Z', 'remembers 9999-12-31')
  t.throws(() => timeOf('9999-12-31T24:00:00.000000000Z'), /outside the years 1970 to 9999/)
})

/** The process as it was built before (a setter closure, then Object.keys): members, values and order. */
function referenceProcess(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  const str = (key: string) => {
    const v = fields[key]
    if (typeof v === 'string') return v === '' || v === '<NA>' ? undefined : v
    if (typeof v === 'number') return String(v)
    return undefined
  }
  const int = (key: string) => {
    const v = fields[key]
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : Number.NaN
    return Number.isSafeInteger(n) ? n : undefined
  }
  const p: Record<string, unknown> = {}
  const set = (k: string, v: unknown) => {
    if (v !== undefined) p[k] = v
  }
  set('name', str('proc.name'))
  set('executable', str('proc.exepath') ?? str('proc.exe'))
  set('commandLine', str('proc.cmdline'))
  set('pid', int('proc.pid'))
  set('parentPid', int('proc.ppid'))
  set('parentName', str('proc.pname'))
  set('user', str('user.name'))
  set('uid', int('user.uid'))
  set('loginUid', int('user.loginuid'))
  return Object.keys(p).length > 0 ? p : undefined
}

t.test('the process is the one the former construction gave: members, values and their order', async (t) => {
  const key = fc.constantFrom('proc.name', 'proc.exepath', 'proc.exe', 'proc.cmdline', 'proc.pid', 'proc.ppid', 'proc.pname', 'user.name', 'user.uid', 'user.loginuid', 'k8s.pod.name')
  const value = fc.oneof(fc.constantFrom<unknown>('', '<NA>', '0', '-1', '12', '1.5', ' 1', '9007199254740993', 0, -1, 42, 1.5, 2 ** 53, true, null, ['1']), fc.string({ maxLength: 4 }), fc.integer())
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { maxLength: 12 }), (entries) => {
      const fields = Object.fromEntries(entries)
      const event = normalizeFalcoAlert({ rule: 'r', priority: 'Notice', time: '2026-07-30T09:14:03.512345678Z', output_fields: fields })
      const want = referenceProcess(event.fields)
      return JSON.stringify(event.process) === JSON.stringify(want) && 'process' in event === (want !== undefined)
    }),
    { numRuns: 3_000 },
  )
  t.pass('every process matched')
})

t.test('tags: a list of strings is taken, anything else refused, as with Array.every', async (t) => {
  const holed = [, 'a'] // a hole, which every skips
  for (const tags of [[], ['a', 'b'], ['a', 1], [null], holed, [undefined], ['a', ['b']]] as unknown[][]) {
    const alert = { rule: 'r', priority: 'Notice', time: '2026-07-30T09:14:03.512345678Z', tags }
    const accepted = tags.every((x) => typeof x === 'string')
    if (accepted) t.same(normalizeFalcoAlert(alert).tags, tags, JSON.stringify(tags))
    else t.throws(() => normalizeFalcoAlert(alert), /"tags" must be an array of strings/, JSON.stringify(tags))
  }
})
