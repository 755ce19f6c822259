import t from 'tap'
import { readFileSync } from 'node:fs'
import { falcoFixtures } from '../support/fixtures.js'
import { auditFixture, auditFixtureNames, detector, eksEvent } from '../support/audit.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { findingFromEvent, fold, toFinding } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { toAsff } from '../../src/asff/build.js'
import { toOcsf } from '../../src/ocsf/build.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { assertValidOcsf, ocsfProblems } from '../support/ocsf.js'

const CTX = { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } }
const OPTIONS = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }
/** ASFF label → OCSF severity_id, written out here rather than imported. */
const SEVERITY_ID: Record<string, number> = { INFORMATIONAL: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 }

t.test('the validator refuses what OCSF refuses (so a passing check means something)', async (t) => {
  const good = JSON.parse(readFileSync(new URL('../fixtures/ocsf/detection_finding.falco-terminal-shell.json', import.meta.url), 'utf8'))
  t.same(ocsfProblems(good), [], 'the schema pack example is valid')
  t.match(ocsfProblems({ ...good, type_uid: 200402 }).join('\n'), /type_uid/, 'type_uid must be class_uid*100+activity_id')
  t.match(ocsfProblems({ ...good, finding_info: { title: 'x' } }).join('\n'), /uid/, 'finding_info.uid is required')
  t.match(ocsfProblems({ ...good, pod: 'x' }).join('\n'), /additional/, 'no invented attributes')
})

t.test('every Falco fixture alert: a valid Detection Finding joined to its ASFF finding by uid, same severity', async (t) => {
  for (const f of falcoFixtures()) {
    const alert = JSON.parse(f.body)
    const finding = findingFromEvent(normalizeFalcoAlert(alert), OPTIONS)
    const ocsf = toOcsf(finding, CTX)
    const asff = toAsff(finding, CTX)
    assertValidOcsf(t, ocsf, f.file)
    assertValidAsff(t, asff, f.file)
    t.equal(ocsf.finding_info.uid, asff.Id, `${f.file}: finding_info.uid is the ASFF Id`)
    t.equal(ocsf.severity_id, SEVERITY_ID[asff.Severity!.Label!], `${f.file}: severity ${asff.Severity!.Label}`)
    t.equal(ocsf.finding_info.title, alert.rule)
    t.match(ocsf, { class_uid: 2004, category_uid: 2, activity_id: 1, type_uid: 200401, count: 1, status_id: 1, metadata: { version: '1.6.0', product: { name: 'falconet' } } })
    t.ok(ocsf.metadata.profiles.includes('cloud') && ocsf.cloud.account.uid === '111122223333', `${f.file}: cloud profile and account`)
    t.same(ocsf.finding_info.types, asff.Types, `${f.file}: the same types as ASFF`)
  }
})

t.test('MITRE ATT&CK from the tags: tactic, technique and sub-technique', async (t) => {
  const shell = findingFromEvent(normalizeFalcoAlert(JSON.parse(falcoFixtures()[0]!.body)), OPTIONS)
  t.same(toOcsf(shell, CTX).finding_info.attacks, [{ tactic: { uid: 'TA0002', name: 'Execution' }, technique: { uid: 'T1059', name: 'Command and Scripting Interpreter' } }])
  const event = { ...shell.event, tags: ['mitre_credential_access', 'mitre_discovery', 'T1552.005', 'T9999'] }
  const attacks = toOcsf({ ...shell, event }, CTX).finding_info.attacks!
  t.same(attacks[0], { tactic: { uid: 'TA0006', name: 'Credential Access' }, technique: { uid: 'T1552', name: 'Unsecured Credentials' }, sub_technique: { uid: 'T1552.005', name: 'Cloud Instance Metadata API' } })
  t.same(attacks[1], { tactic: { uid: 'TA0006', name: 'Credential Access' }, technique: { uid: 'T9999' } }, 'an unknown technique keeps its uid')
  t.equal(attacks.length, 4, 'each technique under each tactic the rule names')
  t.notOk(toOcsf({ ...shell, event: { ...shell.event, tags: ['container'] } }, CTX).finding_info.attacks, 'no MITRE tags, no attacks')
})

t.test('audit detections: actor, API call, source endpoint, target resource and their MITRE mapping', async (t) => {
  const d = detector()
  let count = 0
  for (const file of auditFixtureNames()) {
    for (const e of auditFixture(file)) {
      for (const event of d.detect(e)) {
        count++
        const ocsf = toOcsf(findingFromEvent(event, OPTIONS), CTX)
        assertValidOcsf(t, ocsf, `${file}: ${event.rule}`)
        t.ok(ocsf.finding_info.attacks?.length, `${file}: ${event.rule} has ATT&CK`)
      }
    }
  }
  t.ok(count >= 15, `${count} audit findings checked`)
  const [exec] = detector().detect(eksEvent({ verb: 'create', requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web', apiVersion: 'v1' } }))
  t.ok(exec, 'an exec detection')
  const ocsf = toOcsf(findingFromEvent(exec!, OPTIONS), CTX)
  assertValidOcsf(t, ocsf, 'exec')
  t.match(ocsf.actor, { user: { name: 'alice', uid: 'arn:aws:sts::111122223333:assumed-role/Admin/alice', account: { uid: '111122223333' } } })
  t.match(ocsf.api, { operation: 'create', service: { name: 'kubernetes' }, request: { uid: /^id-/ } })
  t.match(ocsf.evidences, [{ src_endpoint: { ip: '203.0.113.7' }, http_request: { user_agent: /^kubectl/ } }])
  t.ok(
    ocsf.resources.some((r) => r.type === 'pods' && r.name === 'web' && r.namespace === 'shop'),
    'the target pod',
  )
  t.equal(ocsf.finding_info.analytic.uid, 'exec-in-pod', 'analytic uid is the detection id')
  t.ok(ocsf.metadata.profiles.includes('host'), 'actor → host profile')
})

t.test('activity follows the finding: Create, Update as the count grows, Close when archived', async (t) => {
  const event = normalizeFalcoAlert(JSON.parse(falcoFixtures()[0]!.body))
  const id = 'falconet/syscall/abc'
  const agg = { ...OPTIONS, windowMs: 3_600_000 }
  const first = fold(undefined, event, id, agg)
  const second = fold(first, { ...event, time: '2026-07-30T09:15:00.000000000Z' }, id, agg)
  const one = toOcsf(toFinding(first), CTX)
  const two = toOcsf(toFinding(second), CTX)
  const closed = toOcsf({ ...toFinding(second), archived: true, version: second.version + 1 }, CTX)
  t.match(one, { activity_id: 1, type_uid: 200401, count: 1 })
  t.match(two, { activity_id: 2, type_uid: 200402, count: 2, status_id: 1, is_alert: true })
  t.match(closed, { activity_id: 3, type_uid: 200403, status_id: 5, status: 'Archived', is_alert: false })
  t.equal(two.finding_info.first_seen_time, Date.parse(first.firstObservedAt))
  t.equal(two.finding_info.last_seen_time, Date.parse('2026-07-30T09:15:00Z'))
  t.equal(two.metadata.original_time, '2026-07-30T09:15:00.000000000Z', 'full precision kept beside the milliseconds')
  t.not(one.metadata.uid, two.metadata.uid, 'each version its own event uid')
  for (const e of [one, two, closed]) assertValidOcsf(t, e, `activity ${e.activity_id}`)
})

t.test('an enriched runtime alert: process with pid, container and image, node, IAM role, network', async (t) => {
  const base = normalizeFalcoAlert(JSON.parse(falcoFixtures().find((f) => f.file.startsWith('07-'))!.body))
  const event: SecurityEvent = {
    ...base,
    process: { ...base.process, pid: 4242, parentPid: 4200, parentName: 'bash', name: 'nc', executable: '/usr/bin/nc', user: 'root', uid: 0 },
    fields: { ...base.fields, 'fd.type': 'ipv4', 'fd.name': '10.0.1.5:41234->198.51.100.9:4444', 'fd.cip': '10.0.1.5', 'fd.cport': 41234, 'fd.sip': '198.51.100.9', 'fd.sport': 4444, 'evt.type': 'connect', 'fd.l4proto': 'tcp' },
    workload: {
      ...base.workload,
      podUid: '0f8c7e1a-2b3c-4d5e-8f90-123456789abc',
      labels: { app: 'cart' },
      owner: { kind: 'Deployment', name: 'cart-api' },
      container: { ...base.workload.container, imageDigest: 'sha256:' + 'a'.repeat(64) },
      nodeInfo: { instanceId: 'i-0123456789abcdef0', zone: 'eu-west-1a', instanceType: 'm7g.large' },
      iam: { via: 'pod-identity', roleArn: 'arn:aws:iam::111122223333:role/cart' },
    },
  }
  const ocsf = toOcsf(findingFromEvent(event, OPTIONS), CTX)
  assertValidOcsf(t, ocsf, 'enriched')
  t.match(ocsf.evidences![0], {
    process: { pid: 4242, name: 'nc', file: { path: '/usr/bin/nc', name: 'nc' }, parent_process: { pid: 4200, name: 'bash' }, user: { name: 'root', uid: '0' }, container: { image: { uid: 'sha256:' + 'a'.repeat(64) } } },
    src_endpoint: { ip: '10.0.1.5', port: 41234 },
    dst_endpoint: { ip: '198.51.100.9', port: 4444 },
    connection_info: { direction_id: 2, protocol_name: 'tcp' },
  })
  t.match(ocsf.device, { instance_uid: 'i-0123456789abcdef0', zone: 'eu-west-1a', container: { pod_uuid: '0f8c7e1a-2b3c-4d5e-8f90-123456789abc' } })
  const types = ocsf.resources.map((r) => r.type)
  t.same(types, ['Pod', 'Container', 'Deployment', 'Namespace', 'AwsEc2Instance', 'AwsIamRole', 'AwsEksCluster'])
  t.same(ocsf.resources[0]!.labels, ['app=cart'])
  t.equal(ocsf.unmapped['falconet/node.instanceType'], 'm7g.large', 'what OCSF has no attribute for goes to unmapped')
  t.equal(ocsf.unmapped['falconet/iam.via'], 'pod-identity')
  t.notOk('falco/proc.cmdline' in ocsf.unmapped, 'a mapped raw field is not repeated in unmapped')
  t.ok(
    Object.values(ocsf.unmapped).every((v) => typeof v === 'string'),
    'unmapped is flat strings',
  )
})

t.test('a test finding and an event with no workload are still valid', async (t) => {
  const event: SecurityEvent = { input: 'test', source: 'falconet', rule: 'falconet test finding', priority: 'Notice', priorityText: 'Notice', time: '2026-07-30T09:14:03.000000000Z', output: 'x', tags: ['test'], workload: {}, fields: {} }
  const ocsf = toOcsf(findingFromEvent(event, OPTIONS), TEST_CONTEXT)
  assertValidOcsf(t, ocsf, 'no workload')
  t.same(
    ocsf.resources.map((r) => r.type),
    ['Other'],
  )
})

t.test('provenance: how the event arrived is in unmapped under the same keys as ASFF ProductFields', async (t) => {
  const event: SecurityEvent = {
    input: 'fluent-bit',
    source: 'syscall',
    rule: 'Terminal shell in container',
    priority: 'Notice',
    priorityText: 'Notice',
    time: '2026-07-30T09:14:03.000000000Z',
    output: 'x',
    tags: [],
    workload: {},
    fields: {},
    provenance: { via: 'fluent-bit', node: 'ip-10-0-1-23.ec2.internal', namespace: 'falco', pod: 'falco-abcde', container: 'falco', verifiedBy: 'log-file' },
  }
  const finding = findingFromEvent(event, OPTIONS)
  const ocsf = toOcsf(finding, TEST_CONTEXT)
  assertValidOcsf(t, ocsf, 'with provenance')
  const asff = toAsff(finding, TEST_CONTEXT)
  for (const key of ['falconet/provenance', 'falconet/provenance.node', 'falconet/provenance.pod', 'falconet/provenance.verifiedBy']) {
    t.ok(ocsf.unmapped[key], `${key} in unmapped`)
    t.equal(ocsf.unmapped[key], asff.ProductFields?.[key], `${key} as in ASFF`)
  }
  t.equal(ocsf.unmapped['falconet/provenance.pod'], 'falco/falco-abcde:falco')
})

t.test("Falco's k8saudit plugin alerts (source k8s_audit) keep the API call, caller and target like falconet's own audit detections", async (t) => {
  const alert = {
    rule: 'Attach/Exec Pod',
    priority: 'Notice',
    source: 'k8s_audit',
    time: '2026-11-21T10:00:00.000000000Z',
    output: 'x',
    tags: ['k8s', 'mitre_execution', 'T1609'],
    output_fields: {
      'ka.verb': 'create',
      'ka.user.name': 'alice',
      'ka.target.resource': 'pods',
      'ka.target.name': 'web',
      'ka.target.namespace': 'shop',
      'ka.target.subresource': 'exec',
      'ka.auditid': 'abc',
      'ka.response.code': 101,
      'ka.sourceips': ['2001:db8::7'],
      'ka.useragent': 'kubectl/v1.33',
    },
  }
  const ocsf = toOcsf(findingFromEvent(normalizeFalcoAlert(alert), OPTIONS), CTX)
  assertValidOcsf(t, ocsf, 'k8saudit plugin alert')
  t.match(ocsf.api, { operation: 'create', service: { name: 'kubernetes' }, request: { uid: 'abc' }, response: { code: 101 } })
  t.match(ocsf.evidences, [{ src_endpoint: { ip: '2001:db8::7' }, http_request: { user_agent: 'kubectl/v1.33' } }])
  t.ok(
    ocsf.resources.some((r) => r.type === 'pods' && r.name === 'web' && r.namespace === 'shop'),
    'the target',
  )
  t.match(ocsf.actor, { user: { name: 'alice' } })
})
