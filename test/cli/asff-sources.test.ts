import t from 'tap'
import { join } from 'node:path'
import { falcoFixture } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { assertValidAsff } from '../support/asff.js'
import { fixture, jsonLines, runCli, writeTemp } from '../support/cli.js'

/** `falconet asff` on Fluent Bit records and Kubernetes audit events, and with a config. */

const FLUENT_BIT_FALCO = ['falco_cri_k8s', 'falco_cri_k8s_merge_log', 'falco_cri_nok8s', 'falco_docker_nok8s', 'falco_raw_json']
/** Each captured Fluent Bit body (a one-line JSON array of records), one a line. */
const fluentBitFalcoBodies = () => FLUENT_BIT_FALCO.map((c) => fixture(`fluent-bit/falco/${c}.body.json`).trim()).join('\n') + '\n'

t.test('Fluent Bit records: a Falco alert in every record shape is the same finding as the alert itself', async (t) => {
  const out = await runCli(['asff', writeTemp('fb.jsonl', fluentBitFalcoBodies())])
  t.equal(out.code, 0, out.stderr)
  const findings = jsonLines(out.stdout)
  // Two records carry the Falco pod's kubernetes metadata; three have none and are refused (each
  // raising the impersonation finding) unless allowWithoutMetadata is set.
  t.equal(findings.length, 2, 'two shapes of one alert, one finding; the refused ones, another')
  t.equal(findings[0].ProductFields['falconet/count'], '2')
  t.equal(findings[1].ProductFields['falconet/count'], '3')
  t.match(findings[1].Title, /not Falco/)
  assertValidAsff(t, findings[0], 'from Fluent Bit')
  assertValidAsff(t, findings[1], 'the impersonation finding')
  // The alert inside the plain CRI record, given to asff as a Falco alert.
  const alert = JSON.parse(fixture('fluent-bit/falco/falco_cri_nok8s.body.json'))[0].log
  const direct = jsonLines((await runCli(['asff', '-'], { stdin: alert })).stdout)
  t.equal(direct[0].Id, findings[0].Id)
  t.match(out.stderr, /2 Falco alerts, 3 Falco alerts from pods that are not Falco \(refused\) \(fluent-bit\)/)
})

t.test("with allowWithoutMetadata, the records without metadata are Falco's too: five shapes, one finding", async (t) => {
  const config = writeTemp('allow.yaml', 'sources:\n  fluentBit:\n    falcoSender:\n      allowWithoutMetadata: true\n')
  const out = await runCli(['asff', '--config', config, writeTemp('fb.jsonl', fluentBitFalcoBodies())])
  t.equal(out.code, 0, out.stderr)
  const findings = jsonLines(out.stdout)
  t.equal(findings.length, 1)
  t.equal(findings[0].ProductFields['falconet/count'], '5')
  t.match(out.stderr, /5 Falco alerts \(fluent-bit\)/)
})

t.test('Fluent Bit log lines no rule matches: counted, no finding, not an error', async (t) => {
  const out = await runCli(['asff', join('test/fixtures/fluent-bit/formats/json_lines.body.ndjson')])
  t.equal(out.code, 0, out.stderr)
  t.equal(out.stdout, '')
  t.match(out.stderr, /3 records no rule matched \(fluent-bit\) → 0 findings/)
})

t.test('Kubernetes audit events: one a line, as a pretty EventList, and inside Fluent Bit records', async (t) => {
  const events = [...auditFixture('exec_pod.json'), ...auditFixture('create_nginx_pod_privileged.json')]
  const lines = await runCli(['asff', writeTemp('audit.jsonl', events.map((e) => JSON.stringify(e)).join('\n'))])
  t.equal(lines.code, 0, lines.stderr)
  const findings = jsonLines(lines.stdout)
  t.same(findings.map((f) => f.Title).sort(), ['Exec into a pod', 'Privileged container created'])
  t.same(findings.map((f) => f.Severity.Label).sort(), ['LOW', 'MEDIUM'])
  for (const f of findings) assertValidAsff(t, f, f.Title)
  const ids = findings.map((f) => f.Id).sort()

  const list = await runCli(['asff', writeTemp('list.json', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }, null, 2))])
  t.equal(list.code, 0, list.stderr)
  t.same(
    jsonLines(list.stdout)
      .map((f) => f.Id)
      .sort(),
    ids,
    'EventList',
  )

  const records = events.map((e, i) => JSON.stringify({ date: 1795255200.1 + i, stream: 'stdout', log: JSON.stringify(e), kubernetes: { namespace_name: 'kube-system', container_name: 'audit-forwarder' } }))
  const fb = await runCli(['asff', writeTemp('fb-audit.jsonl', records.join('\n'))])
  t.equal(fb.code, 0, fb.stderr)
  t.same(
    jsonLines(fb.stdout)
      .map((f) => f.Id)
      .sort(),
    ids,
    'Fluent Bit records',
  )
  t.match(fb.stderr, /2 audit events \(fluent-bit\)/)
})

t.test('the config shapes the findings: cluster, severity mapping', async (t) => {
  const config = writeTemp('falconet.yaml', 'cluster:\n  name: prod-eu\naws:\n  region: eu-west-1\n  accountId: "111122223333"\nseverityMapping:\n  Notice: HIGH\n')
  const plain = jsonLines((await runCli(['asff', '-'], { stdin: falcoFixture('01-').body })).stdout)[0]
  const out = await runCli(['asff', '--config', config, '-'], { stdin: falcoFixture('01-').body })
  t.equal(out.code, 0, out.stderr)
  const finding = jsonLines(out.stdout)[0]
  t.equal(finding.Severity.Label, 'HIGH', 'Notice mapped to HIGH')
  t.equal(finding.AwsAccountId, '111122223333')
  t.equal(finding.Region, 'eu-west-1')
  t.ok(
    finding.Resources.some((r: { Type: string }) => r.Type === 'AwsEksCluster'),
    'the cluster is a resource',
  )
  t.not(finding.Id, plain.Id, 'the cluster is part of the Id')
  assertValidAsff(t, finding, 'with config')

  // A production config with the Security Hub sink under its old key (sinks.securityhub): the command still runs (AWS sinks off).
  const old = writeTemp('old-key.yaml', 'cluster:\n  name: prod-eu\naws:\n  region: eu-west-1\n  accountId: "111122223333"\nsinks:\n  securityhub:\n    enabled: true\n')
  const fromOld = await runCli(['asff', '--config', old, '-'], { stdin: falcoFixture('01-').body })
  t.equal(fromOld.code, 0, fromOld.stderr)
  t.equal(jsonLines(fromOld.stdout)[0].AwsAccountId, '111122223333')

  const bad = await runCli(['asff', '--config', writeTemp('bad.yaml', 'findings:\n  windowSecs: -1\n'), '-'], { stdin: falcoFixture('01-').body })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /findings\.windowSecs/)
  t.notMatch(bad.stderr, /\n\s+at /, 'no stack trace')
})
