import t from 'tap'
import { gzipSync } from 'node:zlib'
import { encode } from '@msgpack/msgpack'
import { expectAnswer, fuzzApp, type FuzzApp } from '../support/fuzz-harness.js'
import { mp } from '../support/fuzz-arbitraries.js'
import { falcoFixture } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { CUT_MARKER, MAX_NESTING } from '../../src/model/nesting.js'
import { decodeBody } from '../../src/sources/fluent-bit/decode.js'
import { asHttpError } from '../../src/sources/content-encoding.js'
import { readAuditBody } from '../../src/sources/k8s-audit-webhook.js'
import { FALCO_POD } from '../support/fluent-bit.js'

/** The exact inputs the fuzzing found mishandled, each with the answer it gets now. */

const JSON_TYPE = { 'content-type': 'application/json' }
const MSGPACK_TYPE = { 'content-type': 'application/msgpack' }
const alert = JSON.parse(falcoFixture('01-').body) as Record<string, unknown>
const ssh = 'sshd[7]: Failed password for root from 203.0.113.9 port 52113 ssh2'

let h: FuzzApp
t.beforeEach(async () => {
  h = await fuzzApp()
})
t.afterEach(() => h.close())

t.test('k8s-audit: a CloudWatch logEvents entry that is null is skipped (was a 500)', async (t) => {
  const res = await h.post('/k8s-audit', '{"messageType":"DATA_MESSAGE","logStream":"kube-apiserver-audit-1","logEvents":[null,5,"x"]}', JSON_TYPE)
  expectAnswer(res)
  t.same(res.json(), { accepted: 0, duplicates: 0, findings: 0 })
})

t.test('k8s-audit: a logEvents message that is an object with a non-function toString is skipped (was a 500)', async (t) => {
  const res = await h.post('/k8s-audit', '{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":{"toString":1}}]}', JSON_TYPE)
  expectAnswer(res)
  t.equal(res.statusCode, 200)
})

t.test('k8s-audit: an EventList whose items is not a list is refused with the reason (was 200, nothing read)', async (t) => {
  for (const items of ['5', '"x"', '{}', 'true']) {
    const res = await h.post('/k8s-audit', `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":${items}}`, JSON_TYPE)
    expectAnswer(res)
    t.equal(res.statusCode, 400, `items ${items}`)
    t.match(res.json().message, /EventList items is \w+, not an array/)
  }
  const empty = await h.post('/k8s-audit', '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":null}', JSON_TYPE)
  t.same(empty.json(), { accepted: 0, duplicates: 0, findings: 0 }, "Go's empty list (items: null) is an empty list")
})

/** An audit event with a request body nested `depth` levels deep. */
const deepAuditEvent = (auditID: string, depth: number) =>
  `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"${auditID}","stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"default","name":"deep"},"requestObject":{"kind":"ConfigMap","data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`

t.test('an audit event nested 5,000 levels deep is taken, cut at the limit (was a 500: the spool encoder overflowed)', async (t) => {
  const webhook = await h.post('/k8s-audit', deepAuditEvent('deep-webhook', 5000), JSON_TYPE)
  expectAnswer(webhook)
  t.same(webhook.json(), { accepted: 1, duplicates: 0, findings: 0 })
  const fluentBit = await h.post('/fluent-bit', `{"log":${deepAuditEvent('deep-fluent-bit', 5000)}}`, JSON_TYPE)
  expectAnswer(fluentBit)
  t.match(fluentBit.json(), { records: 1, auditEvents: 1 })
  const envelope = { messageType: 'DATA_MESSAGE', logStream: 'kube-apiserver-audit-1', logEvents: [{ id: '1', timestamp: 1, message: deepAuditEvent('deep-cloudwatch', 5000) }] }
  const cloudwatch = await h.post('/k8s-audit', JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(envelope)).toString('base64') } }), JSON_TYPE)
  t.same(cloudwatch.json(), { accepted: 1, duplicates: 0, findings: 0 })

  const stored = h.outbox().map((i) => i.value as { auditID: string; requestObject: unknown })
  t.same(stored.map((e) => e.auditID).sort(), ['deep-cloudwatch', 'deep-fluent-bit', 'deep-webhook'])
  for (const e of stored) {
    let depth = 1 // the event
    let node: unknown = e.requestObject
    while (typeof node === 'object' && node !== null) {
      depth++
      node = Object.values(node).at(-1)
    }
    t.equal(node, CUT_MARKER, `${e.auditID}: the cut is marked`)
    t.equal(depth, MAX_NESTING, `${e.auditID}: kept to ${MAX_NESTING} levels`)
  }
})

t.test('an audit event with fields of other types makes findings of the declared types (objects and numbers reached the finding)', async (t) => {
  const event = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    auditID: 'odd-types',
    stage: 'ResponseComplete',
    verb: 'create',
    requestURI: '/api/v1/namespaces/default/pods',
    user: { username: 5, groups: 'system:masters', extra: { arn: 'not-a-list' } },
    sourceIPs: '203.0.113.7',
    userAgent: 7,
    objectRef: { resource: 'pods', namespace: {}, name: ['web'] },
    responseStatus: { code: '201' },
    annotations: { 'authorization.k8s.io/decision': 5 },
    stageTimestamp: 12,
    requestObject: { kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] } },
  }
  const res = await h.post('/k8s-audit', JSON.stringify(event), JSON_TYPE)
  t.same(res.json(), { accepted: 1, duplicates: 0, findings: 1 }, 'the privileged pod is still reported')
  t.same(h.takeProblems(), [], "the finding's event has the declared types")
  const [finding] = h.findings()
  t.equal(finding!.event.actor?.username, 'unknown')
  t.equal(finding!.event.workload.namespace, undefined)
})

t.test('Fluent Bit: a Falco alert whose output_fields holds "__proto__": [...] keeps plain fields (the array became their prototype)', async (t) => {
  // No integer beyond 2^53 in it: such an alert is re-read losslessly, which dropped the key before.
  const text = JSON.stringify({ ...alert, output_fields: { 'proc.name': 'bash', 'k8s.ns.name': 'shop' } }).replace('"output_fields":{', '"output_fields":{"__proto__":["k8s.ns.name"],')
  const res = await h.post('/fluent-bit', text, JSON_TYPE)
  t.match(res.json(), { records: 1, events: 1 })
  t.same(h.takeProblems(), [])
  const [finding] = h.findings()
  t.equal(Object.getPrototypeOf(finding!.event.fields), Object.prototype)
})

t.test('GELF: "___proto__" (the `_` prefix on "__proto__") lends no keys to the record (it could forge a Falco alert)', async (t) => {
  const gelf = '{"version":"1.1","host":"node-1","short_message":"hello","timestamp":1795255200.5,"___proto__":{"rule":"Injected","priority":"Critical","output":"injected","time":"2026-11-21T10:00:00Z"}}'
  const res = await h.post('/fluent-bit', gelf, JSON_TYPE)
  t.match(res.json(), { records: 1, events: 0 }, 'no Falco event made of inherited keys')
  t.same(h.takeProblems(), [])
  const labels = '{"version":"1.1","short_message":"x","_kubernetes___proto__":{"namespace_name":"kube-system"},"_kubernetes_labels___proto__":{"app":"x"}}'
  t.match((await h.post('/fluent-bit', labels, JSON_TYPE)).json(), { records: 1 })
  t.same(h.takeProblems(), [])
})

t.test('msgpack: a record with a "__proto__" key costs itself, not the Falco alert after it (the rest of the chunk was dropped)', async (t) => {
  const chunk = Buffer.concat([
    mp.array([
      mp.array([mp.eventTime(1795255200, 0), mp.map([])]),
      mp.map([
        [mp.value('__proto__'), mp.value(1)],
        [mp.value('log'), mp.value('{"__proto__":1}')],
      ]),
    ]),
    Buffer.from(encode([[1795255201, {}], { log: JSON.stringify(alert), stream: 'stdout' }])),
  ])
  const res = await h.post('/fluent-bit', chunk, MSGPACK_TYPE)
  t.match(res.json(), { records: 1, events: 1, malformed: 1 })
})

t.test('msgpack: odd extensions and keys cost their own entry only (the rest of the chunk was dropped)', async (t) => {
  const sshRecord = mp.map([[mp.value('log'), mp.value(ssh)]])
  const bad = [
    mp.array([mp.array([mp.ext(0, Buffer.alloc(7)), mp.map([])]), sshRecord]), // EventTime of 7 bytes
    mp.array([mp.array([mp.ext(-1, Buffer.alloc(3)), mp.map([])]), sshRecord]), // msgpack timestamp of 3 bytes
    mp.array([mp.value(1795255200), mp.map([[mp.array([]), mp.value(1)]])]), // a map keyed by an array
  ]
  const good = mp.array([mp.array([mp.eventTime(1795255200, 5), mp.map([])]), sshRecord])
  const res = await h.post('/fluent-bit', Buffer.concat([...bad, good]), MSGPACK_TYPE)
  t.match(res.json(), { records: 1, events: 1, malformed: 3 })
})

t.test('msgpack: a timestamp beyond what a Date holds leaves the record without a time (it made the record invalid)', async (t) => {
  const res = await h.post('/fluent-bit', Buffer.from(encode([1e300, { log: ssh }])), MSGPACK_TYPE)
  t.match(res.json(), { records: 1, events: 1 })
})

t.test('a time past year 9999 after its offset is refused (it became "+010000-…", which sorts before every real time)', async (t) => {
  const res = await h.post('/falco', JSON.stringify({ ...alert, time: '9999-12-31T23:59:59-23:59' }), JSON_TYPE)
  expectAnswer(res)
  t.equal(res.statusCode, 400)
  t.match(res.json().message, /outside the years 1970 to 9999/)
  const fluentBit = await h.post('/fluent-bit', JSON.stringify({ date: 2.6e14, log: ssh }), JSON_TYPE)
  t.match(fluentBit.json(), { events: 1 })
  t.match(h.findings()[0]!.event.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/, 'a Fluent Bit date past 9999 is no time (now), not "+010208-…"')
})

t.test('a number JSON cannot hold (1e400) in output_fields is kept as its text (it was Infinity, which JSON writes as null)', async (t) => {
  const text = (rule: string) => JSON.stringify({ ...alert, rule, output_fields: { x: 0 } }).replace('"x":0', '"huge":1e400,"list":[-1e400]')
  t.equal((await h.post('/falco', text('via Falco'), JSON_TYPE)).statusCode, 200)
  // With the Falco pod's metadata, as the kubernetes filter adds it: records without are refused.
  const fromFalcoPod = text('via Fluent Bit').replace('{', `{"kubernetes":${JSON.stringify(FALCO_POD)},`)
  t.match((await h.post('/fluent-bit', `[${fromFalcoPod}]`, JSON_TYPE)).json(), { events: 1 })
  t.same(h.takeProblems(), [])
  const fields = (rule: string) => h.findings().find((f) => f.event.rule === rule)!.event.fields
  t.same([fields('via Falco').huge, fields('via Falco').list], ['1e400', ['-1e400']], 'read losslessly: the text')
  t.same([fields('via Fluent Bit').huge, fields('via Fluent Bit').list], ['Infinity', ['-Infinity']], 'read by JSON.parse: what it made of it')
})

t.test('an audit time past year 9999 after its offset is no time (the finding\'s time became "+010000-…")', async (t) => {
  const event = { ...(auditFixture('exec_pod.json')[0] as object), auditID: 'far-future', stageTimestamp: '9999-12-31T23:59:59-23:59', requestReceivedTimestamp: '9999-12-31T23:59:59-23:59' }
  t.match((await h.post('/k8s-audit', JSON.stringify(event), JSON_TYPE)).json(), { accepted: 1, findings: 1 })
  t.same(h.takeProblems(), [])
  t.match(h.findings()[0]!.event.time, /^\d{4}-/)
})

t.test("Falco: 100,000 `[` is refused as nested too deep, not with the parser's stack overflow", async (t) => {
  const res = await h.post('/falco', '['.repeat(100_000), JSON_TYPE)
  expectAnswer(res)
  t.equal(res.statusCode, 400)
  t.match(res.json().message, /nested deeper than 256 levels/)
})

t.test('Firehose: one record holding 150,000 events is read (spreading them overflowed the stack: a 500)', async (t) => {
  const items = Array.from({ length: 150_000 }, (_, i) => `{"auditID":"f${i}","verb":"get","stage":"RequestReceived"}`).join(',')
  const data = gzipSync(`{"kind":"EventList","items":[${items}]}`).toString('base64')
  const res = await h.post('/k8s-audit', JSON.stringify({ requestId: 'r-1', timestamp: 1, records: [{ data }] }), JSON_TYPE)
  expectAnswer(res)
  t.match(res.json(), { accepted: 150_000, requestId: 'r-1' })
})

t.test('a body past the longest string V8 holds (a body limit raised past 512 MB) is a 413, not a 500', async (t) => {
  const huge = Buffer.alloc(2 ** 29 + 100) // zero pages: toString refuses it before reading a byte
  let refusal: unknown
  try {
    decodeBody(huge, 'application/json', { dateKey: 'date' })
  } catch (err) {
    refusal = asHttpError(err)
  }
  t.match(refusal, { statusCode: 413, code: 'FALCONET_ERR_BODY_TOO_LARGE' }, 'Fluent Bit')
  await t.rejects(readAuditBody(huge, undefined, 2 ** 30), { statusCode: 413, code: 'FALCONET_ERR_BODY_TOO_LARGE' }, 'k8s-audit')
})

t.test('Falco: a rule named like an Object.prototype member ("constructor", "toString") is a finding like any other (keyFields lookup threw)', async (t) => {
  for (const rule of ['constructor', 'toString', 'hasOwnProperty']) {
    const res = await h.post('/', JSON.stringify({ ...alert, rule }), JSON_TYPE)
    expectAnswer(res)
    t.equal(res.statusCode, 200, `${rule}: accepted`)
  }
  // The same names as Falco internal events (graded by a rule → priority table).
  const internal = await h.post('/', JSON.stringify({ ...alert, rule: 'constructor', source: 'internal', output_fields: {} }), JSON_TYPE)
  t.equal(internal.statusCode, 200, 'internal "constructor": accepted')
  t.same(h.takeProblems(), [])
  t.same(
    h
      .findings()
      .map((f) => f.event.rule)
      .sort(),
    ['constructor', 'constructor', 'hasOwnProperty', 'toString'],
  )
})
