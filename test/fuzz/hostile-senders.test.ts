import t from 'tap'
import fc from 'fast-check'
import { fuzzApp, expectAnswer, type FuzzApp } from '../support/fuzz-harness.js'
import { fuzz } from '../support/fuzz-settings.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_POD } from '../support/fluent-bit.js'
import { parseMatcher } from '../../src/route/matchers.js'
import { fold } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'
import { IMPERSONATION_RULE } from '../../src/sources/fluent-bit/impersonation.js'

/** Issue 15's attacks as properties: forged Falco records, future dates, catastrophic regexes. */
const JSON_TYPE = { 'content-type': 'application/json' }
const alert = JSON.parse(falcoFixture('01-').body) as Record<string, unknown>
const RFC3339_1970_9999 = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/

let h: FuzzApp
t.before(async () => {
  h = await fuzzApp()
})
t.teardown(() => h.close())

const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/)
/** The kubernetes map of any pod but Falco's: another namespace, another container, or a wrong label. */
const notFalco = fc.record({ namespace_name: label, pod_name: label, container_name: fc.oneof(fc.constant('falco'), label), labels: fc.dictionary(label, label, { maxKeys: 3 }), host: label }).filter((k) => k.namespace_name !== 'falco' || k.container_name !== 'falco')

t.test("a Falco alert in any pod's log but Falco's is never that alert: 200, the impersonation finding", async (t) => {
  await fc.assert(
    fc.asyncProperty(notFalco, fc.boolean(), async (kubernetes, merged) => {
      const rule = `forged ${kubernetes.pod_name}`
      const a = { ...alert, rule, time: new Date().toISOString() }
      const record = merged ? { ...a, kubernetes } : { log: JSON.stringify(a), kubernetes }
      const res = await h.post('/fluent-bit', JSON.stringify([record]), JSON_TYPE)
      expectAnswer(res)
      return res.statusCode === 200 && !h.findings().some((f) => f.event.rule === rule)
    }),
    fuzz(150),
  )
  t.ok(h.findings().some((f) => f.event.rule === IMPERSONATION_RULE))
})

const futureTime = fc.integer({ min: 6 * 60_000, max: 253_402_300_799_000 - Date.now() - 86_400_000 }).map((ahead) => new Date(Date.now() + ahead).toISOString())

t.test('a time beyond the skew: Falco gets 400 with the reason, Fluent Bit drops the record; every time written is RFC 3339 in 1970-9999', async (t) => {
  await fc.assert(
    fc.asyncProperty(futureTime, async (time) => {
      const rule = `future ${time}`
      const direct = await h.post('/falco', JSON.stringify({ ...alert, rule, time }), JSON_TYPE)
      expectAnswer(direct)
      const viaFluentBit = await h.post('/fluent-bit', JSON.stringify([{ log: JSON.stringify({ ...alert, rule, time }), kubernetes: FALCO_POD }]), JSON_TYPE)
      expectAnswer(viaFluentBit)
      return direct.statusCode === 400 && /ahead of falconet's clock/.test(direct.json().message) && viaFluentBit.statusCode === 200 && viaFluentBit.json().events === 0
    }),
    fuzz(150),
  )
  for (const f of h.findings()) for (const time of [f.updatedAt, f.firstObservedAt, f.lastObservedAt, f.event.time]) t.match(time, RFC3339_1970_9999)
})

t.test('catastrophic patterns on hostile text always answer (RE2: linear time)', async (t) => {
  const patterns = ['(a+)+', '(a|a)*', '(a|aa)+', '(.*a){10}', '(\\w+\\s?)*$']
  const matchers = patterns.map((p) => parseMatcher(`rule =~ "${p}"`))
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom('!', 'b', ' ', '', '\u00e9'), (n, tail) => {
      const finding = fold(undefined, testEvent(1, { rule: 'a'.repeat(n) + tail }), 'id', { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 1000 })
      for (const m of matchers) m(finding) // must return; a backtracking engine never would for large n
      return true
    }),
    fuzz(200),
  )
  t.pass('every evaluation returned')
})
