import t from 'tap'
import { toAsff } from '../../src/asff/build.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { DEFAULT_SEVERITY_MAPPING, type SeverityMapping } from '../../src/model/severity.js'
import { LIMITS } from '../../src/asff/limits.js'
import { falcoFixtures, falcoFixture } from '../support/fixtures.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'

const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }
const asffOf = (alert: unknown, ctx = TEST_CONTEXT, mapping: SeverityMapping = DEFAULT_SEVERITY_MAPPING) => toAsff(findingFromEvent(normalizeFalcoAlert(alert), { ...options, severityMapping: mapping }), ctx)
const alertOf = (prefix: string) => parseJsonLossless(falcoFixture(prefix).body) as Record<string, any>

t.test('every fixture becomes a valid ASFF finding, with and without a cluster', async (t) => {
  const withCluster = { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } }
  for (const { file, body } of falcoFixtures()) {
    assertValidAsff(t, asffOf(parseJsonLossless(body)), file)
    assertValidAsff(t, asffOf(parseJsonLossless(body), withCluster), `${file} (cluster)`)
  }
})

t.test('required identity members', async (t) => {
  const f = asffOf(alertOf('01-'))
  t.equal(f.SchemaVersion, '2018-10-08')
  t.equal(f.ProductArn, 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default')
  t.equal(f.AwsAccountId, '111122223333')
  t.equal(f.GeneratorId, 'falco/syscall/Terminal shell in container')
  t.equal(f.Title, 'Terminal shell in container')
  t.match(f.Description, /^A shell was spawned in a container with an attached terminal \| evt_type=execve/, 'Falco time/priority prefix removed')
  for (const k of ['CreatedAt', 'FirstObservedAt', 'LastObservedAt'] as const) t.equal(f[k], '2026-07-30T09:14:03.512345678Z', k)
  t.ok(Date.parse(f.UpdatedAt!) >= Date.parse(f.CreatedAt!), 'UpdatedAt: when falconet wrote it (its clock), never before CreatedAt')
})

t.test('severity follows the default mapping and sits in FindingProviderFields too', async (t) => {
  const expected: Record<string, string> = {
    Emergency: 'CRITICAL',
    Alert: 'CRITICAL',
    Critical: 'CRITICAL',
    Error: 'HIGH',
    Warning: 'MEDIUM',
    Notice: 'LOW',
    Informational: 'INFORMATIONAL',
    Debug: 'INFORMATIONAL',
  }
  for (const [priority, label] of Object.entries(expected)) {
    const f = asffOf({ ...alertOf('01-'), priority })
    t.same(f.Severity, { Label: label, Original: priority }, priority)
    t.same(f.FindingProviderFields?.Severity, f.Severity, `${priority} in FindingProviderFields`)
  }
})

t.test('a configured severity mapping is used', async (t) => {
  const mapping = { ...DEFAULT_SEVERITY_MAPPING, Notice: 'HIGH' as const }
  t.equal(asffOf(alertOf('01-'), TEST_CONTEXT, mapping).Severity?.Label, 'HIGH')
})

t.test('Types come from MITRE tags, with the technique as classifier', async (t) => {
  t.same(asffOf(alertOf('01-')).Types, ['TTPs/Execution/T1059'])
  t.same(asffOf(alertOf('01-')).FindingProviderFields?.Types, ['TTPs/Execution/T1059'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_exfiltration', 'T1048'] }).Types, ['Effects/Data Exfiltration/T1048'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_discovery', 'mitre_credential_access', 'T1552'] }).Types, ['TTPs/Discovery', 'TTPs/Credential Access'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['container'] }).Types, ['Unusual Behaviors/Container'])
  t.same(asffOf(alertOf('11-')).Types, ['TTPs/Defense Evasion/T1070'], 'host event with MITRE tags')
  t.same(asffOf(alertOf('31-')).Types, ['Unusual Behaviors/Application'], 'internal events fall back')
  t.same(asffOf(alertOf('29-')).Types, ['Unusual Behaviors/User'], 'k8s_audit without MITRE tags falls back')
  // falcosecurity/plugins' cloudtrail, okta, github and gcpaudit rules carry no MITRE tags either.
  for (const source of ['aws_cloudtrail', 'okta', 'github', 'gcp_auditlog']) {
    t.same(asffOf({ ...alertOf('29-'), source, tags: ['cloud', 'aws'] }).Types, ['Unusual Behaviors/User'], `${source}: an identity's API call, not a process`)
  }
})

t.test('Impact maps to the Effect its technique describes, not always Data Destruction', async (t) => {
  // falcosecurity/rules' cryptominer rules: mitre_impact + T1496 Resource Hijacking.
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_impact', 'T1496'] }).Types, ['Effects/Resource Consumption/T1496'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_impact', 'T1499.004'] }).Types, ['Effects/Denial of Service/T1499.004'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_impact', 'T1485'] }).Types, ['Effects/Data Destruction/T1485'])
  t.same(asffOf({ ...alertOf('01-'), tags: ['mitre_impact'] }).Types, ['Effects/Data Destruction'])
})

t.test('Resources: Container plus AwsEksCluster when the cluster is configured, Other otherwise', async (t) => {
  const plain = asffOf(alertOf('01-'))
  t.same(
    plain.Resources?.map((r) => r.Type),
    ['Container', 'Other'],
  )
  t.same(plain.Resources?.[0]?.Details?.Container, {
    Name: 'cart-api',
    ImageName: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api:2.14.3',
  })
  t.equal(plain.Resources?.[0]?.Id, 'shop/cart-api-7d9c6b7b9c-x2x8k/cart-api')
  const clustered = asffOf(alertOf('01-'), { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } })
  t.same(
    clustered.Resources?.map((r) => r.Type),
    ['Container', 'AwsEksCluster'],
  )
  t.same(clustered.Resources?.[1], {
    Type: 'AwsEksCluster',
    Id: 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu',
    Partition: 'aws',
    Region: 'eu-west-1',
    Details: { AwsEksCluster: { Name: 'prod-eu', Arn: 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu' } },
  })
  t.same(
    asffOf(alertOf('11-')).Resources?.map((r) => r.Type),
    ['Other'],
    'host process: no container',
  )
})

t.test('a host event names its node as a resource also when the cluster is configured', async (t) => {
  const host = asffOf(alertOf('11-'), { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } })
  t.same(
    host.Resources?.map((r) => [r.Type, r.Id]),
    [
      ['Other', 'ip-10-0-103-9.eu-west-1.compute.internal'],
      ['AwsEksCluster', 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu'],
    ],
  )
  assertValidAsff(t, host, 'host event with a cluster')
  const audit = asffOf(alertOf('29-'), { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } })
  t.same(
    audit.Resources?.map((r) => r.Type),
    ['AwsEksCluster'],
    'an audit alert is about the cluster, not the node Falco runs on',
  )
})

t.test('container launch time and digest when Falco gives them', async (t) => {
  const alert = alertOf('01-')
  alert.output_fields['container.start_ts'] = '1785402000123456789'
  alert.output_fields['container.image.digest'] = 'sha256:' + 'a'.repeat(64)
  alert.output_fields['container.privileged'] = true
  const details = asffOf(alert).Resources?.[0]?.Details?.Container
  t.equal(details?.LaunchedAt, '2026-07-30T09:00:00.123456789Z')
  t.equal(details?.ImageId, 'sha256:' + 'a'.repeat(64))
  t.equal(details?.Privileged, true)
})

t.test('Process and Network details from proc.* and fd.* fields', async (t) => {
  t.same(asffOf(alertOf('01-')).Process, { Name: 'bash', Path: '/usr/bin/bash' })
  t.same(asffOf(alertOf('26-')).Network, {
    Direction: 'OUT',
    Protocol: 'TCP',
    SourceIpV4: '10.0.12.203',
    DestinationIpV4: '169.254.169.254',
    SourcePort: 40172,
    DestinationPort: 80,
  })
  const v6 = alertOf('26-')
  v6.output_fields['fd.type'] = 'ipv6'
  v6.output_fields['fd.name'] = 'fd00::12:40172->fd00:ec2::254:80'
  t.same(asffOf(v6).Network?.DestinationIpV6, 'fd00:ec2::254')
  t.same(asffOf(v6).Network?.SourceIpV6, 'fd00::12')
  t.equal(asffOf(alertOf('01-')).Network, undefined, 'no socket, no Network')
})

t.test('ProductFields carry rule, priority, source, hostname, tags and the useful raw fields', async (t) => {
  const fields = asffOf(alertOf('01-')).ProductFields!
  t.equal(fields['falconet/rule'], 'Terminal shell in container')
  t.equal(fields['falconet/priority'], 'Notice')
  t.equal(fields['falconet/source'], 'syscall')
  t.equal(fields['falconet/hostname'], 'ip-10-0-12-34.eu-west-1.compute.internal')
  t.equal(fields['falconet/tags'], 'T1059,container,maturity_stable,mitre_execution,shell')
  t.equal(fields['falco/proc.cmdline'], 'bash')
  t.equal(fields['falco/evt.time'], '1785402843512345678', 'exact, not rounded')
  t.equal(fields['falco/user.loginuid'], '-1')
  t.notOk(Object.keys(fields).some((k) => k.startsWith('aws/')))
})

t.test('limits: a 60 KB output is cut cleanly with a marker', async (t) => {
  const f = asffOf({ ...alertOf('01-'), output: 'word '.repeat(12_000) })
  t.ok(f.Description!.length <= LIMITS.description)
  t.match(f.Description, /word …\[truncated\]$/)
  assertValidAsff(t, f, '60 KB output')
})

t.test('limits: 60 output fields are capped with a count of what was left out', async (t) => {
  const alert = alertOf('01-')
  for (let i = 0; i < 60; i++) alert.output_fields[`custom.field${String(i).padStart(2, '0')}`] = `value ${i}`
  const f = asffOf(alert)
  const keys = Object.keys(f.ProductFields!)
  t.equal(keys.length, LIMITS.productFields)
  t.ok(Number(f.ProductFields!['falconet/omittedFields']) > 0)
  t.equal(f.ProductFields!['falco/proc.cmdline'], 'bash', 'the most useful fields are kept first')
  assertValidAsff(t, f, '60 fields')
})

t.test('limits: unicode is never cut inside a character, and huge values are bounded', async (t) => {
  const alert = alertOf('01-')
  alert.rule = '🚨'.repeat(300) // 600 UTF-16 units
  alert.output = '日本語🔥'.repeat(1000)
  alert.output_fields['proc.cmdline'] = '🔥'.repeat(5000)
  alert.output_fields['proc.exepath'] = '/x'.repeat(2000)
  alert.output_fields['proc.name'] = 'n'.repeat(200)
  alert.output_fields['very.long.key.' + 'k'.repeat(300)] = 'v'
  const f = asffOf(alert)
  t.ok(f.Title!.length <= 256)
  t.notOk(/[\ud800-\udbff]$/.test(f.Title!.replace(/ …\[truncated\]$/, '')), 'no lone high surrogate before the marker')
  t.ok(f.ProductFields!['falco/proc.cmdline']!.length <= 2048)
  t.ok(f.Process!.Name!.length <= 64)
  t.ok(f.Process!.Path!.length <= 512)
  assertValidAsff(t, f, 'unicode')
})

t.test('limits: the whole finding stays under 240 KB even when every field is at its maximum', async (t) => {
  const alert = alertOf('01-')
  for (let i = 0; i < 80; i++) alert.output_fields[`f${i}`] = '🔥'.repeat(3000)
  const f = asffOf(alert)
  t.ok(Buffer.byteLength(JSON.stringify(f)) <= LIMITS.findingBytes)
  assertValidAsff(t, f, 'maximal fields')
})

t.test('values Security Hub would refuse are left out rather than sent', async (t) => {
  const alert = alertOf('01-')
  alert.output_fields['proc.name'] = '   '
  alert.output_fields['fd.name'] = ''
  alert.output_fields['proc.pid'] = 99999999999 // beyond a 32-bit Pid
  const f = asffOf(alert)
  t.equal(f.Process?.Name, undefined)
  t.equal(f.Process?.Pid, undefined)
  t.notOk('falco/fd.name' in f.ProductFields!)
  assertValidAsff(t, f, 'blank values')
})
