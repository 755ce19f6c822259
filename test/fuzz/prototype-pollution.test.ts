import t from 'tap'
import fc from 'fast-check'
import { encode } from '@msgpack/msgpack'
import { fuzz } from '../support/fuzz-settings.js'
import { answerProblems, fuzzApp, globalPollution, prototypeProblems, type FuzzApp } from '../support/fuzz-harness.js'
import { described, fixtures } from '../support/fuzz-arbitraries.js'

/**
 * `__proto__`, `constructor` and `prototype` keys at every level of every format (JSON and
 * msgpack; Falco alerts with their output_fields and tags, Fluent Bit records of each shape,
 * GELF's flattened keys, audit events with their objectRef): nothing global changes, nothing
 * handed past the parsers has a re-pointed prototype or a key that could re-point one, and the
 * findings stored carry none either.
 */

/** What a poisoned key holds: objects that would lend their keys (a Falco alert's among them). */
const POISON_VALUES = ['{"polluted":"yes"}', '{"polluted":"yes","rule":"Injected","priority":"Critical","output":"injected","time":"2026-11-21T10:00:00Z","auditID":"injected","verb":"delete"}', '["polluted"]', '{"prototype":{"polluted":"yes"}}', '{"toString":1,"valueOf":1}', '"polluted"', 'null']
/** `__proto__` as JSON may spell it: escapes decode to the same key. */
const POISON_KEYS = ['"__proto__"', '"\\u005f\\u005fproto\\u005f\\u005f"', '"constructor"', '"prototype"', '"___proto__"', '"_kubernetes___proto__"', '"_kubernetes_labels___proto__"']

/** A parsed fixture written back as JSON text with one poisoned key in the `at`-th object. */
function poisoned(fixture: unknown, at: number, key: string, value: string): string {
  const objects = countObjects(fixture)
  const target = objects === 0 ? -1 : at % objects
  let index = 0
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
    const here = index++ === target
    const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`)
    if (here) entries.splice(at % (entries.length + 1), 0, `${key}:${value}`)
    return `{${entries.join(',')}}`
  }
  return write(fixture)
}

function countObjects(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + countObjects(x), 0)
  if (v !== null && typeof v === 'object') return 1 + Object.values(v).reduce((n: number, x) => n + countObjects(x), 0)
  return 0
}

const poison = fc.record({ at: fc.nat(), key: fc.constantFrom(...POISON_KEYS), value: fc.constantFrom(...POISON_VALUES) })
const falcoAlert = fc.constantFrom(...fixtures.falcoAlerts)
const auditEvent = fc.constantFrom(...fixtures.auditEvents)

/** Falco alerts in each record shape Fluent Bit delivers them in, and audit events in records. */
const fluentBitRecord = fc.oneof(
  falcoAlert.map((a) => ({ record: a })),
  falcoAlert.map((a) => ({ record: { log: a, stream: 'stdout', kubernetes: { namespace_name: 'falco', labels: { app: 'falco' } } } })),
  auditEvent.map((e) => ({ record: e })),
  auditEvent.map((e) => ({ record: { log: e, kubernetes: { namespace_name: 'kube-system' } } })),
  fc.constant({ record: { log: 'sshd[7]: Failed password for root from 203.0.113.9', kubernetes: { host: 'node-1', labels: { a: 'b' } } } }),
)

const cases = fc
  .oneof(
    fc.record({ alert: falcoAlert, poison }).map(({ alert, poison: p }) => ({ url: '/falco', type: 'application/json', body: poisoned(alert, p.at, p.key, p.value) })),
    fc.record({ event: auditEvent, poison, list: fc.boolean() }).map(({ event, poison: p, list }) => ({
      url: '/k8s-audit',
      type: 'application/json',
      body: poisoned(list ? { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [event] } : event, p.at, p.key, p.value),
    })),
    fc.record({ r: fluentBitRecord, poison, layout: fc.constantFrom('json', 'json_lines', 'log-text') }).map(({ r, poison: p, layout }) => {
      if (layout === 'log-text') {
        // The alert as Falco wrote it to stdout: JSON text inside the record's `log`, parsed losslessly later.
        const inner = poisoned(r.record, p.at, p.key, p.value)
        return { url: '/fluent-bit', type: 'application/x-ndjson', body: JSON.stringify({ log: inner, stream: 'stdout' }) }
      }
      const text = poisoned(r.record, p.at, p.key, p.value)
      return { url: '/fluent-bit', type: layout === 'json' ? 'application/json' : 'application/x-ndjson', body: layout === 'json' ? `[${text}]` : text }
    }),
    fc.record({ key: fc.constantFrom(...POISON_KEYS), value: fc.constantFrom(...POISON_VALUES) }).map(({ key, value }) => ({
      url: '/fluent-bit',
      type: 'application/json',
      body: `{"version":"1.1","host":"node-1","short_message":"sshd[1]: Failed password for root","timestamp":1795255200.5,"_kubernetes_namespace_name":"prod",${key}:${value}}`,
    })),
    // msgpack: the same poisoned records, encoded with the key as an ordinary map key.
    fc.record({ r: fluentBitRecord, poison }).map(({ r, poison: p }) => {
      const record = JSON.parse(poisoned(r.record, p.at, p.key, p.value)) as unknown
      const entry = [[1795255200, {}], record]
      return { url: '/fluent-bit', type: 'application/msgpack', body: Buffer.concat([Buffer.from(encode(entry)), Buffer.from(encode([[1795255201, {}], { log: 'after the poisoned entry' }]))]) }
    }),
  )
  .map((c) => ({ ...c, body: described(Buffer.from(c.body)) }))

let h: FuzzApp
t.before(async () => {
  h = await fuzzApp()
})
t.teardown(() => h.close())

t.test('poisoned keys at every level of every format: nothing polluted, nothing re-pointed', async (t) => {
  let accepted = 0
  const options = fuzz(600)
  await fc.assert(
    fc.asyncProperty(cases, async ({ url, type, body }) => {
      const res = await h.post(url, body, { 'content-type': type })
      if (res.statusCode === 200) accepted++
      const problems = [...answerProblems(res), ...globalPollution(), ...h.takeProblems()]
      if (problems.length > 0) throw new Error(problems.join('\n'))
    }),
    options,
  )
  t.ok(accepted / options.numRuns! > 0.8, `the poisoned bodies were read, not refused (${accepted} accepted)`)
  const stored = h.findings()
  t.ok(stored.length > 20, `findings were produced (${stored.length})`)
  t.same(
    stored.flatMap((f) => prototypeProblems(f, 'finding')),
    [],
    'the stored findings carry plain objects only',
  )
  t.notOk(
    stored.some((f) => f.event.rule === 'Injected'),
    'no finding was made from keys lent by a prototype',
  )
  t.same(
    h.outbox().flatMap((item) => prototypeProblems(item, 'outbox')),
    [],
    'the stored audit events too',
  )
})
