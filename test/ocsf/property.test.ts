import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { gradeFalcoInternal } from '../../src/monitor/falco-internal.js'
import { recoveredEvent, silentEvent, SOURCE_KINDS } from '../../src/monitor/source-events.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import type { Finding } from '../../src/model/finding.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { toAsff } from '../../src/asff/build.js'
import { fitOcsf, toOcsf } from '../../src/ocsf/build.js'
import { checkRow } from '../../src/ocsf/parquet.js'
import type { DetectionFinding } from '../../src/ocsf/types.js'
import { auditFixture, auditFixtureNames, detector } from '../support/audit.js'
import { TEST_CONTEXT } from '../support/asff.js'
import { ocsfProblems } from '../support/ocsf.js'
import { readParquetBack, sortedKeys } from '../support/parquet-read.js'
import { fuzz } from '../support/fuzz-settings.js'

/**
 * Property test of the OCSF encoder over findings no fixture holds: Falco alerts carrying any of
 * the fields Falco's sources can print (test/fixtures/falco-rules/fields.json) with odd values
 * (huge, Unicode, numbers past 32 bits, IPv6 tuples), with and without Kubernetes and container
 * fields, Falco internal events, audit detections from mutated recorded events, silent-source
 * findings; each at activity Create, Update or Close. Every encoded event must be valid OCSF
 * 1.6.0 (ajv 2020 on the shipped schema), list exactly the profiles whose attributes it uses, keep
 * type_uid/activity/status/count consistent with the finding, carry well-formed ATT&CK, fit its
 * Parquet row, fit EventBridge's size when fitted — and the whole lot must read back from Parquet
 * with pyarrow unchanged.
 */
const OPTIONS = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }
const CTX = { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } }
const SEVERITY_ID: Record<string, number> = { INFORMATIONAL: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 }

const FIELDS = JSON.parse(readFileSync(new URL('../fixtures/falco-rules/fields.json', import.meta.url), 'utf8')) as Record<string, string[]>
const FIELD_NAMES = [...FIELDS.syscall!, ...FIELDS.container!, ...FIELDS.k8saudit!]

/** ATT&CK tags of falcosecurity/rules (stable, incubating and sandbox rules files; tag names only). */
const UPSTREAM_TECHNIQUES = [
  'T1005',
  'T1020',
  'T1046',
  'T1053.003',
  'T1055.008',
  'T1059',
  'T1059.004',
  'T1070',
  'T1072',
  'T1083',
  'T1098',
  'T1098.004',
  'T1132',
  'T1190',
  'T1195.002',
  'T1204',
  'T1205.001',
  'T1222.002',
  'T1485',
  'T1496',
  'T1505',
  'T1505.003',
  'T1543',
  'T1546.004',
  'T1548.001',
  'T1548.003',
  'T1552',
  'T1552.001',
  'T1552.005',
  'T1555',
  'T1556',
  'T1557.002',
  'T1564.001',
  'T1565',
  'T1610',
  'T1611',
  'T1620',
  'T1622',
]
const TACTIC_TAGS = [
  'mitre_collection',
  'mitre_command_and_control',
  'mitre_credential_access',
  'mitre_defense_evasion',
  'mitre_discovery',
  'mitre_execution',
  'mitre_exfiltration',
  'mitre_impact',
  'mitre_initial_access',
  'mitre_lateral_movement',
  'mitre_persistence',
  'mitre_privilege_escalation',
  'mitre_reconnaissance',
  'mitre_resource_development',
]
const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug']

// ---- values ----

const unicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
const huge = fc.tuple(fc.constantFrom('a', 'é', '漢', '🦅', ' ', '/'), fc.integer({ min: 5_000, max: 60_000 })).map(([c, n]) => c.repeat(n))
const text = fc.oneof({ weight: 5, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) }, { weight: 3, arbitrary: unicode }, { weight: 1, arbitrary: huge }, { weight: 1, arbitrary: fc.constantFrom('', ' ', '<NA>', 'host') })
const number = fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constantFrom(-1, 4294967295, 2147483648, 9007199254740991, 1e15), fc.double({ noNaN: true, noDefaultInfinity: true }))
const value = fc.oneof({ weight: 4, arbitrary: text }, { weight: 3, arbitrary: number }, { weight: 1, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.array(text, { maxLength: 4 }) })
const port = fc.integer({ min: 0, max: 65535 })
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('::1', '::ffff:10.0.0.1', 'fe80::1%eth0', '[::1]', 'not-an-ip'))

/** What Falco prints for a socket: fd.type and the tuple, sometimes the split fields too. */
const network = fc.record(
  {
    'fd.type': fc.constantFrom('ipv4', 'ipv6', 'unix', 'file'),
    'fd.name': fc.tuple(ip, port, ip, port).map(([a, p, b, q]) => `${a}:${p}->${b}:${q}`),
    'fd.cip': ip,
    'fd.sip': ip,
    'fd.cport': fc.oneof(port, fc.integer({ min: -10, max: 200_000 })),
    'fd.sport': port,
    'evt.type': fc.constantFrom('connect', 'accept', 'accept4', 'sendto', 'recvfrom', 'execve', 'openat'),
    'fd.l4proto': fc.constantFrom('tcp', 'udp', 'TCP', '<NA>'),
  },
  { requiredKeys: [] },
)
const k8s = fc.record(
  {
    'k8s.ns.name': text,
    'k8s.pod.name': text,
    'k8s.pod.uid': fc.oneof(fc.uuid(), text),
    'k8s.pod.labels': text,
  },
  { requiredKeys: [] },
)
const container = fc.record(
  {
    'container.id': fc.oneof(fc.constant('host'), fc.stringMatching(/^[0-9a-f]{12}$/), text),
    'container.name': text,
    'container.image.repository': text,
    'container.image.tag': text,
    'container.image.digest': fc.oneof(fc.stringMatching(/^sha256:[0-9a-f]{64}$/), text),
  },
  { requiredKeys: [] },
)
const processFields = fc.record(
  {
    'proc.pid': number,
    'proc.ppid': number,
    'proc.name': text,
    'proc.pname': text,
    'proc.exepath': fc.oneof(fc.constantFrom('/usr/bin/bash', '/', 'bash'), text),
    'proc.cmdline': text,
    'user.name': text,
    'user.uid': number,
    'user.loginuid': number,
  },
  { requiredKeys: [] },
)
const anyFields = fc.dictionary(fc.constantFrom(...FIELD_NAMES), value, { maxKeys: 12 })
const techniqueTag = fc.oneof(fc.constantFrom(...UPSTREAM_TECHNIQUES), fc.stringMatching(/^T\d{4}(\.\d{3})?$/))
const tags = fc.array(fc.oneof(fc.constantFrom(...TACTIC_TAGS), techniqueTag, fc.constantFrom('container', 'shell', 'k8s', 'MITRE_EXECUTION', 'T123', 'TA0002'), text), { maxLength: 10 })
const time = fc.tuple(fc.integer({ min: Date.parse('2001-01-01T00:00:00Z'), max: Date.parse('2099-12-31T00:00:00Z') }), fc.integer({ min: 0, max: 999_999 })).map(([ms, nanos]) => new Date(ms).toISOString().replace('Z', String(nanos).padStart(6, '0') + 'Z'))

const falcoAlert = fc.record(
  {
    rule: fc.oneof(fc.constantFrom('Terminal shell in container', 'Read sensitive file untrusted', 'Contact K8S API Server From Container', 'Drop and execute new binary in container'), text),
    priority: fc.constantFrom(...PRIORITIES, 'warning', 'INFO'),
    time,
    output: fc.option(text, { nil: undefined }),
    source: fc.oneof(fc.constantFrom('syscall', 'k8s_audit', 'aws_cloudtrail', 'internal', 'okta'), text),
    hostname: fc.option(fc.oneof(fc.constantFrom('ip-10-0-1-23.eu-west-1.compute.internal', 'bare-metal-7'), text), { nil: undefined }),
    tags,
    output_fields: fc.tuple(anyFields, processFields, fc.option(container), fc.option(k8s), fc.option(network)).map(([a, p, c, k, n]) => ({ ...a, ...p, ...c, ...k, ...n })),
  },
  { requiredKeys: ['rule', 'priority', 'time', 'tags', 'output_fields'] },
)

/** Falco's own events: source internal, its counters as output fields, no workload. */
const falcoInternal = fc.record({
  rule: fc.constantFrom('Falco internal: syscall event drop', 'Falco internal: timeouts notification', 'Falco internal: hot restart failure', 'Falco internal: new thing'),
  priority: fc.constantFrom('Debug', 'Critical', 'Warning'),
  time,
  output: fc.constant('Falco internal: syscall event drops'),
  source: fc.constant('internal'),
  hostname: fc.option(text, { nil: undefined }),
  tags: fc.constant([] as string[]),
  output_fields: fc.dictionary(fc.constantFrom('n_drops', 'n_evts', 'n_drops_buffer_total', 'ebpf_enabled', 'n_drops_pf', 'n_drops_bug', 'n_drops_scratch_map'), fc.oneof(number, fc.boolean())),
})

/** Enrichment Falco itself does not give: node facts, owner, IAM role, labels (any may be absent). */
const enrichment = fc.record(
  {
    nodeInfo: fc.record({ instanceId: fc.stringMatching(/^i-[0-9a-f]{17}$/), zone: fc.constantFrom('eu-west-1a', 'eu-west-1b'), instanceType: text, fargate: fc.boolean() }, { requiredKeys: [] }),
    owner: fc.record({ kind: fc.constantFrom('Deployment', 'DaemonSet', 'Job'), name: text }),
    iam: fc.record({ via: fc.constantFrom('irsa', 'pod-identity', 'node'), roleArn: fc.oneof(fc.constant('arn:aws:iam::111122223333:role/cart'), text) }, { requiredKeys: ['via'] }),
    labels: fc.dictionary(text, text, { maxKeys: 4 }),
    podUid: fc.oneof(fc.uuid(), text),
    serviceAccount: text,
  },
  { requiredKeys: [] },
)

/** Where the finding is in its life: count, version, archived. */
const lifecycle = fc.record({ count: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 5_000_000 })), archived: fc.boolean(), version: fc.integer({ min: 1, max: 1000 }) })

function finding(event: SecurityEvent, life: { count: number; archived: boolean; version: number }): Finding {
  const f = findingFromEvent(event, OPTIONS)
  return { ...f, count: life.count, version: life.version, ...(life.archived ? { archived: true } : {}) }
}

// ---- checks ----

/** OCSF 1.6.0 profiles' attributes (ocsf-schema profiles/*.json at tag 1.6.0) outside Detection Finding's own. */
const SECURITY_CONTROL_ONLY = ['action', 'action_id', 'attacks', 'authorizations', 'disposition', 'disposition_id', 'firewall_rule', 'policy']
const INCIDENT = ['assignee', 'assignee_group', 'impact', 'impact_id', 'impact_score', 'is_suspected_breach', 'priority', 'priority_id', 'src_url', 'ticket', 'tickets', 'verdict', 'verdict_id']

/**
 * The profiles an event must list (it uses an attribute only a profile adds) and may list (it
 * uses `device`, which Detection Finding has of its own and the host profile adds too).
 */
function profilesOf(e: any): { must: Set<string>; may: Set<string> } {
  const must = new Set<string>()
  if (e.cloud || e.api || (e.resources ?? []).some((r: any) => r.region || r.zone || r.cloud_partition)) must.add('cloud')
  if (e.actor) must.add('host')
  const processes = [...(e.evidences ?? []).map((x: any) => x.process), e.actor?.process].filter(Boolean)
  if (e.device?.container || processes.some((p: any) => p.container || p.parent_process?.container || p.namespace_pid !== undefined)) must.add('container')
  if (SECURITY_CONTROL_ONLY.some((k) => k in e)) must.add('security_control')
  if (INCIDENT.some((k) => k in e)) must.add('incident')
  if (JSON.stringify(e).includes('_dt"')) must.add('datetime')
  const may = new Set(must)
  if (e.device) may.add('host')
  return { must, may }
}

function problems(f: Finding, e: DetectionFinding): string[] {
  const out = ocsfProblems(e)
  const activity = f.archived ? 3 : f.count <= 1 ? 1 : 2
  if (e.activity_id !== activity) out.push(`activity_id ${e.activity_id}, expected ${activity}`)
  if (e.type_uid !== 2004 * 100 + e.activity_id) out.push(`type_uid ${e.type_uid}`)
  if (e.status_id !== (f.archived ? 5 : 1)) out.push(`status_id ${e.status_id}`)
  if (e.count !== f.count) out.push(`count ${e.count} vs ${f.count}`)
  const asff = toAsff(f, CTX)
  if (e.finding_info.uid !== asff.Id) out.push('finding_info.uid is not the ASFF Id')
  if (e.severity_id !== SEVERITY_ID[asff.Severity!.Label!]) out.push(`severity_id ${e.severity_id} vs ASFF ${asff.Severity!.Label}`)
  if (e.finding_info.title !== asff.Title) out.push('title differs from ASFF')
  const { must, may } = profilesOf(e)
  const listed = new Set(e.metadata.profiles)
  for (const p of must) if (!listed.has(p)) out.push(`profile ${p} used but not listed`)
  for (const p of listed) if (!may.has(p)) out.push(`profile ${p} listed but none of its attributes used`)
  for (const a of e.finding_info.attacks ?? []) {
    if (a.tactic && !/^TA\d{4}$/.test(a.tactic.uid ?? '')) out.push(`tactic ${a.tactic.uid}`)
    if (!a.technique && !a.tactic) out.push('an attack with neither tactic nor technique')
    if (a.technique && !/^T\d{4}$/.test(a.technique.uid ?? '')) out.push(`technique ${a.technique.uid}`)
    if (a.sub_technique && !(a.sub_technique.uid ?? '').startsWith(`${a.technique?.uid}.`)) out.push(`sub-technique ${a.sub_technique.uid} under ${a.technique?.uid}`)
  }
  const named = new Set((e.finding_info.attacks ?? []).flatMap((a) => [a.technique?.uid, a.sub_technique?.uid]))
  for (const tag of f.event.tags) if (/^T\d{4}(\.\d{3})?$/.test(tag) && (e.finding_info.attacks?.length ?? 0) < 50 && !named.has(tag)) out.push(`tag ${tag} not in attacks`)
  for (const [k, v] of Object.entries(e.unmapped)) if (typeof v !== 'string') out.push(`unmapped ${k} is not a string`)
  const notAvailable = [...Object.values(e.unmapped), ...(e.evidences ?? []).map((x) => x.connection_info?.protocol_name)].filter((v) => v?.toUpperCase() === '<NA>')
  if (notAvailable.length > 0) out.push('Falco\'s "<NA>" (not available) written as a value')
  const times = [e.time, e.start_time, e.end_time, e.finding_info.created_time, e.finding_info.modified_time, e.finding_info.first_seen_time, e.finding_info.last_seen_time]
  if (!times.every((x) => Number.isSafeInteger(x) && x! > 946_684_800_000)) out.push(`timestamps ${times}`)
  if (e.start_time! > e.end_time!) out.push('start_time after end_time')
  try {
    checkRow(e)
  } catch (err) {
    out.push(`Parquet: ${(err as Error).message}`)
  }
  const fitted = fitOcsf(e, 200_000)
  if (Buffer.byteLength(JSON.stringify(fitted)) > 200_000) out.push(`fitOcsf left ${Buffer.byteLength(JSON.stringify(fitted))} bytes`)
  if (fitted !== e) out.push(...ocsfProblems(fitted).map((p) => `fitted: ${p}`))
  return out
}

const written: DetectionFinding[] = []

function holds(f: Finding): boolean {
  const e = toOcsf(f, CTX)
  const found = problems(f, e)
  if (found.length > 0) throw new Error(found.join('\n'))
  if (written.length < 400 && JSON.stringify(e).length < 100_000) written.push(e)
  return true
}

t.test('Falco alerts with any fields, values, tags, with or without Kubernetes and a container', async (t) => {
  fc.assert(
    fc.property(falcoAlert, fc.option(enrichment, { nil: undefined }), lifecycle, (alert, enrich, life) => {
      let event: SecurityEvent
      try {
        event = normalizeFalcoAlert(alert)
      } catch {
        fc.pre(false) // refused at the door with a 400 (test/fuzz covers that), never encoded
        return true
      }
      const enriched = enrich ? { ...event, workload: { ...event.workload, ...enrich } } : event
      return holds(finding(enriched as SecurityEvent, life))
    }),
    fuzz(300),
  )
  t.pass('300 alerts')
})

t.test('Falco internal events', async (t) => {
  fc.assert(
    fc.property(falcoInternal, lifecycle, (alert, life) => holds(finding(gradeFalcoInternal(normalizeFalcoAlert(alert)), life))),
    fuzz(60),
  )
  t.pass('60 internal events')
})

t.test('audit detections from recorded events with another principal, source address, client and response', async (t) => {
  const events = auditFixtureNames().flatMap((name) => auditFixture(name))
  const mutation = fc.record({
    index: fc.nat(events.length - 1),
    username: fc.option(text, { nil: undefined }),
    arn: fc.option(fc.oneof(fc.constant('arn:aws:sts::111122223333:assumed-role/Admin/alice'), text), { nil: undefined }),
    groups: fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }),
    sourceIPs: fc.option(fc.array(ip, { maxLength: 3 }), { nil: undefined }),
    userAgent: fc.option(text, { nil: undefined }),
    code: fc.option(fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constantFrom(0, -1, 2 ** 31, 1e12)), { nil: undefined }),
  })
  let detections = 0
  fc.assert(
    fc.property(mutation, lifecycle, (m, life) => {
      const base = events[m.index]!
      const user = { ...base.user, ...(m.username !== undefined ? { username: m.username } : {}), ...(m.groups ? { groups: m.groups } : {}) }
      if (m.arn !== undefined) user.extra = { ...(user.extra ?? {}), arn: [m.arn] }
      const event = { ...base, user, ...(m.sourceIPs ? { sourceIPs: m.sourceIPs } : {}), ...(m.userAgent !== undefined ? { userAgent: m.userAgent } : {}), ...(m.code !== undefined ? { responseStatus: { code: m.code } } : {}) }
      for (const detection of detector().detect(event)) {
        detections++
        holds(finding(detection, life))
      }
      return true
    }),
    fuzz(300),
  )
  t.ok(detections >= 50, `${detections} audit detections encoded`)
})

t.test('silent-source findings and their recovery', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...SOURCE_KINDS), text, fc.boolean(), lifecycle, (kind, identity, recovered, life) => {
      const source = { kind, identity, lastSeen: Date.parse('2026-11-21T10:00:00Z') }
      const now = source.lastSeen + 900_000
      const event = recovered ? recoveredEvent(source, now, 'Notice', source.lastSeen, 'talks again') : silentEvent(source, now, 'Warning')
      const f = finding(event, life)
      const attacks = toOcsf(f, CTX).finding_info.attacks ?? []
      if (!attacks.every((a) => a.technique?.name && a.sub_technique?.name && a.tactic?.uid === 'TA0005')) throw new Error(`ATT&CK names: ${JSON.stringify(attacks)}`)
      return holds(f)
    }),
    fuzz(40),
  )
  t.pass('40 silent-source findings')
})

t.test("every technique Falco's rules and falconet's detections name has its ATT&CK name", async (t) => {
  const base = normalizeFalcoAlert({ rule: 'r', priority: 'Notice', time: '2026-11-21T10:00:00Z', output: 'x', tags: [] })
  const detected = auditFixtureNames()
    .flatMap((name) => auditFixture(name).flatMap((e) => detector().detect(e)))
    .flatMap((d) => d.tags)
  for (const tag of new Set([...UPSTREAM_TECHNIQUES, ...detected.filter((x) => /^T\d{4}/.test(x))])) {
    const [attack] = toOcsf(findingFromEvent({ ...base, tags: ['mitre_execution', tag] }, OPTIONS), CTX).finding_info.attacks!
    t.ok(attack?.technique?.name && (!tag.includes('.') || attack.sub_technique?.name), `${tag}: ${attack?.sub_technique?.name ?? attack?.technique?.name}`)
  }
})

t.test('what the properties generated reads back from Parquet with pyarrow unchanged', async (t) => {
  t.ok(written.length >= 200, `${written.length} events`)
  const read = readParquetBack(written)
  t.equal(read.rows.length, written.length)
  // Rows come back sorted by time; compare as sorted lists of canonical JSON.
  const canonical = (rows: unknown[]) => rows.map((r) => JSON.stringify(sortedKeys(r))).sort()
  const got = canonical(read.rows)
  const want = canonical(written)
  const differ = got.filter((r, i) => r !== want[i]).length
  t.equal(differ, 0, 'every row as written')
  t.same(
    read.rows.flatMap((r: unknown) => ocsfProblems(r)),
    [],
    'every row read back is valid OCSF',
  )
})
