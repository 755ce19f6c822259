import t from 'tap'
import { encode } from '@msgpack/msgpack'
import { appWithSpool } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_POD } from '../support/fluent-bit.js'

/** Regressions from review: odd records never fail a chunk; resends of audit-only chunks; shapes. */
const post = (h: { app: any }, payload: Buffer | string, type = 'application/json') => h.app.inject({ method: 'POST', url: '/fluent-bit', headers: { 'content-type': type }, payload })
const withBigInt = falcoFixture('01-').body

t.test('an odd record costs itself, never the chunk (no 500 that makes Fluent Bit drop good records)', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const chunks = [
    `[{"date":1.5e9,"date":1.6e9,${withBigInt.slice(1)}, {"log":"fine"}]`, // duplicate keys + a Falco alert beyond 2^53
    JSON.stringify([{ date: 1e17, log: 'sshd[1]: Failed password for root from 203.0.113.1 port 22 ssh2' }, { log: 'fine' }]), // out-of-range date
    JSON.stringify([{ kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'odd-1', verb: 'create', stage: 'ResponseComplete', objectRef: { resource: 'clusterrolebindings', name: 'x' }, user: { username: 'alice' }, requestObject: { subjects: 'x', roleRef: 5 } }]),
  ]
  for (const body of chunks) {
    const res = await post(h, Buffer.from(body))
    t.equal(res.statusCode, 200, body.slice(0, 60))
  }
})

t.test('a json_stream chunk of 150,000 small records does not overflow the stack', async (t) => {
  const h = await appWithSpool({ sources: { fluentBit: { bodyLimitBytes: 64 * 1024 * 1024 } } })
  t.teardown(() => h.close())
  const body = '{"log":"x"}'.repeat(150_000)
  const res = await post(h, Buffer.from(body))
  t.equal(res.statusCode, 200)
  t.equal(res.json().records, 150_000)
})

t.test('a resent chunk that holds only audit events is not counted again', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const exec = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    auditID: 'only-audit',
    verb: 'create',
    stage: 'ResponseStarted',
    user: { username: 'alice', groups: [] },
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'x' },
    responseStatus: { code: 101 },
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  }
  const body = Buffer.from(JSON.stringify([exec]))
  t.match((await post(h, body)).json(), { auditEvents: 1 })
  t.match((await post(h, body)).json(), { duplicate: true })
  t.equal(h.queued()[0]!.count, 1)
})

t.test("a Falco alert whose time went into the record's timestamp (Time_Key time) is still an alert", async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const alert = JSON.parse(falcoFixture('03-').body)
  delete alert.time
  const res = await post(h, Buffer.from(JSON.stringify([{ date: 1785402843.512345, ...alert, kubernetes: FALCO_POD }])))
  t.match(res.json(), { events: 1 })
  t.equal(h.queued()[0]!.event.time, '2026-07-30T09:14:03.512000000Z')
})

t.test('msgpack group markers (timestamps -1 / -2) are not records', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const body = Buffer.concat([encode([[-1, {}], { resource: {} }]), encode([[1785402843, {}], { log: 'a' }]), encode([[-2, {}], {}])])
  t.match((await post(h, body, 'application/msgpack')).json(), { records: 1, malformed: 0 })
})

t.test('audit events under log_processed or data are found too', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const e = { kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'nested', verb: 'get', stage: 'ResponseComplete', user: { username: 'alice' }, objectRef: { resource: 'pods' } }
  t.match((await post(h, Buffer.from(JSON.stringify([{ log_processed: e }, { data: JSON.stringify({ ...e, auditID: 'nested-2' }) }])))).json(), { auditEvents: 2 })
})

t.test('a log-rule matcher must have exactly one of regex or equals', async (t) => {
  await t.rejects(appWithSpool({ sources: { fluentBit: { logRules: [{ name: 'x', match: [{ field: 'log' }] }] } } }), /exactly one of regex or equals/)
})
