import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { appWithSpool } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_POD, FALCO_TAG } from '../support/fluent-bit.js'
import { toAsff } from '../../src/asff/build.js'
import { toFinding } from '../../src/aggregate/aggregator.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { checkFalcoSender, senderFromLogFile } from '../../src/sources/fluent-bit/falco-sender.js'
import { IMPERSONATION_RULE } from '../../src/sources/fluent-bit/impersonation.js'

/**
 * Issue 15 item 1, the attack as it was run: a pod in tenant-a with a container named `falco`
 * prints a Falco alert about namespace `payments`; Fluent Bit ships its log line. It must never
 * become a finding about `payments`: it is refused, counted, logged once per pod, and raises a
 * finding about the pod that wrote it.
 */
const DEFAULTS = { namespaces: ['falco'], containers: ['falco'], labels: { 'app.kubernetes.io/name': 'falco' }, tagHeader: 'x-fluent-tag', allowWithoutMetadata: false }

function forgedAlert() {
  const alert = JSON.parse(falcoFixture('03-').body)
  alert.priority = 'Critical'
  alert.rule = 'Read sensitive file untrusted'
  alert.output_fields['k8s.ns.name'] = 'payments'
  alert.output_fields['k8s.pod.name'] = 'ledger-0'
  return alert
}
const tenantPod = { pod_name: 'innocent-app', namespace_name: 'tenant-a', container_name: 'falco', host: 'ip-10-0-9-9.ec2.internal', labels: { app: 'innocent' } }
const post = (h: { app: any }, records: object[], headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url: '/fluent-bit', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(records) })
const metric = async (h: { registry: any }, kind: string) => (await h.registry.getMetricsAsJSON()).find((m: any) => m.name === 'falconet_fluentbit_records_total')?.values.find((v: any) => v.labels.kind === kind)?.value ?? 0

function capturingLogger() {
  const lines: any[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

t.test('a tenant pod with a container named falco cannot forge a finding about another namespace', async (t) => {
  const { logger, lines } = capturingLogger()
  const h = await appWithSpool({}, { logger })
  t.teardown(() => h.close())
  const record = { log: JSON.stringify(forgedAlert()), stream: 'stdout', kubernetes: tenantPod }
  for (let i = 0; i < 3; i++) {
    const res = await post(h, [{ ...record, n: i }])
    t.equal(res.statusCode, 200, 'the chunk is still taken (Fluent Bit would drop a 4xx chunk with good records)')
  }
  const findings = h.queued()
  t.equal(findings.length, 1, 'one finding: the impersonation, not the forged alert')
  const f = findings[0]!
  t.equal(f.event.rule, IMPERSONATION_RULE)
  t.equal(f.severity, 'CRITICAL')
  t.equal(f.count, 3)
  t.same(f.event.workload.namespace, 'tenant-a', 'about the sender')
  t.equal(f.event.workload.pod, 'innocent-app')
  t.notOk(
    findings.some((x) => x.event.workload.namespace === 'payments'),
    'nothing about payments',
  )
  t.equal(await metric(h, 'forged'), 3, 'every refused alert counted')
  t.equal(await metric(h, 'falco'), 0)
  const logged = lines.filter((l) => /not Falco/.test(l.msg))
  t.equal(logged.length, 1, 'logged once per sending pod')
  t.match(logged[0], { level: 40, sender: { namespace: 'tenant-a', pod: 'innocent-app' }, claimedRule: 'Read sensitive file untrusted' })
  const asff = toAsff(toFinding(f), TEST_CONTEXT)
  assertValidAsff(t, asff, 'impersonation finding')
  t.equal(asff.ProductFields?.['falconet/provenance'], 'fluent-bit')
  t.equal(asff.ProductFields?.['falconet/provenance.pod'], 'tenant-a/innocent-app:falco')
})

t.test("Falco's own pod is trusted, and the finding says where it came from", async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const res = await post(h, [{ log: JSON.stringify(forgedAlert()), kubernetes: FALCO_POD }])
  t.match(res.json(), { events: 1 })
  const [f] = h.queued()
  t.equal(f!.event.rule, 'Read sensitive file untrusted')
  t.same(f!.event.provenance, { via: 'fluent-bit', node: 'ip-10-0-1-2.ec2.internal', namespace: 'falco', pod: 'falco-x7k2p', container: 'falco', verifiedBy: 'kubernetes-metadata' })
  const asff = toAsff(toFinding(f!), TEST_CONTEXT)
  t.equal(asff.ProductFields?.['falconet/provenance.node'], 'ip-10-0-1-2.ec2.internal')
  t.equal(asff.ProductFields?.['falconet/provenance.verifiedBy'], 'kubernetes-metadata')
  t.equal(await metric(h, 'falco'), 1)
})

t.test('the log-file tag vouches for a record without metadata; a forged kubernetes key cannot contradict it', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const alert = JSON.stringify(forgedAlert())
  const ok = await post(h, [{ log: alert }], { 'x-fluent-tag': FALCO_TAG })
  t.match(ok.json(), { events: 1 })
  t.equal(h.queued()[0]!.event.provenance?.verifiedBy, 'log-file')
  // A tenant's log file, whatever its JSON claims about itself.
  const tenantTag = 'falco.var.log.containers.innocent-app_tenant-a_falco-' + 'a'.repeat(64) + '.log'
  await post(h, [{ log: alert, kubernetes: FALCO_POD }], { 'x-fluent-tag': tenantTag })
  await post(h, [{ log: alert }], { 'x-fluent-tag': tenantTag })
  t.equal(await metric(h, 'forged'), 2)
})

t.test('the check itself: namespace, container, labels, no metadata', async (t) => {
  const alertRecord = (k8s?: object) => ({ log: 'x', ...(k8s ? { kubernetes: k8s } : {}) })
  t.ok(checkFalcoSender(alertRecord(FALCO_POD), undefined, DEFAULTS).trusted)
  t.notOk(checkFalcoSender(alertRecord({ ...FALCO_POD, namespace_name: 'tenant-a' }), undefined, DEFAULTS).trusted, 'another namespace')
  t.notOk(checkFalcoSender(alertRecord({ ...FALCO_POD, container_name: 'falcoctl-artifact-follow' }), undefined, DEFAULTS).trusted, 'the falcoctl sidecar')
  t.notOk(checkFalcoSender(alertRecord({ ...FALCO_POD, labels: { 'app.kubernetes.io/name': 'evil' } }), undefined, DEFAULTS).trusted, 'wrong label')
  t.ok(checkFalcoSender(alertRecord({ ...FALCO_POD, labels: undefined }), undefined, DEFAULTS).trusted, 'Labels Off: namespace and container decide')
  const none = checkFalcoSender(alertRecord(), undefined, DEFAULTS)
  t.notOk(none.trusted, 'no metadata: refused by default')
  t.match(!none.trusted && none.reason, /allowWithoutMetadata/)
  t.match(checkFalcoSender(alertRecord(), undefined, { ...DEFAULTS, allowWithoutMetadata: true }), { trusted: true, provenance: { verifiedBy: 'unverified' } })
  t.same(senderFromLogFile('/var/log/containers/falco-abc.x_falco_falco-' + 'b'.repeat(64) + '.log'), { pod: 'falco-abc.x', namespace: 'falco', container: 'falco' })
  t.equal(senderFromLogFile('kube.var.log.containers.nonsense.log'), undefined)
})

t.test('refused records without metadata are counted and raise the finding too', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const res = await post(h, [{ log: JSON.stringify(forgedAlert()) }])
  t.equal(res.statusCode, 200)
  t.equal(h.queued()[0]!.event.rule, IMPERSONATION_RULE)
  t.equal(await metric(h, 'forged'), 1)
})

/**
 * Thinking like the attacker: every field a workload controls (its own pod's name and labels, its
 * container's name, its log line, JSON merged from that line) is tried, alone and together. None
 * may make an alert Falco's; each is counted as forged and raises the impersonation finding.
 */
t.test('what a tenant controls never makes an alert Falco’s', async (t) => {
  const alert = forgedAlert()
  const text = JSON.stringify(alert)
  const tenantFile = (pod: string, ns: string, container: string) => `kube.var.log.containers.${pod}_${ns}_${container}-${'c'.repeat(64)}.log`
  const falcoLabels = { 'app.kubernetes.io/name': 'falco', 'app.kubernetes.io/instance': 'falco' }
  const cases: Array<[string, object, Record<string, string>?]> = [
    ['a pod named falco-xyz in its own namespace, container falco, with Falco’s labels', { log: text, kubernetes: { pod_name: 'falco-xyz', namespace_name: 'tenant-a', container_name: 'falco', labels: falcoLabels } }],
    ['a container named falco in another namespace', { log: text, kubernetes: { ...FALCO_POD, namespace_name: 'monitoring' } }],
    ['the same, with its log-file tag', { log: text }, { 'x-fluent-tag': tenantFile('falco-xyz', 'tenant-a', 'falco') }],
    ['a log line embedding JSON with kubernetes keys (Merge_Log off)', { log: JSON.stringify({ ...alert, kubernetes: FALCO_POD }), kubernetes: { ...tenantPod } }],
    ['Falco’s keys and a kubernetes key merged from the log (Merge_Log on), the filter’s metadata missing, the tag the tenant’s file', { ...alert, kubernetes: FALCO_POD }, { 'x-fluent-tag': tenantFile('innocent-app', 'tenant-a', 'app') }],
    ['metadata keys flattened at the top level only', { log: text, 'kubernetes.namespace_name': 'falco', 'kubernetes.container_name': 'falco', kubernetes_namespace_name: 'falco' }],
    ['flattened Falco keys at the top level beside the tenant’s nested metadata', { log: text, 'kubernetes.namespace_name': 'falco', kubernetes: tenantPod }],
    ['a CRI partial line carrying the alert', { log: text, logtag: 'P', stream: 'stdout', kubernetes: tenantPod }],
    ['a line that itself looks like a CRI line of Falco’s', { log: `2026-12-06T08:00:00.000000000Z stdout F ${text}`, kubernetes: tenantPod }],
    ['stderr of a tenant container named falco', { log: text, stream: 'stderr', kubernetes: tenantPod }],
    ['stderr of a tenant container named falco, by its log-file tag', { log: text, stream: 'stderr' }, { 'x-fluent-tag': tenantFile('innocent-app', 'tenant-a', 'falco') }],
  ]
  for (const [name, record, headers] of cases) {
    const h = await appWithSpool()
    const res = await post(h, [record], headers)
    t.equal(res.statusCode, 200, `${name}: the chunk is taken`)
    const findings = h.queued()
    t.notOk(
      findings.some((f) => f.event.workload.namespace === 'payments'),
      `${name}: no finding about payments`,
    )
    // A line that is not an alert on its own (the CRI-looking one) may simply not match; anything
    // that was read as an alert must be refused as forged and reported.
    if (name.startsWith('a line that itself'))
      t.notOk(
        findings.some((f) => f.event.rule !== IMPERSONATION_RULE),
        `${name}: nothing but an impersonation finding`,
      )
    else {
      t.equal(await metric(h, 'forged'), 1, `${name}: counted as forged`)
      t.same(
        findings.map((f) => f.event.rule),
        [IMPERSONATION_RULE],
        `${name}: the impersonation finding`,
      )
    }
    await h.close()
  }
})

t.test('Merge_Log on: a kubernetes key merged from the log line comes before the filter’s, and the filter’s wins', async (t) => {
  // filter_kubernetes (pack_map_content) writes the record's keys, then the merged log's, then its
  // own `kubernetes`: the record holds the key twice. JSON and msgpack alike must read the last.
  const { encode } = await import('@msgpack/msgpack')
  const alert = forgedAlert()
  const attackerMeta = FALCO_POD
  const filterMeta = tenantPod
  const entries: Array<[string, unknown]> = [['stream', 'stdout'], ...Object.entries(alert), ['kubernetes', attackerMeta], ['kubernetes', filterMeta]]
  const jsonLine = '{' + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}'
  const mapHeader = entries.length < 16 ? Buffer.from([0x80 | entries.length]) : Buffer.from([0xde, 0, entries.length])
  const msgpackRecord = Buffer.concat([Buffer.from([0x92, 0x92]), Buffer.from(encode(1785402843.5)), Buffer.from([0x80]), mapHeader, ...entries.flatMap(([k, v]) => [Buffer.from(encode(k)), Buffer.from(encode(v))])])
  for (const [format, body, type] of [
    ['json_lines', jsonLine + '\n', 'application/x-ndjson'],
    ['json', `[${jsonLine}]`, 'application/json'],
    ['msgpack', msgpackRecord, 'application/msgpack'],
  ] as const) {
    const h = await appWithSpool()
    const res = await h.app.inject({ method: 'POST', url: '/fluent-bit', headers: { 'content-type': type }, payload: body })
    t.equal(res.statusCode, 200, format)
    t.equal(await metric(h, 'forged'), 1, `${format}: refused`)
    t.same(
      h.queued().map((f) => f.event.workload.namespace),
      ['tenant-a'],
      `${format}: the finding names the tenant`,
    )
    await h.close()
  }
})
