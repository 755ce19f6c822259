/**
 * The few fields falconet reads from each Kubernetes object. Objects are trimmed to these as they
 * arrive, so the cache holds about a kilobyte per pod instead of the tens of kilobytes of a full
 * pod (managedFields, specs, volumes…): 10,000 pods fit in a few tens of MB.
 */
import { stringTable } from '../../model/string-table.js'

export interface PodMeta {
  uid: string
  namespace: string
  name: string
  ip?: string
  /** Shares the node's IP, so its IP says nothing about which pod it is. */
  hostNetwork?: boolean
  /** Succeeded or Failed: its IP may already belong to another pod. */
  terminated?: boolean
  nodeName?: string
  serviceAccount?: string
  labels: Record<string, string>
  annotations: Record<string, string>
  owner?: { kind: string; name: string }
  /** Per container (regular, init, ephemeral): runtime id, image digest, start time, and the IAM hints in its env. */
  containers: ContainerMeta[]
  deletedAt?: number
}

export interface ContainerMeta {
  name: string
  /** The runtime id without its `containerd://` scheme: 64 hex characters. */
  id?: string
  image?: string
  imageDigest?: string
  startedAt?: string
  privileged?: boolean
  roleArn?: string
  podIdentity?: boolean
}

export interface NodeMeta {
  name: string
  instanceId?: string
  instanceType?: string
  zone?: string
  region?: string
  nodegroup?: string
  nodepool?: string
  capacityType?: string
  fargate?: boolean
}

export interface NamespaceMeta {
  name: string
  uid: string
  labels: Record<string, string>
}

export interface ServiceAccountMeta {
  namespace: string
  name: string
  roleArn?: string
}

/**
 * The fields read from an object as the API server sends it (pods, nodes, namespaces, service
 * accounts; its JSON, so times are RFC 3339 strings — or Dates from a client that parsed them).
 */
type K8sObject = {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> }
}
export type PodObject = K8sObject & { spec?: PodSpecFields; status?: PodStatusFields }
type NodeObject = K8sObject & { spec?: { providerID?: string } }

interface PodSpecFields {
  containers?: ContainerSpec[]
  initContainers?: ContainerSpec[]
  ephemeralContainers?: ContainerSpec[]
  hostNetwork?: boolean
  nodeName?: string
  serviceAccountName?: string
}

interface PodStatusFields {
  podIP?: string
  phase?: string
  containerStatuses?: ContainerStatus[]
  initContainerStatuses?: ContainerStatus[]
  ephemeralContainerStatuses?: ContainerStatus[]
}

interface ContainerSpec {
  name: string
  image?: string
  securityContext?: { privileged?: boolean }
  env?: Array<{ name: string; value?: string }>
}

interface ContainerStatus {
  name: string
  containerID?: string
  imageID?: string
  state?: { running?: { startedAt?: string | Date }; terminated?: { startedAt?: string | Date } }
}

export function trimPod(pod: PodObject, annotationKeys: readonly string[]): PodMeta {
  const m = pod.metadata ?? {}
  const spec = pod.spec ?? {}
  const status = pod.status ?? {}
  const statuses = new Map<string, ContainerStatus>()
  for (const s of [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? []), ...(status.ephemeralContainerStatuses ?? [])]) statuses.set(s.name, s)
  const specs = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]
  const meta: PodMeta = {
    uid: m.uid ?? '',
    namespace: shared(m.namespace ?? ''),
    name: m.name ?? '',
    labels: sharedValues(m.labels ?? {}),
    annotations: sharedValues(pick(m.annotations ?? {}, annotationKeys)),
    containers: specs.map((c) => container(c, statuses.get(c.name))),
  }
  if (status.podIP) meta.ip = status.podIP
  if (spec.hostNetwork === true) meta.hostNetwork = true
  if (status.phase === 'Succeeded' || status.phase === 'Failed') meta.terminated = true
  if (spec.nodeName) meta.nodeName = shared(spec.nodeName)
  if (spec.serviceAccountName) meta.serviceAccount = shared(spec.serviceAccountName)
  const owner = workloadOwner(m.ownerReferences ?? [], m.labels ?? {})
  if (owner) meta.owner = { kind: shared(owner.kind), name: shared(owner.name) }
  return meta
}

/**
 * One copy of each string many pods repeat (namespace, node, labels, images, owners, role ARNs):
 * every watch event's JSON parse makes new copies, and a Deployment's replicas, a node's pods and
 * a namespace's pods share most of their values. 10,000 realistic pods: 19.8 -> 12.2 MB of heap
 * (docs/performance.md). Bounded: see stringTable.
 */
const shared = stringTable(50_000)

function sharedValues(from: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(from)) out[k] = typeof v === 'string' ? shared(v) : v
  return out
}

function container(spec: ContainerSpec, status: ContainerStatus | undefined): ContainerMeta {
  const c: ContainerMeta = { name: typeof spec.name === 'string' ? shared(spec.name) : spec.name }
  const id = typeof status?.containerID === 'string' ? status.containerID.replace(/^[a-z0-9-]+:\/\//, '') : undefined
  if (id) c.id = id
  if (spec.image) c.image = typeof spec.image === 'string' ? shared(spec.image) : spec.image
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(status?.imageID ?? '')?.[1]
  if (digest) c.imageDigest = shared(digest)
  const started = status?.state?.running?.startedAt ?? status?.state?.terminated?.startedAt
  if (started) c.startedAt = shared(typeof started === 'string' ? started : new Date(started).toISOString())
  if (spec.securityContext?.privileged === true) c.privileged = true
  for (const e of spec.env ?? []) {
    // Injected by the EKS Pod Identity / IRSA webhooks: what this container's AWS SDK will use.
    if (e.name === 'AWS_ROLE_ARN' && typeof e.value === 'string') c.roleArn = shared(e.value)
    if (e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI') c.podIdentity = true
  }
  return c
}

/**
 * The workload behind a pod, from its controller reference alone (RBAC stays pods/nodes/
 * namespaces/serviceaccounts): a ReplicaSet named <deployment>-<pod-template-hash> is a
 * Deployment's; a Job named <cronjob>-<scheduled minute> is a CronJob's.
 */
export function workloadOwner(refs: ReadonlyArray<{ kind?: string; name?: string; controller?: boolean }>, labels: Record<string, string>): { kind: string; name: string } | undefined {
  const ref = refs.find((r) => r.controller) ?? refs[0]
  if (!ref?.kind || !ref.name) return undefined
  const hash = labels['pod-template-hash']
  if (ref.kind === 'ReplicaSet' && hash && ref.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: ref.name.slice(0, -hash.length - 1) }
  const cron = /^(.+)-\d{8,}$/.exec(ref.name)
  if (ref.kind === 'Job' && cron?.[1]) return { kind: 'CronJob', name: cron[1] }
  return { kind: ref.kind, name: ref.name }
}

export function trimNode(node: NodeObject): NodeMeta {
  const m = node.metadata ?? {}
  const labels = m.labels ?? {}
  const meta: NodeMeta = { name: m.name ?? '' }
  // spec.providerID on EKS: aws:///eu-west-1a/i-0abc…
  const provider = /^aws:\/\/\/([^/]+)\/(i-[0-9a-f]+)$/.exec(node.spec?.providerID ?? '')
  if (provider) meta.instanceId = provider[2]
  const set = <K extends keyof NodeMeta>(k: K, v: NodeMeta[K] | undefined) => {
    if (v !== undefined && v !== '') meta[k] = v
  }
  set('zone', labels['topology.kubernetes.io/zone'] ?? labels['failure-domain.beta.kubernetes.io/zone'] ?? provider?.[1])
  set('region', labels['topology.kubernetes.io/region'] ?? labels['failure-domain.beta.kubernetes.io/region'])
  set('instanceType', labels['node.kubernetes.io/instance-type'] ?? labels['beta.kubernetes.io/instance-type'])
  set('nodegroup', labels['eks.amazonaws.com/nodegroup'])
  set('nodepool', labels['karpenter.sh/nodepool'] ?? labels['karpenter.sh/provisioner-name'])
  set('capacityType', labels['eks.amazonaws.com/capacityType'] ?? labels['karpenter.sh/capacity-type'])
  if (labels['eks.amazonaws.com/compute-type'] === 'fargate') meta.fargate = true
  return meta
}

export function trimNamespace(ns: K8sObject): NamespaceMeta {
  return { name: ns.metadata?.name ?? '', uid: ns.metadata?.uid ?? '', labels: { ...(ns.metadata?.labels ?? {}) } }
}

export function trimServiceAccount(sa: K8sObject): ServiceAccountMeta {
  const meta: ServiceAccountMeta = { namespace: sa.metadata?.namespace ?? '', name: sa.metadata?.name ?? '' }
  const role = sa.metadata?.annotations?.['eks.amazonaws.com/role-arn']
  if (role) meta.roleArn = role
  return meta
}

function pick(from: Record<string, string>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k]
  return out
}
