import { Type, type Static } from 'typebox'
import { PRIORITIES } from './severity.js'

/**
 * The normalized security event. Every source (Falco http_output, Fluent Bit records, Kubernetes
 * audit detections, the test endpoint) produces exactly this, so everything downstream — ids,
 * aggregation, enrichment, routing, sinks — is written once.
 */

const Str = Type.String()
const OptStr = Type.Optional(Type.String())

/** A raw field value after lossless parsing: integers beyond 2^53 arrive as decimal strings. */
export const FieldValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))])
export type FieldValue = Static<typeof FieldValue>

export const Container = Type.Object({
  id: OptStr, // Falco gives the 12-character short id; enrichment may give the full one
  name: OptStr,
  imageRepository: OptStr,
  imageTag: OptStr,
  imageDigest: OptStr,
  startedAt: OptStr, // RFC 3339
  privileged: Type.Optional(Type.Boolean()),
})

const Labels = Type.Optional(Type.Record(Type.String(), Type.String()))

/** What the Kubernetes API says about the node (enrichment). */
export const NodeInfo = Type.Object({
  instanceId: OptStr,
  instanceType: OptStr,
  zone: OptStr,
  region: OptStr,
  nodegroup: OptStr,
  nodepool: OptStr, // Karpenter
  capacityType: OptStr,
  fargate: Type.Optional(Type.Boolean()),
})

/** The AWS identity the pod's SDK uses: the blast radius. */
export const Iam = Type.Object({
  roleArn: OptStr,
  via: Type.Enum(['irsa', 'pod-identity', 'node-role']),
  /** Said when it matters: the pod falls back to the node role, or the pod env and the annotation disagree. */
  note: OptStr,
})

export const Workload = Type.Object({
  cluster: OptStr,
  /** The kube-system namespace's UID: a stable id for the cluster. */
  clusterId: OptStr,
  namespace: OptStr,
  pod: OptStr,
  podUid: OptStr,
  podIp: OptStr,
  /** The controller: Deployment, StatefulSet, DaemonSet, CronJob, Job… */
  owner: Type.Optional(Type.Object({ kind: Str, name: Str })),
  serviceAccount: OptStr,
  labels: Labels,
  annotations: Labels,
  namespaceLabels: Labels,
  container: Type.Optional(Container),
  node: OptStr, // the host the event happened on (Falco's hostname for syscall events)
  nodeInfo: Type.Optional(NodeInfo),
  iam: Type.Optional(Iam),
})

export const Process = Type.Object({
  name: OptStr,
  executable: OptStr,
  commandLine: OptStr,
  pid: Type.Optional(Type.Integer()),
  parentPid: Type.Optional(Type.Integer()),
  parentName: OptStr,
  user: OptStr,
  uid: Type.Optional(Type.Integer()),
  loginUid: Type.Optional(Type.Integer()),
})

/** Who did it, for control-plane events (Kubernetes audit): the principal behind an API call. */
export const Actor = Type.Object({
  username: OptStr,
  groups: Type.Optional(Type.Array(Str)),
  arn: OptStr, // IAM principal from EKS's user.extra.arn
  sourceIps: Type.Optional(Type.Array(Str)),
  userAgent: OptStr,
})

/**
 * Where an event came from, as falconet itself established it (never as a body claims it): the
 * endpoint, and for Fluent Bit records the node and the pod whose log the record was read from,
 * and how that was verified. ASFF carries it in ProductFields (falconet/provenance*), OCSF in its
 * metadata; a reader can tell a Falco alert received from Falco from one read out of a log.
 */
export const PROVENANCE_VIA = ['falco-http-output', 'fluent-bit', 'k8s-audit-webhook', 'eks-audit-cloudwatch', 'test', 'falconet'] as const
export const Provenance = Type.Object({
  via: Type.Enum(PROVENANCE_VIA),
  /** Fluent Bit: the node the record was read on (the kubernetes filter's host, or the tag's file). */
  node: OptStr,
  /** Fluent Bit: the pod whose log held the record (kubernetes metadata or the kubelet's file name). */
  namespace: OptStr,
  pod: OptStr,
  container: OptStr,
  /** Fluent Bit: what vouched for the sender: the kubernetes filter's metadata, the log file's name, or nothing (allowed by config). */
  verifiedBy: Type.Optional(Type.Enum(['kubernetes-metadata', 'log-file', 'unverified'])),
})
export type Provenance = Static<typeof Provenance>

/** How a finding's event reached falconet, as flat key/value pairs: ASFF ProductFields and OCSF `unmapped` carry the same keys. */
export function provenanceEntries(p: Provenance | undefined): Array<[string, string | undefined]> {
  if (!p) return []
  const pod = p.namespace || p.pod ? `${p.namespace ?? ''}/${p.pod ?? ''}${p.container ? `:${p.container}` : ''}` : undefined
  return [
    ['falconet/provenance', p.via],
    ['falconet/provenance.node', p.node],
    ['falconet/provenance.pod', pod],
    ['falconet/provenance.verifiedBy', p.verifiedBy],
  ]
}

export const SecurityEvent = Type.Object({
  /** Which falconet input produced it: falco, fluent-bit, k8s-audit, test. */
  input: Str,
  /** The detector's event source: Falco's syscall / k8s_audit / internal, or a falconet detector. */
  source: Str,
  rule: Type.String({ minLength: 1 }),
  priority: Type.Enum(PRIORITIES),
  /** The priority text exactly as the producer sent it, for ASFF Severity.Original. */
  priorityText: Str,
  /** RFC 3339 UTC, full precision as received (Falco gives nanoseconds). */
  time: Str,
  output: Str,
  hostname: OptStr,
  tags: Type.Array(Str),
  workload: Workload,
  process: Type.Optional(Process),
  actor: Type.Optional(Actor),
  /** The producer's own fields, keys kept literally (`proc.aname[2]` is one key, never a path). */
  fields: Type.Record(Type.String(), FieldValue),
  /** Fields that tell one finding of this rule from another (a detector's choice; config can override). */
  keyFields: Type.Optional(Type.Array(Str)),
  /** How falconet received it (set by the source, not read from the body). */
  provenance: Type.Optional(Provenance),
})
export type SecurityEvent = Static<typeof SecurityEvent>
export type Workload = Static<typeof Workload>
export type Container = Static<typeof Container>
export type Process = Static<typeof Process>
export type NodeInfo = Static<typeof NodeInfo>
export type Iam = Static<typeof Iam>
