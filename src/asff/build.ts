import type { AwsSecurityFinding, Network, ProcessDetails, Resource } from '@aws-sdk/client-securityhub'
import type { Finding } from '../model/finding.js'
import { type FieldValue, provenanceEntries, type SecurityEvent } from '../model/event.js'
import type { AsffContext } from './context.js'
import { findingTypes } from './types.js'
import { LIMITS, byteLength, nonEmpty, truncate } from './limits.js'
import { connectionOf } from '../model/network.js'
import { isInt32 } from '../model/int32.js'

/**
 * Finding → AWS Security Finding Format (schema 2018-10-08), as BatchImportFindings takes it.
 * Checked in tests against botocore's Security Hub API model and the documented limits.
 */
export function toAsff(finding: Finding, ctx: AsffContext): AwsSecurityFinding {
  const { event } = finding
  const severity = { Label: finding.severity, Original: truncate(event.priorityText.trim() || event.priority, LIMITS.severityOriginal) }
  const types = findingTypes(event)
  const asff: AwsSecurityFinding = {
    SchemaVersion: '2018-10-08',
    Id: finding.id,
    ProductArn: ctx.productArn,
    ProductName: 'falconet',
    CompanyName: 'falconet',
    Region: ctx.region,
    GeneratorId: truncate(`${event.input}/${event.source}/${event.rule}`, 512),
    AwsAccountId: ctx.accountId,
    Types: types,
    CreatedAt: finding.firstObservedAt,
    UpdatedAt: finding.updatedAt,
    FirstObservedAt: finding.firstObservedAt,
    LastObservedAt: finding.lastObservedAt,
    Severity: severity,
    FindingProviderFields: { Severity: severity, Types: types },
    Title: truncate(singleLine(event.rule), LIMITS.title),
    Description: truncate(describe(event), LIMITS.description),
    Resources: resources(event, ctx),
    ProductFields: productFields(finding, ctx),
    RecordState: finding.archived ? 'ARCHIVED' : 'ACTIVE',
  }
  const process = processDetails(event)
  if (process) asff.Process = process
  const network = networkDetails(event.fields)
  if (network) asff.Network = network
  const action = apiCallAction(finding)
  if (action) asff.Action = action
  return fitSize(asff)
}

/** Falco's output starts with its own clock time and priority; the finding has both already. */
const FALCO_OUTPUT_PREFIX = /^(\d{2}:\d{2}:\d{2}\.\d{9}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}[+-]\d{4}): (Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) /i

export function describe(event: SecurityEvent): string {
  const text = event.output.replace(FALCO_OUTPUT_PREFIX, '').trim()
  return /\S/.test(text) ? text : event.rule
}

export function singleLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

function resources(event: SecurityEvent, ctx: AsffContext): Resource[] {
  const base = { Partition: ctx.partition as Resource['Partition'], Region: ctx.region }
  const list: Resource[] = []
  const { workload } = event
  const container = workload.container
  if (container) {
    const details: NonNullable<NonNullable<Resource['Details']>['Container']> = {}
    const name = nonEmpty(container.name)
    if (name) details.Name = name
    const image = container.imageRepository ? container.imageRepository + (container.imageTag ? `:${container.imageTag}` : '') : undefined
    const imageName = nonEmpty(image)
    if (imageName) details.ImageName = imageName
    const imageId = nonEmpty(container.imageDigest)
    if (imageId) details.ImageId = imageId
    if (container.startedAt) details.LaunchedAt = container.startedAt
    if (container.privileged !== undefined) details.Privileged = container.privileged
    list.push({
      Type: 'Container',
      Id: truncate(containerResourceId(event), 512),
      ...base,
      Details: { Container: details },
    })
  }
  const node = workload.nodeInfo
  if (node?.instanceId) {
    const region = node.region ?? ctx.region
    const details: NonNullable<NonNullable<Resource['Details']>['AwsEc2Instance']> = {}
    if (node.instanceType) details.Type = node.instanceType
    list.push({
      Type: 'AwsEc2Instance',
      Id: `arn:${ctx.partition}:ec2:${region}:${ctx.accountId}:instance/${node.instanceId}`,
      Partition: ctx.partition as Resource['Partition'],
      Region: region,
      ...(Object.keys(details).length > 0 ? { Details: { AwsEc2Instance: details } } : {}),
    })
  }
  // A host event (no container) on a node enrichment did not name as an EC2 instance: with the
  // cluster as the other resource, the node would be in ProductFields only, not where Security
  // Hub filters and groups (ResourceId). Without a cluster the Other resource below names it.
  if (!container && !node?.instanceId && ctx.cluster && event.source === 'syscall' && event.hostname) {
    list.push({ Type: 'Other', Id: truncate(event.hostname, 512), ...base, Details: { Other: otherDetails(event) } })
  }
  const roleArn = workload.iam?.roleArn
  if (roleArn && /^arn:aws[a-z-]*:iam::\d{12}:role\//.test(roleArn)) {
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1)
    list.push({ Type: 'AwsIamRole', Id: truncate(roleArn, 512), ...base, Details: { AwsIamRole: { RoleName: roleName } } })
  }
  if (ctx.cluster) {
    const arn = ctx.cluster.arn ?? `arn:${ctx.partition}:eks:${ctx.region}:${ctx.accountId}:cluster/${ctx.cluster.name}`
    list.push({ Type: 'AwsEksCluster', Id: arn, ...base, Details: { AwsEksCluster: { Name: ctx.cluster.name, Arn: arn } } })
  } else {
    list.push({ Type: 'Other', Id: truncate(otherResourceId(event), 512), ...base, Details: { Other: otherDetails(event) } })
  }
  return list.slice(0, LIMITS.resources)
}

/** namespace/pod/container when Kubernetes names it; the runtime id on the node otherwise. */
function containerResourceId(event: SecurityEvent): string {
  const { namespace, pod, container } = event.workload
  if (namespace && pod) return `${namespace}/${pod}/${container?.name ?? container?.id ?? 'container'}`
  return `${event.hostname ?? 'host'}/${container?.id ?? container?.name ?? 'container'}`
}

function otherResourceId(event: SecurityEvent): string {
  const { namespace, pod } = event.workload
  if (event.source === 'k8s_audit') return `kubernetes/${namespace ?? 'cluster'}`
  if (namespace && pod) return `${namespace}/${pod}`
  return event.hostname ?? `${event.input}/${event.source}`
}

function otherDetails(event: SecurityEvent): Record<string, string> {
  const out: Record<string, string> = {}
  const add = (k: string, v: string | undefined) => {
    const value = nonEmpty(v)
    if (value) out[k] = value
  }
  add('hostname', event.hostname)
  add('namespace', event.workload.namespace)
  add('pod', event.workload.pod)
  return out
}

function processDetails(event: SecurityEvent): ProcessDetails | undefined {
  const p = event.process
  if (!p) return undefined
  const details: ProcessDetails = {}
  const name = nonEmpty(p.name, LIMITS.processName)
  if (name) details.Name = name
  const path = nonEmpty(p.executable, LIMITS.processPath)
  if (path) details.Path = path
  if (isInt32(p.pid)) details.Pid = p.pid
  if (isInt32(p.parentPid)) details.ParentPid = p.parentPid
  return Object.keys(details).length > 0 ? details : undefined
}

/**
 * A Kubernetes API call (audit detections) in ASFF's AwsApiCallAction terms: the call, the remote
 * caller and when it was first and last seen.
 */
function apiCallAction(finding: Finding): AwsSecurityFinding['Action'] | undefined {
  const { event } = finding
  const api = text(event.fields['ka.api'])
  if (event.input !== 'k8s-audit' || !api) return undefined
  const call: NonNullable<NonNullable<AwsSecurityFinding['Action']>['AwsApiCallAction']> = {
    Api: truncate(api, 256),
    ServiceName: 'kubernetes',
    CallerType: 'remoteip',
    FirstSeen: finding.firstObservedAt,
    LastSeen: finding.lastObservedAt,
  }
  const ip = text(event.fields['ka.sourceip'])
  if (ip && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) call.RemoteIpDetails = { IpAddressV4: ip }
  const targetName = [text(event.fields['ka.target.namespace']), text(event.fields['ka.target.name'])].filter(Boolean).join('/')
  const resource = text(event.fields['ka.target.resource'])
  if (resource) call.AffectedResources = { [resource]: targetName || resource }
  return { ActionType: 'AWS_API_CALL', AwsApiCallAction: call }
}

/** Falco's socket fields → ASFF Network. */
function networkDetails(fields: Record<string, FieldValue>): Network | undefined {
  const c = connectionOf(fields, LIMITS.otherString)
  if (!c) return undefined
  const network: Network = {}
  if (c.direction) network.Direction = c.direction
  const proto = nonEmpty(c.protocol, LIMITS.networkProtocol)
  if (proto) network.Protocol = proto.toUpperCase()
  if (c.clientIp) network[c.clientIp.includes(':') ? 'SourceIpV6' : 'SourceIpV4'] = c.clientIp
  if (c.serverIp) network[c.serverIp.includes(':') ? 'DestinationIpV6' : 'DestinationIpV4'] = c.serverIp
  if (c.clientPort !== undefined) network.SourcePort = c.clientPort
  if (c.serverPort !== undefined) network.DestinationPort = c.serverPort
  return network
}

function text(v: FieldValue | undefined): string | undefined {
  if (typeof v === 'string' && /\S/.test(v)) return v.slice(0, LIMITS.otherString)
  if (typeof v === 'number') return String(v)
  return undefined
}

/** Raw fields that say most about what happened, kept first when there are more than fit. */
const USEFUL_FIELDS = [
  'proc.cmdline',
  'proc.exepath',
  'proc.pname',
  'proc.pcmdline',
  'proc.aname[2]',
  'proc.aname[3]',
  'user.name',
  'user.uid',
  'user.loginuid',
  'fd.name',
  'fd.rip',
  'fd.rport',
  'evt.type',
  'evt.arg.flags',
  'container.id',
  'container.name',
  'container.image.repository',
  'container.image.tag',
  'k8s.ns.name',
  'k8s.pod.name',
  'ka.user.name',
  'ka.verb',
  'ka.uri',
  'ka.target.resource',
  'ka.target.namespace',
  'ka.target.name',
  'ka.req.binding.subjects',
  'ka.req.binding.role',
  'detection.id',
  'guardduty.equivalent',
  'ka.api',
  'ka.user.arn',
  'ka.user.session',
  'ka.sourceips',
  'ka.useragent',
  'ka.auth.decision',
  'ka.auth.reason',
  'ka.response.code',
  'ka.auditid',
  'ka.impersonated.user',
  'ka.target.subresource',
  'ka.user.groups',
]
const USEFUL_RANK = new Map(USEFUL_FIELDS.map((f, i) => [f, i]))

/** Raw fields keep their producer's names, under a prefix that says whose they are. */
const FIELD_PREFIX: Record<string, string> = { falco: 'falco/', 'k8s-audit': 'audit/', 'fluent-bit': 'log/', test: 'test/' }

function productFields(finding: Finding, ctx: AsffContext): Record<string, string> {
  const { event } = finding
  const out: Record<string, string> = {}
  const add = (key: string, value: string | undefined) => {
    const v = nonEmpty(value, LIMITS.productFieldValue)
    if (!v || Object.keys(out).length >= LIMITS.productFields) return
    let k = truncate(key, LIMITS.productFieldKey, '…')
    // Two long keys can cut to the same text: number the later one instead of overwriting.
    for (let n = 2; k in out; n++) k = truncate(key, LIMITS.productFieldKey - 4, '…') + `~${n}`
    out[k] = v
  }
  add('falconet/rule', event.rule)
  add('falconet/priority', event.priority)
  add('falconet/source', event.source)
  add('falconet/input', event.input)
  for (const [key, value] of provenanceEntries(event.provenance)) add(key, value)
  add('falconet/hostname', event.hostname)
  add('falconet/tags', event.tags.join(','))
  // ASFF has no count member: GuardDuty keeps its count in ProductFields too.
  add('falconet/count', String(finding.count))
  if (finding.distinctPods > 0) add('falconet/distinctPods', String(finding.distinctPods))
  if (finding.distinctContainers > 0) add('falconet/distinctContainers', String(finding.distinctContainers))
  if (finding.samplePods.length > 1) add('falconet/samplePods', finding.samplePods.join(','))
  if (finding.auditIds?.length) add('falconet/auditIds', finding.auditIds.join(','))
  add('falconet/cluster', ctx.cluster?.name)
  const w = event.workload
  add('falconet/namespace', w.namespace)
  add('falconet/pod', w.pod)
  if (w.owner) add('falconet/owner', `${w.owner.kind}/${w.owner.name}`)
  add('falconet/serviceAccount', w.serviceAccount)
  add('falconet/node', w.node)
  add('falconet/node.instanceId', w.nodeInfo?.instanceId)
  add('falconet/node.instanceType', w.nodeInfo?.instanceType)
  add('falconet/node.zone', w.nodeInfo?.zone)
  add('falconet/node.nodegroup', w.nodeInfo?.nodegroup ?? w.nodeInfo?.nodepool)
  add('falconet/node.capacityType', w.nodeInfo?.capacityType)
  if (w.nodeInfo?.fargate) add('falconet/node.fargate', 'true')
  add('falconet/iam.via', w.iam?.via)
  add('falconet/iam.roleArn', w.iam?.roleArn)
  add('falconet/iam.note', w.iam?.note)
  add('falconet/clusterId', w.clusterId)
  if (w.labels && Object.keys(w.labels).length > 0) add('falconet/labels', JSON.stringify(w.labels))
  if (w.annotations && Object.keys(w.annotations).length > 0) add('falconet/annotations', JSON.stringify(w.annotations))
  if (w.namespaceLabels && Object.keys(w.namespaceLabels).length > 0) add('falconet/namespaceLabels', JSON.stringify(w.namespaceLabels))
  add('falconet/eventTime', event.time)

  const keys = Object.keys(event.fields).filter((k) => fieldText(event.fields[k]) !== undefined)
  keys.sort((a, b) => (USEFUL_RANK.get(a) ?? 1e6) - (USEFUL_RANK.get(b) ?? 1e6) || (a < b ? -1 : a > b ? 1 : 0))
  const room = LIMITS.productFields - Object.keys(out).length
  const kept = keys.length > room ? keys.slice(0, room - 1) : keys
  const prefix = FIELD_PREFIX[event.input] ?? `${event.input}/`
  for (const key of kept) add(`${prefix}${key}`, fieldText(event.fields[key]))
  if (kept.length < keys.length) add('falconet/omittedFields', String(keys.length - kept.length))
  return out
}

/** Arrays stay JSON (k8saudit lists of subjects), numbers their decimal text, null is left out. */
function fieldText(value: FieldValue | undefined): string | undefined {
  if (value === null || value === undefined) return undefined
  if (Array.isArray(value)) return value.length > 0 ? JSON.stringify(value) : undefined
  const s = String(value)
  return /\S/.test(s) ? s : undefined
}

/**
 * Every member is already bounded, so this only fires for pathological input (say, 46 fields of
 * 2 KB of 4-byte characters): drop the least useful raw fields until the finding fits.
 */
function fitSize(asff: AwsSecurityFinding): AwsSecurityFinding {
  if (byteLength(asff) <= LIMITS.findingBytes) return asff
  const fields = { ...(asff.ProductFields ?? {}) }
  const raw = Object.keys(fields).filter((k) => k.startsWith('falco/'))
  let dropped = 0
  while (raw.length > 0 && byteLength({ ...asff, ProductFields: fields }) > LIMITS.findingBytes) {
    delete fields[raw.pop()!]
    dropped++
  }
  fields['falconet/truncatedFields'] = String(dropped)
  return { ...asff, ProductFields: fields }
}
