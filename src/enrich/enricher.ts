import type { SecurityEvent, Workload, Container } from '../model/event.js'
import type { MetadataLookup } from './kube/cache.js'
import type { ContainerMeta, PodMeta } from './kube/objects.js'
import { resolveIam, type PodIdentityRoles } from './iam.js'

/**
 * Add what the Kubernetes API knows to an event: the pod (first association rule that matches
 * wins — container id, full or Falco's 12-character prefix; namespace + pod name; pod IP; pod
 * UID), its workload, labels, service account, container image digest and start time, the node
 * (EC2 instance, AZ, nodegroup / Karpenter nodepool, capacity type, Fargate), the IAM role and the
 * cluster id. Reads the cache only: it never waits on the API server, and never changes its input.
 */
export interface EnrichDeps {
  lookup: MetadataLookup
  podIdentity?: PodIdentityRoles
  /** Counts each event as enriched (a pod was found) or not. */
  counted?: (result: 'pod' | 'node-only' | 'miss') => void
}

export function enrichEvent(event: SecurityEvent, deps: EnrichDeps): SecurityEvent {
  const { lookup } = deps
  const pod = findPod(event, lookup)
  const workload: Workload = { ...event.workload }
  const kubeSystem = lookup.namespace('kube-system')
  if (kubeSystem?.uid) workload.clusterId = kubeSystem.uid

  if (pod) {
    const container = findContainer(pod, event.workload.container)
    workload.namespace = pod.namespace
    workload.pod = pod.name
    workload.podUid = pod.uid
    if (pod.ip && !pod.hostNetwork) workload.podIp = pod.ip
    if (pod.owner) workload.owner = pod.owner
    if (pod.serviceAccount) workload.serviceAccount = pod.serviceAccount
    if (Object.keys(pod.labels).length > 0) workload.labels = pod.labels
    if (Object.keys(pod.annotations).length > 0) workload.annotations = pod.annotations
    const ns = lookup.namespace(pod.namespace)
    if (ns && Object.keys(ns.labels).length > 0) workload.namespaceLabels = ns.labels
    if (container) workload.container = mergeContainer(event.workload.container, container)
    if (pod.nodeName) workload.node = pod.nodeName
    workload.iam = resolveIam(pod, container, lookup.serviceAccount(pod.namespace, pod.serviceAccount ?? 'default'), deps.podIdentity)
  }
  const nodeName = pod?.nodeName ?? event.hostname
  const node = nodeName ? lookup.node(nodeName) : undefined
  if (node) {
    const { name: _name, ...info } = node
    workload.nodeInfo = info
  }
  deps.counted?.(pod ? 'pod' : node ? 'node-only' : 'miss')
  return pod || node || workload.clusterId ? { ...event, workload } : event
}

function findPod(event: SecurityEvent, lookup: MetadataLookup): PodMeta | undefined {
  const { workload, fields } = event
  const containerId = workload.container?.id
  const byContainer = containerId && containerId !== 'host' ? lookup.podByContainerId(containerId) : undefined
  if (byContainer) return byContainer
  if (workload.namespace && workload.pod) {
    const byName = lookup.pod(workload.namespace, workload.pod)
    if (byName) return byName
  }
  const ip = text(fields['k8s.pod.ip']) ?? workload.podIp
  const byIp = ip ? lookup.podByIp(ip) : undefined
  if (byIp) return byIp
  const uid = text(fields['k8s.pod.uid']) ?? workload.podUid
  return uid ? lookup.podByUid(uid) : undefined
}

function findContainer(pod: PodMeta, seen: Container | undefined): ContainerMeta | undefined {
  const id = seen?.id
  if (id && id !== 'host') {
    const byId = pod.containers.find((c) => c.id && (c.id === id || c.id.startsWith(id)))
    if (byId) return byId
  }
  if (seen?.name) return pod.containers.find((c) => c.name === seen.name)
  return pod.containers.length === 1 ? pod.containers[0] : undefined
}

/** The API's facts win (full id, digest, start time); Falco's image fields stay when the API has none. */
function mergeContainer(seen: Container | undefined, meta: ContainerMeta): Container {
  const merged: Container = { ...(seen ?? {}), name: meta.name }
  if (meta.id) merged.id = meta.id
  if (meta.imageDigest) merged.imageDigest = meta.imageDigest
  if (meta.startedAt) merged.startedAt = meta.startedAt
  if (meta.privileged) merged.privileged = true
  if (!merged.imageRepository && meta.image) {
    const at = meta.image.indexOf('@')
    const base = at >= 0 ? meta.image.slice(0, at) : meta.image
    const colon = base.lastIndexOf(':')
    if (colon > base.lastIndexOf('/')) {
      merged.imageRepository = base.slice(0, colon)
      merged.imageTag = base.slice(colon + 1)
    } else merged.imageRepository = base
  }
  return merged
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}
