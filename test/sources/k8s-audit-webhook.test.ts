import t from 'tap'
import { gzipSync } from 'node:zlib'
import { appWithSpool } from '../support/app.js'
import { auditFixture } from '../support/audit.js'

const exec = auditFixture('exec_pod.json')[0]!
const privileged = auditFixture('create_nginx_pod_privileged.json')[0]!
const post = (h: { app: any }, payload: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/json' }) => h.app.inject({ method: 'POST', url: '/k8s-audit', headers, payload })

t.test('an EventList, as the API server webhook backend and Falco k8saudit send it', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const res = await post(h, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [exec, privileged] }))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { accepted: 2, duplicates: 0, findings: 2 })
  t.same(
    h
      .queued()
      .map((f) => f.event.rule)
      .sort(),
    ['Exec into a pod', 'Privileged container created'],
  )
})

t.test('a single Event; the same auditID again is a duplicate, detected once', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  t.same((await post(h, JSON.stringify(exec))).json(), { accepted: 1, duplicates: 0, findings: 1 })
  t.same((await post(h, JSON.stringify(exec))).json(), { accepted: 1, duplicates: 1, findings: 0 })
  t.equal(h.queued()[0]!.count, 1)
  await post(h, JSON.stringify({ ...exec, auditID: 'second-exec' }))
  t.same(h.queued()[0]!.auditIds, [exec.auditID, 'second-exec'], 'the finding names the audit events it is built from')
})

t.test('CloudWatch Logs subscription payloads: awslogs.data (Lambda-style) and the gzip envelope (Firehose-style)', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const envelope = {
    messageType: 'DATA_MESSAGE',
    owner: '111122223333',
    logGroup: '/aws/eks/prod-eu/cluster',
    logStream: 'kube-apiserver-audit-0123456789abcdef',
    subscriptionFilters: ['falconet'],
    logEvents: [
      { id: '1', timestamp: 1795255200000, message: JSON.stringify(exec) },
      { id: '2', timestamp: 1795255200001, message: JSON.stringify({ ...privileged, auditID: 'other' }) },
    ],
  }
  const lambda = await post(h, JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(envelope)).toString('base64') } }))
  t.same(lambda.json(), { accepted: 2, duplicates: 0, findings: 2 })
  const firehose = await post(h, gzipSync(JSON.stringify({ ...envelope, logEvents: [{ id: '3', timestamp: 1, message: JSON.stringify({ ...exec, auditID: 'third' }) }] })), { 'content-type': 'application/octet-stream' })
  t.same(firehose.json(), { accepted: 1, duplicates: 0, findings: 1 })
  const control = await post(h, JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify({ messageType: 'CONTROL_MESSAGE', logEvents: [] })).toString('base64') } }))
  t.same(control.json(), { accepted: 0, duplicates: 0, findings: 0 }, "CloudWatch's control message")
})

t.test('subscription payloads: other streams of the log group are skipped (200), truncated events become findings, Firehose HTTP format', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const authenticator = { messageType: 'DATA_MESSAGE', logGroup: '/aws/eks/prod-eu/cluster', logStream: 'authenticator-0123', logEvents: [{ id: '1', timestamp: 1, message: 'time="2026-11-21T10:00:00Z" level=info msg="access granted"' }] }
  const res = await post(h, JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(authenticator)).toString('base64') } }))
  t.equal(res.statusCode, 200, 'a well-formed envelope of another stream is not an error (the forwarder would retry it for ever)')
  t.same(res.json(), { accepted: 0, duplicates: 0, findings: 0 })
  // An event CloudWatch cut at 256 KB: invalid JSON, still reported.
  const big = JSON.stringify({ ...privileged, auditID: 'huge', requestObject: { padding: 'x'.repeat(300_000) } }).slice(0, 256 * 1024)
  const truncated = { messageType: 'DATA_MESSAGE', logStream: 'kube-apiserver-audit-0a1b', logEvents: [{ id: '9', timestamp: 1, message: big }] }
  const firehose = { requestId: 'req-123', timestamp: 1795255200000, records: [{ data: gzipSync(JSON.stringify(truncated)).toString('base64') }] }
  const fh = await post(h, JSON.stringify(firehose))
  t.equal(fh.statusCode, 200)
  t.match(fh.json(), { accepted: 1, findings: 1, requestId: 'req-123' })
  t.ok(h.queued().some((f) => f.event.rule === 'Audit event too large to analyse (truncated by CloudWatch)' && f.event.fields['ka.auditid'] === 'huge'))
})

t.test('Firehose with Content-Encoding GZIP: the requestId is still echoed', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const envelope = { messageType: 'DATA_MESSAGE', logStream: 'kube-apiserver-audit-0a1b', logEvents: [{ id: '1', timestamp: 1, message: JSON.stringify({ ...exec, auditID: 'fh-gz-1' }) }] }
  const firehose = { timestamp: 1795255200000, records: [{ data: gzipSync(JSON.stringify(envelope)).toString('base64') }], requestId: 'req-gz' } // requestId not first
  const res = await post(h, gzipSync(JSON.stringify(firehose)), { 'content-type': 'application/json', 'content-encoding': 'gzip' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { accepted: 1, requestId: 'req-gz' })
})

t.test('the decompression limit covers the whole request, not each record', async (t) => {
  const h = await appWithSpool({ sources: { k8sAudit: { bodyLimitBytes: 64 * 1024 } } })
  t.teardown(() => h.close())
  // Each record inflates to ~40 KB (under the limit alone), the body is a few KB: 4 of them are 160 KB.
  const envelope = { messageType: 'DATA_MESSAGE', logStream: 'kube-apiserver-audit-0a1b', logEvents: [{ id: '1', timestamp: 1, message: 'x'.repeat(40_000) }] }
  const record = { data: gzipSync(JSON.stringify(envelope)).toString('base64') }
  const one = await post(h, JSON.stringify({ requestId: 'r1', records: [record] }))
  t.equal(one.statusCode, 200, 'one record fits')
  const res = await post(h, JSON.stringify({ requestId: 'r2', records: [record, record, record, record] }))
  t.equal(res.statusCode, 413)
  t.match(res.json().message, /decompressed content is larger than 65536 bytes/)
})

t.test('malformed bodies get 400 with the reason', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const cases: Array<[string, Buffer | string, RegExp]> = [
    ['not JSON', '{"kind":', /not valid JSON/],
    ['not an audit event', JSON.stringify({ kind: 'Pod', metadata: {} }), /expected an audit.k8s.io EventList/],
    ['an EventList with a bad item', JSON.stringify({ kind: 'EventList', items: [exec, { verb: 'get' }] }), /items\[1\] is not an audit Event/],
    ['awslogs.data not gzip', JSON.stringify({ awslogs: { data: Buffer.from('plain').toString('base64') } }), /awslogs.data is not base64 gzip'd JSON/],
    ['corrupt gzip', Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]), /cannot gunzip/],
  ]
  for (const [name, body, message] of cases) {
    const res = await post(h, body)
    t.equal(res.statusCode, 400, name)
    t.match(res.json().message, message, name)
  }
  t.equal((await post(h, '')).statusCode, 400, 'empty body')
})
