import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { Finding } from '../model/finding.js'
import { type FieldValue, provenanceEntries, type SecurityEvent } from '../model/event.js'
import type { SeverityLabel } from '../model/severity.js'
import type { AsffContext } from '../asff/context.js'
import { findingTypes } from '../asff/types.js'
import { describe, singleLine } from '../asff/build.js'
import { LIMITS, truncate } from '../asff/limits.js'
import { attacksOf } from './mitre.js'
import { INT32_MAX, isInt32 } from '../model/int32.js'
import { connectionOf } from '../model/network.js'
import type { DetectionFinding, Evidence, OcsfFile, OcsfProcess, OcsfContainer, ResourceDetails } from './types.js'

/**
 * Finding → OCSF 1.6.0 Detection Finding (class 2004, category 2 Findings), from the same finding
 * the ASFF encoder reads: `finding_info.uid` is the ASFF `Id`, the severity comes from the same
 * label, `count` is the aggregate count. Every attribute is one the class (or a profile it lists in
 * `metadata.profiles`) defines; what has no OCSF attribute goes to `unmapped` as flat
 * "<owner>/<name>" → string pairs, the same keys ASFF's ProductFields use. Checked in tests
 * against the OCSF 1.6.0 JSON Schema (test/fixtures/ocsf/).
 */
export const OCSF_VERSION = '1.6.0'
export const CLASS_UID = 2004
export const CATEGORY_UID = 2

const ACTIVITY = { 1: 'Create', 2: 'Update', 3: 'Close' } as const
/** Consistent with ASFF: the label Security Hub gets is the OCSF severity, one step for one step. */
const SEVERITY: Record<SeverityLabel, { id: number; name: string }> = {
  INFORMATIONAL: { id: 1, name: 'Informational' },
  LOW: { id: 2, name: 'Low' },
  MEDIUM: { id: 3, name: 'Medium' },
  HIGH: { id: 4, name: 'High' },
  CRITICAL: { id: 5, name: 'Critical' },
}

const PRODUCT_VERSION = (() => {
  try {
    // ../../package.json from both src/ocsf/ and dist/ocsf/.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return undefined
  }
})()

/** OCSF timestamp_t: epoch milliseconds (the finding's times keep nanoseconds; original_time keeps them all). */
const ms = (time: string) => Date.parse(time)

/**
 * 1 Create for the first version of a finding in its window (a single occurrence), 2 Update when
 * it changed since (the count grew), 3 Close when it was archived. Every sink derives it from the
 * finding alone, so Security Lake, EventBridge and the files agree on it.
 */
export function activityOf(finding: Finding): 1 | 2 | 3 {
  if (finding.archived) return 3
  return finding.count <= 1 ? 1 : 2
}

export function toOcsf(finding: Finding, ctx: AsffContext): DetectionFinding {
  const { event } = finding
  const activity = activityOf(finding)
  const severity = SEVERITY[finding.severity]
  const unmapped = new Unmapped()
  const process = processOf(event, unmapped)
  const container = containerOf(event)
  const attacks = attacksOf(event)
  const profiles = new Set<string>(['cloud'])
  const ocsf: DetectionFinding = {
    activity_id: activity,
    activity_name: ACTIVITY[activity],
    category_uid: CATEGORY_UID,
    category_name: 'Findings',
    class_uid: CLASS_UID,
    class_name: 'Detection Finding',
    type_uid: CLASS_UID * 100 + activity,
    type_name: `Detection Finding: ${ACTIVITY[activity]}`,
    severity_id: severity.id,
    severity: severity.name,
    status_id: finding.archived ? 5 : 1,
    status: finding.archived ? 'Archived' : 'New',
    time: ms(finding.updatedAt),
    timezone_offset: 0,
    start_time: ms(finding.firstObservedAt),
    end_time: ms(finding.lastObservedAt),
    count: Math.min(finding.count, INT32_MAX),
    is_alert: !finding.archived,
    message: bounded(describe(event)),
    metadata: {
      version: OCSF_VERSION,
      // One delivery of one version: the same row written twice after a crash has the same uid.
      uid: `${finding.id}/${finding.version}`,
      correlation_uid: finding.id,
      original_time: event.time,
      product: { name: 'falconet', vendor_name: 'falconet', ...(PRODUCT_VERSION ? { version: PRODUCT_VERSION } : {}) },
      profiles: [],
      labels: event.tags
        .filter((t) => /\S/.test(t))
        .slice(0, 100)
        .map((t) => bounded(t, 256)),
      log_provider: event.input,
    },
    finding_info: {
      uid: finding.id,
      // The ASFF Title exactly (Security Hub's 256), so the two read the same; analytic.name keeps more.
      title: truncate(singleLine(event.rule), LIMITS.title),
      desc: bounded(describe(event)),
      created_time: ms(finding.firstObservedAt),
      modified_time: ms(finding.updatedAt),
      first_seen_time: ms(finding.firstObservedAt),
      last_seen_time: ms(finding.lastObservedAt),
      types: findingTypes(event),
      data_sources: [bounded(`${event.input}:${event.source}`, 256)],
      analytic: analyticOf(event),
      ...(attacks.length > 0 ? { attacks } : {}),
    },
    cloud: {
      provider: 'AWS',
      region: ctx.region,
      cloud_partition: ctx.partition,
      account: { uid: ctx.accountId, type_id: 10, type: 'AWS Account' },
      ...(event.workload.nodeInfo?.zone ? { zone: event.workload.nodeInfo.zone } : {}),
    },
    resources: resourcesOf(event, ctx),
    unmapped: {},
  }
  const device = deviceOf(event, ctx, container)
  if (device) {
    ocsf.device = device
    profiles.add('host')
  }
  const actor = actorOf(event, process)
  if (actor) {
    ocsf.actor = actor
    profiles.add('host')
  }
  const api = apiOf(event)
  if (api) ocsf.api = api
  const evidence = evidenceOf(event, process, container, api, unmapped)
  if (evidence) ocsf.evidences = [evidence]
  // The container profile's attribute is `container` on process and device (endpoint) objects;
  // evidences[].container is the evidence object's own, so it alone does not list the profile.
  if (container && (device?.container || evidence?.process?.container)) profiles.add('container')
  ocsf.metadata.profiles = [...profiles].sort()
  unmappedOf(finding, ctx, unmapped)
  ocsf.unmapped = unmapped.fields
  return ocsf
}

const TEXT_MAX = 16_384

/**
 * OCSF integer_t (pid, auid, count, port, response code) is a 32-bit signed integer, and the
 * Parquet columns Security Lake reads are INT32: a value outside it (a hostile sender's pid, a
 * loginuid printed as 4294967295) stays in unmapped as text rather than break the row.
 */

/** Cut with ASFF's marker, never between the halves of a surrogate pair (Parquet writes UTF-8). */
function bounded(text: string, max = TEXT_MAX): string {
  return truncate(text, max)
}

/**
 * Within `maxBytes` of JSON (EventBridge's 256 KB per call): every attribute is already bounded,
 * so only a pathological event gets here; the producer's raw fields in `unmapped` go first, last
 * key first, and `metadata.is_truncated` says so.
 */
export function fitOcsf(event: DetectionFinding, maxBytes: number): DetectionFinding {
  const size = (e: DetectionFinding) => Buffer.byteLength(JSON.stringify(e))
  if (size(event) <= maxBytes) return event
  const unmapped = { ...event.unmapped }
  const keys = Object.keys(unmapped)
  const raw = keys.filter((k) => !k.startsWith('falconet/'))
  const order = [...keys.filter((k) => k.startsWith('falconet/')), ...raw]
  const out: DetectionFinding = { ...event, metadata: { ...event.metadata, is_truncated: true }, unmapped }
  while (order.length > 0 && size(out) > maxBytes) delete unmapped[order.pop()!]
  // Still too big (a hostile sender's megabyte hostname, pod name, command line): cut every long
  // string, tighter each round, rather than lose the finding to the size limit.
  let clipped: DetectionFinding = out
  for (const max of [4096, 1024, 256]) {
    if (size(clipped) <= maxBytes) break
    clipped = clipStrings(clipped, max) as DetectionFinding
  }
  return clipped
}

/** Every string longer than `max` cut (uids are short; nothing with a pattern is ever this long). */
function clipStrings(value: unknown, max: number): unknown {
  if (typeof value === 'string') return value.length > max ? truncate(value, max) : value
  if (Array.isArray(value)) return value.map((v) => clipStrings(v, max))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clipStrings(v, max)]))
  return value
}

function analyticOf(event: SecurityEvent): DetectionFinding['finding_info']['analytic'] {
  const id = text(event.fields['detection.id'])
  return {
    name: bounded(singleLine(event.rule), LIMITS.otherString),
    ...(id ? { uid: bounded(id, LIMITS.otherString) } : {}),
    type_id: 1,
    type: 'Rule',
    category: bounded(event.source, 256),
  }
}

/** Falco's process fields. OCSF's process needs a pid: without one, its facts go to unmapped. */
function processOf(event: SecurityEvent, unmapped: Unmapped): OcsfProcess | undefined {
  const p = event.process
  if (!p) return undefined
  if (p.pid !== undefined && !isInt32(p.pid)) unmapped.add('falconet/process.pid', String(p.pid))
  if (p.parentPid !== undefined && !isInt32(p.parentPid)) unmapped.add('falconet/process.parentPid', String(p.parentPid))
  if (p.loginUid !== undefined && !isInt32(p.loginUid)) unmapped.add('falconet/process.loginUid', String(p.loginUid))
  if (!isInt32(p.pid)) {
    // Falco's stock rule outputs print no proc.pid (add it with append_output to get the process object).
    unmapped.add('falconet/process.name', p.name)
    unmapped.add('falconet/process.commandLine', p.commandLine)
    unmapped.add('falconet/process.parentName', p.parentName)
    if (isInt32(p.parentPid)) unmapped.add('falconet/process.parentPid', String(p.parentPid))
    if (isInt32(p.loginUid)) unmapped.add('falconet/process.loginUid', String(p.loginUid))
    return undefined
  }
  const process: OcsfProcess = { pid: p.pid }
  if (nonEmpty(p.name)) process.name = p.name
  if (nonEmpty(p.commandLine)) process.cmd_line = p.commandLine
  const file = executableOf(event)
  if (file) process.file = file
  if (isInt32(p.parentPid)) process.parent_process = { pid: p.parentPid, ...(nonEmpty(p.parentName) ? { name: p.parentName } : {}) }
  else if (nonEmpty(p.parentName)) unmapped.add('falconet/process.parentName', p.parentName)
  const user = processUser(p.user, p.uid)
  if (user) process.user = user
  if (isInt32(p.loginUid)) process.auid = p.loginUid
  return process
}

/** The executed file: evidence in itself, also when the process has no pid. */
function executableOf(event: SecurityEvent): OcsfFile | undefined {
  const path = event.process?.executable
  if (!path || !nonEmpty(path)) return undefined
  return { name: path.slice(path.lastIndexOf('/') + 1) || path, path, type_id: 1, type: 'Regular File' }
}

function processUser(name: string | undefined, uid: number | undefined): { name?: string; uid?: string } | undefined {
  const user: { name?: string; uid?: string } = {}
  if (nonEmpty(name)) user.name = name
  if (uid !== undefined) user.uid = String(uid)
  return Object.keys(user).length > 0 ? user : undefined
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

function containerOf(event: SecurityEvent): OcsfContainer | undefined {
  const c = event.workload.container
  if (!c || (!nonEmpty(c.id) && !nonEmpty(c.name))) return undefined
  const container: OcsfContainer = {}
  if (nonEmpty(c.id)) container.uid = c.id
  if (nonEmpty(c.name)) container.name = c.name
  const imageUid = nonEmpty(c.imageDigest) ? c.imageDigest : nonEmpty(c.imageRepository) ? `${c.imageRepository}${c.imageTag ? `:${c.imageTag}` : ''}` : undefined
  if (imageUid) {
    container.image = { uid: imageUid }
    if (nonEmpty(c.imageRepository)) container.image.name = c.imageRepository
    if (nonEmpty(c.imageTag)) container.image.tag = c.imageTag
  }
  if (event.workload.pod) container.orchestrator = 'Kubernetes'
  if (event.workload.podUid && UUID.test(event.workload.podUid)) container.pod_uuid = event.workload.podUid
  return container
}

/** The node (host profile), with the container the event happened in (container profile). */
function deviceOf(event: SecurityEvent, ctx: AsffContext, container: OcsfContainer | undefined): DetectionFinding['device'] {
  const host = event.workload.node ?? event.hostname
  const node = event.workload.nodeInfo
  if (!nonEmpty(host) && !node?.instanceId) return undefined
  return {
    type_id: 1,
    ...(container ? { container } : {}),
    type: 'Server',
    ...(nonEmpty(host) ? { hostname: host, name: host } : {}),
    ...(node?.instanceId ? { instance_uid: node.instanceId } : {}),
    ...(node?.region || node?.instanceId ? { region: node?.region ?? ctx.region } : {}),
    ...(node?.zone ? { zone: node.zone } : {}),
  }
}

/** Who did it: the principal behind an audited API call, or the user a runtime process ran as. */
function actorOf(event: SecurityEvent, process: OcsfProcess | undefined): DetectionFinding['actor'] {
  const a = event.actor
  if (a && (nonEmpty(a.username) || nonEmpty(a.arn))) {
    const user: NonNullable<NonNullable<DetectionFinding['actor']>['user']> = {}
    if (nonEmpty(a.username)) user.name = a.username
    if (nonEmpty(a.arn)) user.uid = a.arn
    const groups = (a.groups ?? []).filter((g) => nonEmpty(g)).slice(0, 100)
    if (groups.length > 0) user.groups = groups.map((name) => ({ name }))
    if (a.arn && /^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(a.arn)) user.account = { uid: a.arn.split(':')[4]!, type_id: 10, type: 'AWS Account' }
    return { user }
  }
  if (process?.user) return { user: process.user }
  return undefined
}

/**
 * A Kubernetes API call: falconet's own audit detections, and Falco's k8saudit / k8saudit-eks
 * plugin alerts (source k8s_audit), which carry the same ka.* fields.
 */
function isAudited(event: SecurityEvent): boolean {
  return event.input === 'k8s-audit' || event.source === 'k8s_audit'
}

function apiOf(event: SecurityEvent): DetectionFinding['api'] {
  const verb = text(event.fields['ka.verb'])
  if (!isAudited(event) || !verb) return undefined
  const api: NonNullable<DetectionFinding['api']> = { operation: verb, service: { name: 'kubernetes' } }
  const auditId = text(event.fields['ka.auditid'])
  if (auditId) api.request = { uid: auditId }
  const code = Number(event.fields['ka.response.code'])
  if (isInt32(code) && code > 0) api.response = { code }
  return api
}

/** What the finding rests on: the process (with its container), the connection, the API caller. */
function evidenceOf(event: SecurityEvent, process: OcsfProcess | undefined, container: OcsfContainer | undefined, api: DetectionFinding['api'], unmapped: Unmapped): Evidence | undefined {
  const evidence: Evidence = {}
  if (process) evidence.process = container ? { ...process, container } : process
  else {
    // No pid, no OCSF process: the executable and the user it ran as are still evidence.
    const file = executableOf(event)
    if (file) evidence.file = file
    const user = processUser(event.process?.user, event.process?.uid)
    if (user) evidence.user = user
  }
  const c = connectionOf(event.fields)
  const endpoint = (ip: string | undefined, port: number | undefined) => (ip && isIP(ip) ? { ip, ...(port !== undefined ? { port } : {}) } : undefined)
  const src = endpoint(c?.clientIp, c?.clientPort)
  const dst = endpoint(c?.serverIp, c?.serverPort)
  if (src) evidence.src_endpoint = src
  if (dst) evidence.dst_endpoint = dst
  if (src || dst) {
    const direction = c?.direction === 'OUT' ? 2 : c?.direction === 'IN' ? 1 : 0
    evidence.connection_info = { direction_id: direction, direction: ['Unknown', 'Inbound', 'Outbound'][direction]!, ...(c?.protocol ? { protocol_name: c.protocol.toLowerCase() } : {}) }
  }
  // An audited API call: its caller's address and client.
  const ip = event.actor?.sourceIps?.find((a) => isIP(a))
  if (isAudited(event) && ip) evidence.src_endpoint = { ip }
  if (isAudited(event) && nonEmpty(event.actor?.userAgent)) evidence.http_request = { user_agent: event.actor!.userAgent! }
  // OCSF's evidence needs one of these (at_least_one); a client (http_request) or a container alone is not enough.
  if (!EVIDENCE_ANCHORS.some((k) => k in evidence)) {
    // An audited call with no usable source address: the call itself is the evidence its client goes with.
    if (evidence.http_request && api) evidence.api = api
    else {
      unmapped.add('falconet/actor.userAgent', evidence.http_request?.user_agent)
      return undefined
    }
  }
  // With anything else the container goes along.
  if (container) evidence.container = container
  return evidence
}

/** The evidence attributes falconet writes that satisfy OCSF's at_least_one on the evidences object. */
const EVIDENCE_ANCHORS = ['process', 'file', 'user', 'src_endpoint', 'dst_endpoint', 'connection_info', 'api'] as const

/** The pod, its container, workload, namespace and node, the IAM role, the cluster — and an audited call's target. */
function resourcesOf(event: SecurityEvent, ctx: AsffContext): ResourceDetails[] {
  const w = event.workload
  const list: ResourceDetails[] = []
  const base = { region: ctx.region, cloud_partition: ctx.partition }
  if (w.pod) {
    const labels = Object.entries(w.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .slice(0, 100)
    list.push({ type: 'Pod', name: w.pod, ...(w.podUid ? { uid: w.podUid } : {}), ...(w.namespace ? { namespace: w.namespace } : {}), ...(labels.length ? { labels } : {}), ...base })
  }
  const c = w.container
  if (c && (nonEmpty(c.id) || nonEmpty(c.name))) {
    list.push({ type: 'Container', ...(nonEmpty(c.id) ? { uid: c.id } : {}), ...(nonEmpty(c.name) ? { name: c.name } : {}), ...(w.namespace ? { namespace: w.namespace } : {}), ...base })
  }
  if (w.owner) list.push({ type: w.owner.kind, name: w.owner.name, ...(w.namespace ? { namespace: w.namespace } : {}), ...base })
  if (w.namespace) list.push({ type: 'Namespace', name: w.namespace, ...base })
  const node = w.nodeInfo
  if (node?.instanceId) {
    const region = node.region ?? ctx.region
    list.push({
      type: 'AwsEc2Instance',
      uid: `arn:${ctx.partition}:ec2:${region}:${ctx.accountId}:instance/${node.instanceId}`,
      ...(w.node ? { name: w.node, hostname: w.node } : {}),
      region,
      cloud_partition: ctx.partition,
      ...(node.zone ? { zone: node.zone } : {}),
    })
  } else if (nonEmpty(w.node)) {
    list.push({ type: 'Node', name: w.node!, hostname: w.node!, ...base })
  }
  const roleArn = w.iam?.roleArn
  if (roleArn && /^arn:aws[a-z-]*:iam::\d{12}:role\//.test(roleArn)) {
    list.push({ type: 'AwsIamRole', uid: roleArn, name: roleArn.slice(roleArn.lastIndexOf('/') + 1), ...base })
  }
  const targetResource = text(event.fields['ka.target.resource'])
  if (isAudited(event) && targetResource) {
    const name = text(event.fields['ka.target.name'])
    const ns = text(event.fields['ka.target.namespace'])
    list.push({ type: targetResource, name: name ?? targetResource, ...(ns ? { namespace: ns } : {}), ...base })
  }
  if (ctx.cluster) {
    const arn = ctx.cluster.arn ?? `arn:${ctx.partition}:eks:${ctx.region}:${ctx.accountId}:cluster/${ctx.cluster.name}`
    list.push({ type: 'AwsEksCluster', uid: arn, name: ctx.cluster.name, ...base })
  }
  if (list.length === 0) list.push({ type: 'Other', name: event.hostname ?? `${event.input}/${event.source}`, ...base })
  return list
}

/**
 * Raw producer fields the encoder maps to OCSF attributes above (or the workload/process/actor
 * it reads from them). Every other raw field goes to unmapped under its producer's prefix.
 */
const MAPPED_FIELDS = new Set([
  'proc.pid',
  'proc.name',
  'proc.exepath',
  'proc.cmdline',
  'proc.ppid',
  'proc.pname',
  'user.name',
  'user.uid',
  'user.loginuid',
  'container.id',
  'container.name',
  'container.image.repository',
  'container.image.tag',
  'container.image.digest',
  'k8s.ns.name',
  'k8s.pod.name',
  'k8s.pod.uid',
  'ka.verb',
  'ka.user.name',
  'ka.user.groups',
  'ka.user.arn',
  'ka.sourceips',
  'ka.useragent',
  'ka.auditid',
  'ka.response.code',
  'ka.target.resource',
  'ka.target.name',
  'ka.target.namespace',
  'detection.id',
  'fd.cip',
  'fd.sip',
  'fd.cport',
  'fd.sport',
])

/** Raw fields keep their producer's names, under a prefix that says whose they are (as in ASFF ProductFields). */
const FIELD_PREFIX: Record<string, string> = { falco: 'falco/', 'k8s-audit': 'audit/', 'fluent-bit': 'log/', test: 'test/' }

function unmappedOf(finding: Finding, ctx: AsffContext, out: Unmapped): void {
  const { event } = finding
  const w = event.workload
  out.add('falconet/priority', event.priorityText.trim() || event.priority)
  out.add('falconet/input', event.input)
  out.add('falconet/source', event.source)
  for (const [key, value] of provenanceEntries(event.provenance)) out.add(key, value)
  out.add('falconet/version', String(finding.version))
  if (finding.distinctPods > 0) out.add('falconet/distinctPods', String(finding.distinctPods))
  if (finding.distinctContainers > 0) out.add('falconet/distinctContainers', String(finding.distinctContainers))
  if (finding.samplePods.length > 1) out.add('falconet/samplePods', finding.samplePods.join(','))
  if (finding.auditIds?.length) out.add('falconet/auditIds', finding.auditIds.join(','))
  out.add('falconet/cluster', ctx.cluster?.name)
  out.add('falconet/clusterId', w.clusterId)
  out.add('falconet/serviceAccount', w.serviceAccount)
  out.add('falconet/podIp', w.podIp)
  out.add('falconet/node.instanceType', w.nodeInfo?.instanceType)
  out.add('falconet/node.nodegroup', w.nodeInfo?.nodegroup ?? w.nodeInfo?.nodepool)
  out.add('falconet/node.capacityType', w.nodeInfo?.capacityType)
  if (w.nodeInfo?.fargate) out.add('falconet/node.fargate', 'true')
  out.add('falconet/iam.via', w.iam?.via)
  if (w.iam?.roleArn && !/^arn:aws[a-z-]*:iam::\d{12}:role\//.test(w.iam.roleArn)) out.add('falconet/iam.roleArn', w.iam.roleArn)
  out.add('falconet/iam.note', w.iam?.note)
  if (w.container?.startedAt) out.add('falconet/container.startedAt', w.container.startedAt)
  if (w.container?.privileged !== undefined) out.add('falconet/container.privileged', String(w.container.privileged))
  if (w.annotations && Object.keys(w.annotations).length > 0) out.add('falconet/annotations', JSON.stringify(w.annotations))
  if (w.namespaceLabels && Object.keys(w.namespaceLabels).length > 0) out.add('falconet/namespaceLabels', JSON.stringify(w.namespaceLabels))
  const prefix = FIELD_PREFIX[event.input] ?? `${event.input}/`
  for (const key of Object.keys(event.fields).sort()) {
    if (!MAPPED_FIELDS.has(key)) out.add(`${prefix}${key}`, fieldText(event.fields[key]))
  }
}

/** unmapped: flat string pairs (a map<string,string> in Parquet), bounded like ASFF's ProductFields values. */
class Unmapped {
  readonly fields: Record<string, string> = {}
  add(key: string, value: string | undefined): void {
    // "<NA>" is Falco's "not available": the field has no value, so it is not written.
    if (value === undefined || !/\S/.test(value) || value === '<NA>' || Object.keys(this.fields).length >= 200) return
    this.fields[bounded(key, 256)] = bounded(value, 4096)
  }
}

function fieldText(value: FieldValue | undefined): string | undefined {
  if (value === null || value === undefined) return undefined
  if (Array.isArray(value)) return value.length > 0 ? JSON.stringify(value) : undefined
  return String(value)
}

function text(v: FieldValue | undefined): string | undefined {
  if (typeof v === 'string' && /\S/.test(v)) return v
  if (typeof v === 'number') return String(v)
  return undefined
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && /\S/.test(v)
}
