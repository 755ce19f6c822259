import t from 'tap'
import { gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { encode, ExtensionCodec } from '@msgpack/msgpack'
import { appWithSpool } from '../support/app.js'
import { captured, capturedRequests, FALCO_TAG, FALCO_TAG_HEADER, rawRequest, withHeader } from '../support/fluent-bit.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { findingId } from '../../src/aggregate/finding-id.js'
import { falcoFixture } from '../support/fixtures.js'

const listen = async (overrides = {}, spoolOptions = {}) => {
  const h = await appWithSpool(overrides, spoolOptions)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...h, port: (h.app.server.address() as { port: number }).port }
}
const post = (h: { app: any }, payload: Buffer | string, headers: Record<string, string>) => h.app.inject({ method: 'POST', url: '/fluent-bit', headers, payload })
const metric = async (h: { registry: any }, name: string, labels: Record<string, string>) => {
  const m = (await h.registry.getMetricsAsJSON()).find((x: any) => x.name === name)
  return m?.values.find((v: any) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0
}

t.test('every captured Fluent Bit request, replayed byte for byte, is accepted with its records', async (t) => {
  const h = await listen()
  t.teardown(() => h.close())
  const requests = capturedRequests()
  t.equal(requests.length, 20)
  const bodies = new Set<string>()
  let resends = 0
  for (const req of requests) {
    const res = await rawRequest(h.port, req.head, req.body)
    t.equal(res.status, 200, `${req.name}: 200`)
    // Some captures carry the very bytes of an earlier one (json_basic_auth and the retry capture
    // are the json body): to the receiver that is a resend, taken once. json_auth_headers has the
    // same bytes under a tag (X-Fluent-Tag), which says whose records they are: not a resend.
    const identity = `${req.headers['x-fluent-tag'] ?? ''}|${req.headers['content-type']}|${req.headers['content-encoding'] ?? ''}|${req.body.toString('base64')}`
    if (bodies.has(identity)) {
      resends++
      t.match(res.body, { duplicate: true }, `${req.name}: a resend of an earlier chunk`)
      continue
    }
    bodies.add(identity)
    const falco = req.name.startsWith('falco/')
    t.match(res.body, { records: falco ? 1 : 3, events: falco ? 1 : 0, malformed: 0 }, `${req.name}: records`)
  }
  t.equal(resends, 2)
  t.equal(await metric(h, 'falconet_fluentbit_unmatched_records_total', { namespace: 'prod' }), 3 * 11, 'nginx records counted as unmatched in prod, resends not again')
  // Two captures carry the kubernetes filter's metadata of the Falco pod; three have none (and no
  // log-file tag): refused by default, each raising the impersonation finding instead.
  t.equal(await metric(h, 'falconet_fluentbit_records_total', { kind: 'falco' }), 2)
  t.equal(await metric(h, 'falconet_fluentbit_records_total', { kind: 'forged' }), 3)
})

t.test('a Falco alert in any record shape becomes the event the Falco source makes (same finding Id)', async (t) => {
  const h = await listen()
  t.teardown(() => h.close())
  const cases = capturedRequests().filter((r) => r.name.startsWith('falco/'))
  const alert = JSON.parse(JSON.parse(captured('falco/falco_cri_k8s').body.toString())[0].log)
  const expected = normalizeFalcoAlert(alert)
  // Sent as the shipped config sends them: the Falco input's tag names the Falco pod's log file.
  for (const req of cases) await rawRequest(h.port, withHeader(req.head, 'X-Fluent-Tag', FALCO_TAG), req.body)
  const findings = h.queued()
  t.equal(findings.length, 1, 'five shapes of one alert: one finding')
  t.equal(findings[0]!.count, 5, 'five chunks carrying the alert fold into one finding')
  t.equal(findings[0]!.id, findingId(expected, { keyFields: {} }))
  t.same(findings[0]!.event.workload, expected.workload, "the workload is the alert's (prod/web-1), not the Falco pod of the record")
  t.equal(findings[0]!.event.input, 'falco')
})

const EVENT_TIME = new ExtensionCodec()
EVENT_TIME.register({
  type: 0,
  encode: (v: unknown) => {
    if (!(v instanceof Date)) return null
    const b = new Uint8Array(8)
    new DataView(b.buffer).setUint32(0, Math.floor(v.getTime() / 1000))
    new DataView(b.buffer).setUint32(4, (v.getTime() % 1000) * 1_000_000 + 123)
    return b
  },
  decode: () => null,
})
/** A msgpack chunk as Fluent Bit ≥ 2.1 writes it: [[EventTime, {}], record] back to back. */
const msgpackChunk = (...records: object[]) => Buffer.concat(records.map((r) => encode([[new Date('2026-11-21T10:00:00.500Z'), {}], r], { extensionCodec: EVENT_TIME, useBigInt64: true })))

t.test('Falco alerts in every shape keep evt.time exact (beyond 2^53)', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const text = falcoFixture('01-').body
  const alert = parseJsonLossless(text) as Record<string, any>
  const shapes: Array<[string, Buffer | string, string]> = [
    ['log as text', JSON.stringify([{ date: 1.5e9, log: text, stream: 'stdout' }]), 'application/json'],
    ['log as object', `[{"date":1.5e9,"log":${text}}]`, 'application/json'],
    ['merged at the top level', `[{"date":1.5e9,${text.slice(1)}]`, 'application/json'],
    ['under log_processed', `{"log_processed":${text}}\n`, 'application/x-ndjson'],
    ['under data', `{"data":${text}}{"log":"x"}`, 'application/json'],
    ['msgpack, merged', msgpackChunk({ ...alert, output_fields: { ...alert.output_fields, 'evt.time': 1785402843512345678n } }), 'application/msgpack'],
    ['msgpack, log as text', msgpackChunk({ log: text, stream: 'stdout' }), 'application/msgpack'],
  ]
  for (const [name, payload, type] of shapes) {
    const res = await post(h, typeof payload === 'string' ? Buffer.from(payload) : payload, { 'content-type': type, ...FALCO_TAG_HEADER })
    t.equal(res.statusCode, 200, name)
    t.equal(res.json().events, 1, `${name}: one Falco event`)
  }
  const [finding] = h.queued()
  t.equal(finding!.count, shapes.length)
  t.equal(finding!.event.fields['evt.time'], '1785402843512345678', 'exact in the last shape')
  t.equal(finding!.id, findingId(normalizeFalcoAlert(alert), { keyFields: {} }))
})

t.test("Falco's own stderr is skipped; other stderr is not", async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const falcoPod = { container_name: 'falco', namespace_name: 'falco', pod_name: 'falco-x7k2p' }
  const body = JSON.stringify([
    { log: 'Falco version: 0.44.1', stream: 'stderr', kubernetes: falcoPod },
    { log: falcoFixture('02-').body, stream: 'stderr', kubernetes: falcoPod },
  ])
  const res = await post(h, Buffer.from(body), { 'content-type': 'application/json' })
  t.match(res.json(), { records: 2, events: 0 })
  t.equal(await metric(h, 'falconet_fluentbit_records_total', { kind: 'skipped' }), 2)
})

t.test('a resent chunk is acknowledged but not counted twice', async (t) => {
  const h = await listen()
  t.teardown(() => h.close())
  const req = captured('falco/falco_cri_k8s')
  const first = await rawRequest(h.port, req.head, req.body)
  const again = await rawRequest(h.port, req.head, req.body)
  t.equal(first.status, 200)
  t.equal(again.status, 200, 'Fluent Bit must see success, or it resends again')
  t.equal(again.body.duplicate, true)
  t.equal(h.queued()[0]!.count, 1)
  t.equal(await metric(h, 'falconet_fluentbit_chunks_total', { result: 'duplicate' }), 1)
})

t.test('Kubernetes audit events in records join the audit path: detected once per auditID', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const exec = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: 'a1',
    stage: 'ResponseStarted',
    verb: 'create',
    requestURI: '/api/v1/namespaces/kube-system/pods/coredns-5d78c9869d-lq4jn/exec?command=sh',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.7'],
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'kube-system', name: 'coredns-5d78c9869d-lq4jn' },
    responseStatus: { code: 101 },
    annotations: { 'authorization.k8s.io/decision': 'allow' },
    stageTimestamp: '2026-11-21T10:00:00.000000Z',
  }
  const body = [JSON.stringify(exec), JSON.stringify({ log: JSON.stringify(exec) }), JSON.stringify({ log: JSON.stringify({ ...exec, auditID: 'a2' }) })].join('\n')
  const res = await post(h, Buffer.from(body), { 'content-type': 'application/x-ndjson' })
  t.match(res.json(), { records: 3, events: 0, auditEvents: 3 })
  const [finding] = h.queued()
  t.equal(finding!.event.rule, 'Exec into a kube-system pod')
  t.equal(finding!.count, 2, 'a1 twice in the chunk counts once; a2 once')
  t.equal(await metric(h, 'falconet_fluentbit_records_total', { kind: 'audit' }), 3)
})

t.test('log rules: authentication failures in node logs raise events; other lines are counted and dropped', async (t) => {
  const h = await appWithSpool({
    sources: {
      fluentBit: {
        logRules: [
          {
            name: 'Payments debug endpoint hit',
            priority: 'Warning',
            match: [
              { field: 'namespace', equals: 'payments' },
              { field: 'log', regex: 'GET /debug' },
            ],
          },
        ],
      },
    },
  })
  t.teardown(() => h.close())
  const lines = [
    { log: 'Nov 21 10:00:00 ip-10-0-1-2 sshd[4242]: Failed password for root from 203.0.113.9 port 50022 ssh2', hostname: 'ip-10-0-1-2' },
    { MESSAGE: 'sshd[4243]: Invalid user admin from 203.0.113.9 port 50030', _HOSTNAME: 'ip-10-0-1-2' },
    { log: 'su[99]: FAILED SU (to root) ec2-user on pts/0', hostname: 'ip-10-0-1-3' },
    { log: 'sudo[7]: ec2-user : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/ec2-user ; USER=root', hostname: 'ip-10-0-1-3' },
    { log: '10.0.0.1 - - "GET /debug/pprof HTTP/1.1" 200', kubernetes: { namespace_name: 'payments', pod_name: 'pay-5d8b7c9f6-hq7wm', container_name: 'api' } },
    { log: '10.0.0.1 - - "GET /debug/pprof HTTP/1.1" 200', kubernetes: { namespace_name: 'shop' } },
    { log: 'OOMKilled', kubernetes: { namespace_name: 'shop' } },
  ]
  const res = await post(h, Buffer.from(JSON.stringify(lines)), { 'content-type': 'application/json' })
  t.match(res.json(), { records: 7, events: 5 })
  const findings = h.queued().map((f) => [f.event.rule, f.count, f.event.hostname ?? f.event.workload.namespace, f.event.priority])
  t.same(
    findings.sort(),
    [
      ['Payments debug endpoint hit', 1, 'payments', 'Warning'],
      ['SSH authentication failure on node', 2, 'ip-10-0-1-2', 'Notice'],
      ['su authentication failure on node', 1, 'ip-10-0-1-3', 'Notice'],
      ['sudo authentication failure on node', 1, 'ip-10-0-1-3', 'Notice'],
    ].sort(),
    'repeated sshd failures on one node: one finding, count 2',
  )
  t.equal(await metric(h, 'falconet_fluentbit_unmatched_records_total', { namespace: 'shop' }), 2)
})

t.test('record times from every json_date_format and from msgpack EventTime', async (t) => {
  const { decodeBody } = await import('../../src/sources/fluent-bit/decode.js')
  const timeOf = (req: string) => decodeBody(captured(req).body, captured(req).headers['content-type'], { dateKey: 'date' }).records[0]!.time()
  t.equal(timeOf('formats/json'), '2026-11-21T10:00:00.123Z', 'double')
  t.equal(timeOf('formats/json_epoch'), '2026-11-21T10:00:00.000Z', 'epoch')
  t.equal(timeOf('formats/json_epoch_ms'), '2026-11-21T10:00:00.123Z', 'epoch_ms')
  t.equal(timeOf('formats/json_iso8601'), '2026-11-21T10:00:00.123456Z', 'iso8601')
  t.equal(timeOf('formats/msgpack'), '2026-11-21T10:00:00.123456789Z', 'EventTime, nanoseconds')
  t.equal(timeOf('formats/gelf'), '2026-11-21T10:00:00.123Z', 'GELF timestamp')
  const java = decodeBody(Buffer.from('[{"date":"2026-11-21 10:00:00.123456","log":"x"}]'), 'application/json', { dateKey: 'date' })
  t.equal(java.records[0]!.time(), '2026-11-21T10:00:00.123456Z', 'java_sql_timestamp')
  const noDate = decodeBody(Buffer.from('{"log":"x"}'), 'application/x-ndjson', { dateKey: 'date' })
  t.equal(noDate.records[0]!.time(), undefined, 'no date key: no time (now is used)')
})

t.test('the retry contract: each failure gets the status Fluent Bit needs', async (t) => {
  const h = await listen({ sources: { fluentBit: { bodyLimitBytes: 64 * 1024 } } })
  t.teardown(() => h.close())
  const json = { 'content-type': 'application/json' }

  const garbage = await post(h, Buffer.from('this is not json at all\n{{{'), json)
  t.equal(garbage.statusCode, 400, 'nothing readable: 400 (dropped, it can never succeed)')
  t.equal(garbage.json().code, 'FALCONET_ERR_INVALID_RECORDS')

  const partly = await post(h, Buffer.from(`{"log":"a"}\n{"log": broken\n${JSON.stringify({ log: falcoFixture('03-').body })}\n`), { 'content-type': 'application/x-ndjson' })
  t.equal(partly.statusCode, 200, 'some bad records: accepted')
  t.match(partly.json(), { records: 2, events: 1, malformed: 1 })

  const oversized = await rawRequest(h.port, Buffer.from(`POST /fluent-bit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`))
  t.equal(oversized.status, 413, '413 from Content-Length alone, before any body byte was read')

  const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20))
  const exploded = await post(h, bomb, { ...json, 'content-encoding': 'gzip' })
  t.equal(exploded.statusCode, 413, 'a gzip bomb stops at the limit')
  t.equal(exploded.json().code, 'FALCONET_ERR_BODY_TOO_LARGE')

  const corrupt = await post(h, Buffer.from('not gzip'), { ...json, 'content-encoding': 'gzip' })
  t.equal(corrupt.statusCode, 400)

  const snappy = await post(h, Buffer.from('x'), { ...json, 'content-encoding': 'snappy' })
  t.equal(snappy.statusCode, 415)
  t.match(snappy.json().message, /snappy is not supported/)

  const text = await post(h, Buffer.from('x'), { 'content-type': 'text/plain' })
  t.equal(text.statusCode, 415)
})

t.test('a full spool answers 503 with Retry-After; a sink being down does not matter', async (t) => {
  const h = await appWithSpool({}, { maxBytes: 1024 * 1024 })
  t.teardown(() => h.close())
  let res
  for (let i = 0; i < 2000; i++) {
    const alert = JSON.parse(falcoFixture('03-').body)
    alert.output_fields['k8s.ns.name'] = `ns-${i}`
    alert.output = 'x'.repeat(3000)
    res = await post(h, Buffer.from(JSON.stringify([{ log: JSON.stringify(alert) }])), { 'content-type': 'application/json', ...FALCO_TAG_HEADER })
    if (res.statusCode !== 200) break
  }
  t.equal(res!.statusCode, 503, 'retried by Fluent Bit, unlike a 4xx')
  t.equal(res!.headers['retry-after'], '5')
})

t.test('zstd: decoded where Node.js has it, 415 with the reason where not', async (t) => {
  const zlib = await import('node:zlib')
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const body = Buffer.from(JSON.stringify([{ log: falcoFixture('04-').body }]))
  const compress = (zlib as any).zstdCompressSync as ((b: Buffer) => Buffer) | undefined
  const res = await post(h, compress ? compress(body) : body, { 'content-type': 'application/json', 'content-encoding': 'zstd' })
  if (compress) t.equal(res.statusCode, 200, 'zstd read')
  else t.same([res.statusCode, /needs 22\.15/.test(res.json().message)], [415, true], 'zstd refused with the reason')
})

t.test('GELF records are read back into log + kubernetes', async (t) => {
  const { decodeBody } = await import('../../src/sources/fluent-bit/decode.js')
  const req = captured('formats/gelf')
  const [first] = decodeBody(req.body, req.headers['content-type'], { dateKey: 'date' }).records
  t.match(first!.record, { log: /GET \/healthz/, stream: 'stdout', kubernetes: { namespace_name: 'prod', pod_name: 'web-1', container_name: 'nginx' } })
  t.ok(existsSync(join(new URL('../fixtures/fluent-bit/formats/', import.meta.url).pathname, 'gelf.body.gelf.ndjson')))
})
