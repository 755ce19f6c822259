import type { Priority } from '../../model/severity.js'
import { type AuditEvent, containersOf, deepSome, objectOf, patchOps, podSpecOf, type Principal } from '../../model/audit-event.js'

/**
 * Audit-log detections as data. Each rule names its finding (title, priority, MITRE tags, the
 * GuardDuty finding type it corresponds to, so results can be compared) and which audit fields
 * make one finding distinct; `match` returns the sentence for the finding, or nothing.
 * Parity targets: GuardDuty's EKS audit-log findings, AWS's EKS best-practices queries, and the
 * Falco k8saudit rules that matter on EKS.
 */
export interface AuditRule {
  id: string
  name: string
  priority: Priority
  tags: string[]
  guardDuty?: string
  /**
   * `human`: skip benign principals (EKS, nodes, controllers); `any`: everyone; `workloads`:
   * everyone, except benign principals in kube-system — pods are created by controllers from a
   * template, so the controller must count, but EKS's own privileged add-ons (aws-node, kube-proxy)
   * live in kube-system and must not.
   */
  principals: 'human' | 'any' | 'workloads'
  /** Audit fields (ka.*) that tell findings of this rule apart, besides the rule itself. */
  keyFields: string[]
  match(e: AuditEvent, ctx: RuleContext): string | undefined
}

export interface RuleContext {
  principal: Principal
  allowed: boolean
  /** Registries images may come from; empty: the registry rule is off. */
  allowedRegistries: readonly string[]
  sensitiveHostPaths: readonly string[]
}

const WRITE = new Set(['create', 'update', 'patch'])
const CHANGE = new Set(['create', 'update', 'patch', 'delete', 'deletecollection'])
const WORKLOADS = new Set(['pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs', 'replicationcontrollers'])
const RBAC = new Set(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'])
const BINDINGS = new Set(['rolebindings', 'clusterrolebindings'])
const ADMIN_ROLES = new Set(['cluster-admin', 'admin'])
const HEALTH = /^\/(healthz|livez|readyz|version)(\/|\?|$)/

const res = (e: AuditEvent) => e.objectRef?.resource ?? ''
/** A JSON patch that sets `field` to true anywhere (securityContext.privileged, hostPID…). */
const patchSets = (e: AuditEvent, field: string) =>
  patchOps(e).some((op) => (op.path?.endsWith(`/${field}`) && op.value === true) || deepSome(op.value, (k, v) => k === field && v === true))
/** Subjects a binding now has: the object's, or those a JSON patch adds. */
const subjectsOf = (e: AuditEvent): any[] => [...list(objectOf(e)?.subjects), ...patchOps(e).filter((op) => op.path?.startsWith('/subjects')).flatMap((op) => (Array.isArray(op.value) ? op.value : [op.value]))]
/** The role a binding grants; a merge patch has no roleRef, but bindings are named after their role by convention. */
const roleOf = (e: AuditEvent): string | undefined => objectOf(e)?.roleRef?.name ?? (ADMIN_ROLES.has(e.objectRef?.name ?? '') ? e.objectRef?.name : undefined)
/** Kubelet endpoints that run or read things; /metrics and /stats (scrapes) are not among them. */
const KUBELET_DANGEROUS = /\/proxy\/(run|exec|attach|portForward|containerLogs|logs|pods|runningpods|configz|debug|cri|checkpoint)(\/|\?|$)/
const sub = (e: AuditEvent) => e.objectRef?.subresource ?? ''
const ns = (e: AuditEvent) => e.objectRef?.namespace ?? ''
const who = (c: RuleContext) => c.principal.arn ? `${c.principal.username} (${c.principal.arn})` : c.principal.username
const target = (e: AuditEvent) => [e.objectRef?.namespace, e.objectRef?.name ?? e.requestObject?.metadata?.name].filter(Boolean).join('/')

const PRINCIPAL = ['ka.user.name']
const OBJECT = ['ka.user.name', 'ka.target.resource', 'ka.target.namespace', 'ka.target.name']

export const AUDIT_RULES: AuditRule[] = [
  {
    id: 'truncated-audit-event',
    name: 'Audit event too large to analyse (truncated by CloudWatch)',
    priority: 'Notice',
    tags: ['T1562', 'mitre_defense_evasion', 'k8s'],
    principals: 'any',
    keyFields: PRINCIPAL,
    match: (e, c) => (e.annotations?.['falconet.io/truncated'] ? `an audit event of ${e.annotations['falconet.io/truncated']} bytes by ${who(c)} (${e.verb} ${res(e)} ${target(e)}) was cut at 256 KB by CloudWatch and could not be analysed; a padded request can hide what it does` : undefined),
  },
  {
    id: 'exec-in-kube-system-pod',
    name: 'Exec into a kube-system pod',
    priority: 'Warning',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    guardDuty: 'Execution:Kubernetes/ExecInKubeSystemPod',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && (sub(e) === 'exec' || sub(e) === 'attach') && ns(e) === 'kube-system' && c.allowed ? `${who(c)} ran ${sub(e)} in kube-system pod ${target(e)}` : undefined),
  },
  {
    id: 'exec-in-pod',
    name: 'Exec into a pod',
    priority: 'Notice',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && (sub(e) === 'exec' || sub(e) === 'attach') && ns(e) !== 'kube-system' && c.allowed ? `${who(c)} ran ${sub(e)} in pod ${target(e)}` : undefined),
  },
  {
    id: 'ephemeral-container',
    name: 'Ephemeral container added to a pod',
    priority: 'Warning',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && sub(e) === 'ephemeralcontainers' && WRITE.has(e.verb) && c.allowed ? `${who(c)} added an ephemeral (debug) container to pod ${target(e)}` : undefined),
  },
  {
    id: 'privileged-container',
    name: 'Privileged container created',
    priority: 'Warning',
    tags: ['T1611', 'mitre_privilege_escalation', 'k8s'],
    guardDuty: 'PrivilegeEscalation:Kubernetes/PrivilegedContainer',
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const privileged = containersOf(podSpecOf(e)).filter((k) => k.securityContext?.privileged === true).map((k) => k.name)
      if (!privileged.length && patchSets(e, 'privileged')) privileged.push('(set by a JSON patch)')
      return privileged.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} with privileged container(s) ${privileged.join(', ')}` : undefined
    },
  },
  {
    id: 'sensitive-host-mount',
    name: 'Container with a sensitive host path mounted',
    priority: 'Warning',
    tags: ['T1611', 'mitre_privilege_escalation', 'mitre_persistence', 'k8s'],
    guardDuty: 'Persistence:Kubernetes/ContainerWithSensitiveMount',
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const paths = list(podSpecOf(e)?.volumes).map((v: any) => v?.hostPath?.path).filter((p: unknown): p is string => typeof p === 'string')
      const norm = (p: string) => p.replace(/\/+$/, '') || '/'
      // The path itself, anything below a sensitive path, or a parent that contains one (/var/run holds docker.sock).
      const sensitive = paths.filter((p: string) => c.sensitiveHostPaths.some((s) => norm(p) === norm(s) || (s !== '/' && norm(p).startsWith(`${norm(s)}/`)) || (norm(p) !== '/' && norm(s).startsWith(`${norm(p)}/`))))
      return sensitive.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} mounting host path(s) ${sensitive.join(', ')}` : undefined
    },
  },
  {
    id: 'host-namespaces',
    name: 'Pod sharing the host network, PID or IPC namespace',
    priority: 'Notice',
    tags: ['T1611', 'mitre_privilege_escalation', 'k8s'],
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const spec = podSpecOf(e) ?? {}
      const shared = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => spec[k] === true || patchSets(e, k))
      return shared.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} with ${shared.join(', ')}` : undefined
    },
  },
  {
    id: 'rbac-change',
    name: 'RBAC object changed',
    priority: 'Notice',
    tags: ['T1098', 'mitre_persistence', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (RBAC.has(res(e)) && CHANGE.has(e.verb) && c.allowed ? `${who(c)} ${e.verb === 'delete' ? 'deleted' : `${e.verb}d`} ${res(e)} ${target(e)}` : undefined),
  },
  {
    id: 'binding-to-admin-role',
    name: 'Binding to cluster-admin or admin',
    priority: 'Warning',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => {
      const role = roleOf(e)
      return BINDINGS.has(res(e)) && WRITE.has(e.verb) && c.allowed && role && ADMIN_ROLES.has(role) ? `${who(c)} bound ${subjects(e)} to ${role} (${res(e)} ${target(e)})` : undefined
    },
  },
  {
    id: 'admin-to-default-service-account',
    name: 'Admin access granted to a default service account',
    priority: 'Error',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    guardDuty: 'Policy:Kubernetes/AdminAccessToDefaultServiceAccount',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => {
      const role = roleOf(e)
      const defaults = subjectsOf(e).filter((s: any) => s?.kind === 'ServiceAccount' && s?.name === 'default')
      return BINDINGS.has(res(e)) && WRITE.has(e.verb) && c.allowed && role && ADMIN_ROLES.has(role) && defaults.length
        ? `${who(c)} bound ${role} to the default service account of ${defaults.map((s: any) => s.namespace ?? ns(e)).join(', ')}`
        : undefined
    },
  },
  {
    id: 'binding-to-anonymous',
    name: 'Access granted to anonymous or unauthenticated users',
    priority: 'Error',
    tags: ['T1098', 'mitre_persistence', 'k8s'],
    guardDuty: 'Policy:Kubernetes/AnonymousAccessGranted',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => {
      const anon = subjectsOf(e).filter((s: any) => s?.name === 'system:anonymous' || s?.name === 'system:unauthenticated')
      return BINDINGS.has(res(e)) && WRITE.has(e.verb) && c.allowed && anon.length
        ? `${who(c)} bound ${roleOf(e) ?? 'a role'} to ${anon.map((s: any) => s.name).join(', ')} (${res(e)} ${target(e)})`
        : undefined
    },
  },
  {
    id: 'wildcard-role',
    name: 'Role with wildcard verbs or resources',
    priority: 'Warning',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!(res(e) === 'roles' || res(e) === 'clusterroles') || !WRITE.has(e.verb) || !c.allowed) return undefined
      const wildRule = (r: any) => list(r?.verbs).includes('*') || list(r?.resources).includes('*')
      const wild = list(objectOf(e)?.rules).some(wildRule) || patchOps(e).some((op) => op.path?.startsWith('/rules') && (Array.isArray(op.value) ? op.value.some(wildRule) : wildRule(op.value) || op.value === '*'))
      return wild ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} granting * (every verb or resource)` : undefined
    },
  },
  {
    id: 'anonymous-access-allowed',
    name: 'Anonymous request allowed',
    priority: 'Error',
    tags: ['T1078.001', 'mitre_initial_access', 'k8s'],
    guardDuty: 'Discovery|Persistence|CredentialAccess|DefenseEvasion|Impact:Kubernetes/SuccessfulAnonymousAccess',
    principals: 'any',
    keyFields: ['ka.verb', 'ka.target.resource', 'ka.target.namespace'],
    match: (e, c) =>
      c.principal.username === 'system:anonymous' && c.allowed && (e.responseStatus?.code ?? 200) < 400 && !HEALTH.test(e.requestURI ?? '')
        ? `an anonymous request was allowed: ${e.verb} ${e.requestURI ?? res(e)} from ${(e.sourceIPs ?? []).join(', ') || 'an unknown address'}`
        : undefined,
  },
  {
    id: 'exposed-dashboard',
    name: 'Kubernetes or Kubeflow dashboard exposed outside the cluster',
    priority: 'Warning',
    tags: ['T1133', 'mitre_initial_access', 'k8s'],
    guardDuty: 'Policy:Kubernetes/ExposedDashboard, Policy:Kubernetes/KubeflowDashboardExposed',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => {
      if (res(e) !== 'services' || !WRITE.has(e.verb) || !c.allowed) return undefined
      const o = objectOf(e) ?? {}
      const type = o.spec?.type
      if (type !== 'LoadBalancer' && type !== 'NodePort') return undefined
      const labels = Object.values(o.metadata?.labels ?? {}).join(' ')
      const text = `${o.metadata?.name ?? e.objectRef?.name ?? ''} ${ns(e)} ${labels}`
      const dashboard = /kubernetes-dashboard/.test(text) ? 'Kubernetes dashboard' : /kubeflow|centraldashboard/.test(text) ? 'Kubeflow dashboard' : undefined
      return dashboard ? `${who(c)} exposed the ${dashboard} as a ${type} service (${target(e)})` : undefined
    },
  },
  {
    id: 'service-account-token-secret',
    name: 'Service account token secret created by hand',
    priority: 'Notice',
    tags: ['T1528', 'mitre_credential_access', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) =>
      res(e) === 'secrets' && e.verb === 'create' && c.allowed && e.requestObject?.type === 'kubernetes.io/service-account-token'
        ? `${who(c)} created a long-lived service account token secret ${target(e)} for ${e.requestObject?.metadata?.annotations?.['kubernetes.io/service-account.name'] ?? 'a service account'}`
        : undefined,
  },
  {
    id: 'csr-approved-by-human',
    name: 'Certificate signing request approved by a person',
    priority: 'Warning',
    tags: ['T1649', 'mitre_credential_access', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'certificatesigningrequests' && sub(e) === 'approval' && WRITE.has(e.verb) && c.allowed ? `${who(c)} approved the certificate signing request ${target(e)}` : undefined),
  },
  {
    id: 'nodes-proxy',
    name: 'Access through nodes/proxy',
    priority: 'Warning',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    principals: 'human',
    keyFields: ['ka.user.name', 'ka.target.name'],
    match: (e, c) => (res(e) === 'nodes' && sub(e) === 'proxy' && c.allowed && KUBELET_DANGEROUS.test(e.requestURI ?? '') ? `${who(c)} called the kubelet of ${target(e)} through nodes/proxy (${e.requestURI ?? ''})` : undefined),
  },
  {
    id: 'impersonation',
    name: 'Request made by impersonating another user',
    priority: 'Notice',
    tags: ['T1134', 'mitre_privilege_escalation', 'k8s'],
    principals: 'human',
    keyFields: ['ka.user.name', 'ka.impersonated.user'],
    match: (e, c) => (e.impersonatedUser?.username && c.allowed ? `${who(c)} impersonated ${e.impersonatedUser.username} to ${e.verb} ${res(e)} ${target(e)}` : undefined),
  },
  {
    id: 'workload-in-kube-system',
    name: 'Workload created in kube-system by a person',
    priority: 'Warning',
    tags: ['T1610', 'mitre_execution', 'mitre_defense_evasion', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    // No subresource: create pods/eviction (kubectl drain) and pods/exec are not new workloads.
    match: (e, c) => (WORKLOADS.has(res(e)) && !sub(e) && e.verb === 'create' && ns(e) === 'kube-system' && c.allowed ? `${who(c)} created ${res(e)} ${target(e)} in kube-system` : undefined),
  },
  {
    id: 'untrusted-registry',
    name: 'Image from a registry outside the allow-list',
    priority: 'Warning',
    tags: ['T1610', 'mitre_execution', 'k8s'],
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (c.allowedRegistries.length === 0 || !WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const images = containersOf(podSpecOf(e)).map((k) => k.image).filter((i: unknown): i is string => typeof i === 'string')
      const outside = images.filter((i: string) => !c.allowedRegistries.some((r) => registryOf(i) === r || registryOf(i).endsWith(`.${r.replace(/^\*\./, '')}`) && r.startsWith('*.')))
      return outside.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} with image(s) from outside the allowed registries: ${outside.join(', ')}` : undefined
    },
  },
]

/** Audit bodies are the client's request: what should be an array may be anything. */
function list(v: unknown): any[] {
  return Array.isArray(v) ? v : []
}

/** The registry host of an image reference; Docker Hub for short names, as the runtime reads it. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io'
}

function subjects(e: AuditEvent): string {
  return list(e.requestObject?.subjects).map((s: any) => `${s?.kind ?? '?'} ${s?.namespace ? `${s.namespace}/` : ''}${s?.name ?? '?'}`).join(', ') || 'no subject'
}

export const DEFAULT_SENSITIVE_HOST_PATHS = ['/', '/etc', '/proc', '/root', '/var/run/docker.sock', '/var/run/containerd', '/run/containerd', '/var/run/crio', '/var/lib/kubelet', '/var/lib/docker', '/etc/kubernetes', '/home/kubernetes']
