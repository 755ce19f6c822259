import type { Priority } from '../../model/severity.js'
import type { FieldValue } from '../../model/event.js'
import { type AuditEvent, containersOf, deepSome, field, objectOf, patchOps, podSpecOf, type Principal, targetOf, text } from '../../model/audit-event.js'
import { csrSubjectOf, privilegedSubject } from './csr.js'
import { minerEvidence } from './known-bad.js'

/**
 * Audit-log detections as data. Each rule names its finding (title, priority, MITRE tags, the
 * GuardDuty finding type it corresponds to, so results can be compared) and which audit fields
 * make one finding distinct; `match` returns the sentence for the finding, or nothing.
 * Parity targets: GuardDuty's EKS audit-log findings, AWS's EKS best-practices queries, and the
 * Falco k8saudit rules that matter on EKS.
 */
/** What a finding says about the detection that made it (tags hold the MITRE technique and tactic ids, as data). */
export interface DetectionMeta {
  id: string
  name: string
  priority: Priority
  tags: string[]
  guardDuty?: string
  /** The Falco k8saudit rule(s) this reproduces (falcosecurity/plugins k8s_audit_rules.yaml), for comparison. */
  falco?: string
  /** Audit fields (ka.*) that tell findings of this rule apart, besides the rule itself. */
  keyFields: string[]
  /** Extra fields of the finding (a threat list and address). */
  fields?: Record<string, FieldValue>
}

export interface AuditRule extends Omit<DetectionMeta, 'fields'> {
  /**
   * `human`: skip benign principals (EKS, nodes, controllers); `any`: everyone; `workloads`:
   * everyone, except benign principals in system namespaces when every image comes from the add-on
   * registries — pods are created by controllers from a template, so the controller must count,
   * but EKS's own privileged add-ons (aws-node, kube-proxy) live in kube-system and must not.
   */
  principals: 'human' | 'any' | 'workloads'
  /**
   * What GitOps controllers (audit.deployers) do as their job — apply RBAC, services and add-on
   * service accounts from a reviewed repository, re-applying them every sync — so their requests
   * are not findings of this rule; a person's or another workload's still are.
   */
  deployerChange?: true
  /** The finding's sentence, or the sentence with a priority when the rule grades what it saw. */
  match(e: AuditEvent, ctx: RuleContext): Verdict
}

export type Verdict = string | { output: string; priority: Priority } | undefined

export interface RuleContext {
  principal: Principal
  allowed: boolean
  /** Registries images may come from; empty: the registry rule is off. */
  allowedRegistries: readonly string[]
  sensitiveHostPaths: readonly string[]
  /** The principal is EKS, a node or a controller (audit.benignPrincipals). */
  benign: boolean
  /** Where system namespaces' add-on images come from (audit.addonImages). */
  addonImage: (image: string) => boolean
  /** Accounts whose IAM roles service accounts may use besides the principal's own (audit.trustedAccounts). */
  trustedAccounts: readonly string[]
  /** Why an identity (user, groups) is privileged, or undefined: system:masters, kube-system, cluster-admin subjects. */
  privilegedIdentity: (username: string, groups: readonly string[]) => string | undefined
  /** Why an identity holds cluster-admin (or admin) over the whole cluster, from the ClusterRoleBindings seen. */
  clusterAdmin: (username: string, groups: readonly string[]) => string | undefined
  systemNamespaces: ReadonlySet<string>
  /** The cluster's own AWS accounts: configured (aws.accountId, cluster.arn) and learned from its nodes' IAM roles. */
  homeAccounts: () => string[]
}

const WRITE = new Set(['create', 'update', 'patch'])
const CHANGE = new Set(['create', 'update', 'patch', 'delete', 'deletecollection'])
/** RBAC verbs stronger than writing: granting roles one lacks, binding any role, acting as another user. */
const ESCALATING = new Set(['escalate', 'bind', 'impersonate'])
const WORKLOADS = new Set(['pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs', 'replicationcontrollers'])
const RBAC = new Set(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'])
const BINDINGS = new Set(['rolebindings', 'clusterrolebindings'])
const ADMIN_ROLES = new Set(['cluster-admin', 'admin'])
const HEALTH = /^\/(healthz|livez|readyz|version)(\/|\?|$)/
const ROLES = new Set(['roles', 'clusterroles'])
const KUBE_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease'])
/** Roles that EKS and CoreDNS edit in normal operation (Falco's exceptions, plus EKS's). */
const EXPECTED_SYSTEM_ROLE_EDITS = new Set(['system:coredns', 'system:managed-certificate-controller'])
/** Falco's known_sa_list plus the service accounts EKS add-ons install in kube-system. */
const KNOWN_SYSTEM_SERVICE_ACCOUNTS = new Set([
  'coredns',
  'coredns-autoscaler',
  'cronjob-controller',
  'daemon-set-controller',
  'deployment-controller',
  'disruption-controller',
  'endpoint-controller',
  'endpointslice-controller',
  'endpointslicemirroring-controller',
  'generic-garbage-collector',
  'horizontal-pod-autoscaler',
  'job-controller',
  'namespace-controller',
  'node-controller',
  'persistent-volume-binder',
  'pod-garbage-collector',
  'pv-protection-controller',
  'pvc-protection-controller',
  'replicaset-controller',
  'resourcequota-controller',
  'root-ca-cert-publisher',
  'service-account-controller',
  'statefulset-controller',
  'ttl-after-finished-controller',
  'ttl-controller',
  'attachdetach-controller',
  'certificate-controller',
  'clusterrole-aggregation-controller',
  'ephemeral-volume-controller',
  'expand-controller',
  'legacy-service-account-token-cleaner',
  'pvc-protection-controller',
  'service-controller',
  'aws-node',
  'kube-proxy',
  'eks-pod-identity-agent',
  'ebs-csi-controller-sa',
  'ebs-csi-node-sa',
  'efs-csi-controller-sa',
  'efs-csi-node-sa',
  'aws-load-balancer-controller',
  'cluster-autoscaler',
  'metrics-server',
  'karpenter',
  'external-dns',
  'snapshot-controller',
  'aws-cloud-provider',
  'default',
])
/**
 * kube-controller-manager's controllers whose roles reach every object of the cluster: escalating
 * any ClusterRole, deleting anything, listing everything (Secrets included). A token of one is
 * cluster-admin in all but name.
 */
const CLUSTER_WIDE_CONTROLLERS = new Set(['clusterrole-aggregation-controller', 'generic-garbage-collector', 'namespace-controller', 'resourcequota-controller'])
/** Audiences AWS exchanges a service account token at: STS for IRSA, EKS Pod Identity. */
const AWS_AUDIENCES = new Set(['sts.amazonaws.com', 'pods.eks.amazonaws.com'])
const CREDENTIAL_WORDS = /aws[_-](s3[_-])?access[_-]key[_-]id|aws[_-]secret[_-]access[_-]key|password|passphrase/i
const AWS_ACCESS_KEY = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/

const res = (e: AuditEvent) => e.objectRef?.resource ?? ''
/** A JSON patch that sets `field` to true anywhere (securityContext.privileged, hostPID…). */
const patchSets = (e: AuditEvent, field: string) => patchOps(e).some((op) => (op.path?.endsWith(`/${field}`) && op.value === true) || deepSome(op.value, (k, v) => k === field && v === true))
/** Subjects a binding now has: the object's, or those a JSON patch adds. */
const subjectsOf = (e: AuditEvent): unknown[] => [
  ...list(objectOf(e)?.subjects),
  ...patchOps(e)
    .filter((op) => op.path?.startsWith('/subjects'))
    .flatMap((op) => (Array.isArray(op.value) ? op.value : [op.value])),
]
/** The role a binding grants; a merge patch has no roleRef, but bindings are named after their role by convention. */
const roleOf = (e: AuditEvent): string | undefined => {
  const name = field(objectOf(e), 'roleRef', 'name')
  return name !== undefined && name !== null ? text(name) : ADMIN_ROLES.has(e.objectRef?.name ?? '') ? e.objectRef?.name : undefined
}
/** Kubelet endpoints that run or read things; /metrics and /stats (scrapes) are not among them. */
const KUBELET_DANGEROUS = /\/proxy\/(run|exec|attach|portForward|containerLogs|logs|pods|runningpods|configz|debug|cri|checkpoint)(\/|\?|$)/
const sub = (e: AuditEvent) => e.objectRef?.subresource ?? ''
/** A new object: a create, or a server-side apply (PATCH) that answered 201 Created. */
const creates = (e: AuditEvent) => e.verb === 'create' || (e.verb === 'patch' && e.responseStatus?.code === 201)
const ns = (e: AuditEvent) => e.objectRef?.namespace ?? ''
/**
 * A person: not EKS, a node or a controller (audit.benignPrincipals), and no other system:
 * identity either (a workload's service account, the scheduler). Certificate users such as
 * kubernetes-admin are people.
 */
const isPerson = (c: RuleContext) => !c.benign && !c.principal.username.startsWith('system:')
const who = (c: RuleContext) => (c.principal.arn ? `${c.principal.username} (${c.principal.arn})` : c.principal.username)
const target = (e: AuditEvent) => [e.objectRef?.namespace, e.objectRef?.name ?? field(e.requestObject, 'metadata', 'name')].filter(Boolean).join('/')

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
    falco: 'Attach/Exec Pod',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && (sub(e) === 'exec' || sub(e) === 'attach') && ns(e) === 'kube-system' && c.allowed ? `${who(c)} ran ${sub(e)} in kube-system pod ${target(e)}` : undefined),
  },
  {
    id: 'exec-in-pod',
    name: 'Exec into a pod',
    priority: 'Notice',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    guardDuty: 'Execution:Kubernetes/AnomalousBehavior.ExecInPod (nearest: GuardDuty reports unusual ones)',
    falco: 'Attach/Exec Pod',
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && (sub(e) === 'exec' || sub(e) === 'attach') && ns(e) !== 'kube-system' && c.allowed ? `${who(c)} ran ${sub(e)} in pod ${target(e)}` : undefined),
  },
  {
    id: 'ephemeral-container',
    name: 'Ephemeral container added to a pod',
    priority: 'Warning',
    tags: ['T1609', 'mitre_execution', 'k8s'],
    falco: 'EphemeralContainers Created',
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
    falco: 'Create Privileged Pod',
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const privileged = containersOf(podSpecOf(e))
        .filter((k) => field(k, 'securityContext', 'privileged') === true)
        .map((k) => k.name)
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
    falco: 'Create Sensitive Mount Pod',
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const paths = list(field(podSpecOf(e), 'volumes'))
        .map((v) => field(v, 'hostPath', 'path'))
        .filter((p: unknown): p is string => typeof p === 'string')
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
    falco: 'Create HostNetwork Pod, Create HostPid Pod, Create HostIPC Pod',
    principals: 'workloads',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const spec = podSpecOf(e)
      const shared = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => field(spec, k) === true || patchSets(e, k))
      return shared.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} with ${shared.join(', ')}` : undefined
    },
  },
  {
    id: 'rbac-change',
    name: 'RBAC object changed',
    // Plain role and binding changes are a record, not an alarm: the graded rules below
    // (write verbs, pods/exec, wildcards, system roles, admin bindings) carry the severity.
    priority: 'Informational',
    tags: ['T1098', 'mitre_persistence', 'k8s'],
    falco: 'K8s Role/ClusterRole Created/Deleted, K8s RoleBinding/ClusterRoleBinding Created/Deleted',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => (RBAC.has(res(e)) && CHANGE.has(e.verb) && c.allowed ? `${who(c)} ${e.verb === 'delete' ? 'deleted' : `${e.verb}d`} ${res(e)} ${target(e)}` : undefined),
  },
  {
    id: 'binding-to-admin-role',
    name: 'Binding to cluster-admin or admin',
    priority: 'Warning',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    guardDuty: 'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated (nearest)',
    falco: 'Attach to cluster-admin Role',
    principals: 'human',
    deployerChange: true,
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
      const defaults = subjectsOf(e).filter((s) => field(s, 'kind') === 'ServiceAccount' && field(s, 'name') === 'default')
      return BINDINGS.has(res(e)) && WRITE.has(e.verb) && c.allowed && role && ADMIN_ROLES.has(role) && defaults.length ? `${who(c)} bound ${role} to the default service account of ${defaults.map((s) => field(s, 'namespace') ?? ns(e)).join(', ')}` : undefined
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
      const anon = subjectsOf(e).filter((s) => field(s, 'name') === 'system:anonymous' || field(s, 'name') === 'system:unauthenticated')
      return BINDINGS.has(res(e)) && WRITE.has(e.verb) && c.allowed && anon.length ? `${who(c)} bound ${roleOf(e) ?? 'a role'} to ${anon.map((s) => field(s, 'name')).join(', ')} (${res(e)} ${target(e)})` : undefined
    },
  },
  {
    id: 'wildcard-role',
    name: 'Role with wildcard verbs or resources',
    priority: 'Warning',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    guardDuty: 'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated (nearest)',
    falco: 'ClusterRole With Wildcard Created',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => {
      if (!(res(e) === 'roles' || res(e) === 'clusterroles') || !WRITE.has(e.verb) || !c.allowed) return undefined
      const wildRule = (r: unknown) => list(field(r, 'verbs')).includes('*') || list(field(r, 'resources')).includes('*')
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
    falco: 'Anonymous Request Allowed',
    principals: 'any',
    keyFields: ['ka.verb', 'ka.target.resource', 'ka.target.namespace'],
    match: (e, c) => (c.principal.username === 'system:anonymous' && c.allowed && (e.responseStatus?.code ?? 200) < 400 && !HEALTH.test(e.requestURI ?? '') ? `an anonymous request was allowed: ${e.verb} ${e.requestURI ?? res(e)} from ${(e.sourceIPs ?? []).join(', ') || 'an unknown address'}` : undefined),
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
      const type = field(o, 'spec', 'type')
      if (type !== 'LoadBalancer' && type !== 'NodePort') return undefined
      const labels = Object.values(field(o, 'metadata', 'labels') ?? {}).join(' ')
      const text = `${field(o, 'metadata', 'name') ?? e.objectRef?.name ?? ''} ${ns(e)} ${labels}`
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
      res(e) === 'secrets' && creates(e) && c.allowed && field(e.requestObject, 'type') === 'kubernetes.io/service-account-token'
        ? `${who(c)} created a long-lived service account token secret ${target(e)} for ${field(e.requestObject, 'metadata', 'annotations', 'kubernetes.io/service-account.name') ?? 'a service account'}`
        : undefined,
  },
  {
    id: 'service-account-token-minted',
    name: 'Token minted by a person for a system or cluster-admin service account',
    priority: 'Error',
    tags: ['T1528', 'mitre_credential_access', 'k8s'],
    guardDuty: 'CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed (nearest: GuardDuty has no TokenRequest finding)',
    principals: 'human',
    keyFields: OBJECT,
    // Kubelets mint their pods' tokens and the controller manager its controllers' all day (both
    // benign); a person minting a system account's, or a cluster-admin's, walks away with its access.
    match: (e, c) => {
      if (res(e) !== 'serviceaccounts' || sub(e) !== 'token' || e.verb !== 'create' || !c.allowed || !isPerson(c)) return undefined
      const name = e.objectRef?.name ?? ''
      const account = `system:serviceaccount:${ns(e)}:${name}`
      const privileged = c.clusterAdmin(account, ['system:serviceaccounts', `system:serviceaccounts:${ns(e)}`]) ?? (ns(e) === 'kube-system' && CLUSTER_WIDE_CONTROLLERS.has(name) ? 'a controller whose role reaches every object' : undefined)
      const system = KUBE_NAMESPACES.has(ns(e)) || c.systemNamespaces.has(ns(e))
      if (!privileged && !system) return undefined
      const output = `${who(c)} minted a token for service account ${target(e)} (${privileged ?? 'a system namespace'})${tokenRequestDetails(e)}: whoever holds it acts as that account until it expires`
      return privileged ? output : { output, priority: 'Warning' }
    },
  },
  {
    id: 'csr-approved-by-human',
    name: 'Certificate signing request approved by a person',
    priority: 'Warning',
    tags: ['T1649', 'mitre_credential_access', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'certificatesigningrequests' && sub(e) === 'approval' && WRITE.has(e.verb) && c.allowed && !isApprovalDenied(e) ? `${who(c)} approved the certificate signing request ${target(e)}` : undefined),
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
    match: (e, c) => (e.impersonatedUser?.username && c.allowed && !c.privilegedIdentity(e.impersonatedUser.username, list(e.impersonatedUser.groups)) ? `${who(c)} impersonated ${e.impersonatedUser.username} to ${e.verb} ${res(e)} ${target(e)}` : undefined),
  },
  {
    id: 'workload-in-kube-system',
    name: 'Workload created in kube-system or kube-public',
    priority: 'Warning',
    tags: ['T1610', 'mitre_execution', 'mitre_defense_evasion', 'k8s'],
    guardDuty: 'Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed (nearest)',
    falco: 'Pod Created in Kube Namespace',
    // A person's are all findings; a controller's only with an image from outside the add-on
    // registries (the skip for benign principals in system namespaces is image-aware).
    principals: 'workloads',
    keyFields: OBJECT,
    // No subresource: create pods/eviction (kubectl drain) and pods/exec are not new workloads.
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || sub(e) || !creates(e) || !KUBE_NAMESPACES.has(ns(e)) || !c.allowed) return undefined
      const outside = imagesOf(e).filter((i) => !c.addonImage(i))
      return `${who(c)} created ${res(e)} ${target(e)} in ${ns(e)}${outside.length ? ` with image(s) from outside the add-on registries: ${outside.join(', ')}` : ''}`
    },
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
      const images = containersOf(podSpecOf(e))
        .map((k) => k.image)
        .filter((i: unknown): i is string => typeof i === 'string')
      const outside = images.filter((i: string) => !c.allowedRegistries.some((r) => registryOf(i) === r || (registryOf(i).endsWith(`.${r.replace(/^\*\./, '')}`) && r.startsWith('*.'))))
      return outside.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} with image(s) from outside the allowed registries: ${outside.join(', ')}` : undefined
    },
  },
  {
    id: 'port-forward',
    name: 'Port-forward to a pod',
    priority: 'Notice',
    tags: ['T1572', 'mitre_command_and_control', 'mitre_lateral_movement', 'k8s'],
    falco: 'port-forward',
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => (res(e) === 'pods' && sub(e) === 'portforward' && c.allowed ? `${who(c)} opened a port-forward to pod ${target(e)}` : undefined),
  },
  {
    id: 'role-with-write-privileges',
    name: 'Role with write privileges created',
    priority: 'Notice',
    tags: ['T1098', 'mitre_persistence', 'k8s'],
    guardDuty: 'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated (nearest)',
    falco: 'ClusterRole With Write Privileges Created',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => {
      if (!ROLES.has(res(e)) || !creates(e) || !c.allowed) return undefined
      const verbs = [
        ...new Set(
          roleRules(e)
            .flatMap((r) => list(field(r, 'verbs')))
            .filter((v: unknown) => typeof v === 'string' && (CHANGE.has(v) || ESCALATING.has(v))),
        ),
      ]
      return verbs.length ? `${who(c)} created ${res(e)} ${target(e)} granting ${verbs.join(', ')}` : undefined
    },
  },
  {
    id: 'role-with-pod-exec',
    name: 'Role that can exec into pods created',
    priority: 'Warning',
    tags: ['T1098', 'T1609', 'mitre_privilege_escalation', 'k8s'],
    guardDuty: 'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated (nearest)',
    falco: 'ClusterRole With Pod Exec Created',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => {
      if (!ROLES.has(res(e)) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const exec = roleRules(e).some((r) => list(field(r, 'resources')).some((x: unknown) => x === 'pods/exec' || x === 'pods/attach' || x === 'pods/*'))
      return exec ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} granting pods/exec` : undefined
    },
  },
  {
    id: 'system-role-changed',
    name: 'System role changed or deleted by a person',
    priority: 'Warning',
    tags: ['T1098', 'T1562', 'mitre_persistence', 'mitre_defense_evasion', 'k8s'],
    falco: 'System ClusterRole Modified/Deleted',
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => {
      const name = e.objectRef?.name ?? text(field(objectOf(e), 'metadata', 'name')) ?? ''
      return ROLES.has(res(e)) && CHANGE.has(e.verb) && c.allowed && (name.startsWith('system:') || name.startsWith('eks:')) && !EXPECTED_SYSTEM_ROLE_EDITS.has(name) ? `${who(c)} ${e.verb === 'delete' ? 'deleted' : `${e.verb}d`} the system ${res(e) === 'roles' ? 'role' : 'cluster role'} ${target(e)}` : undefined
    },
  },
  {
    id: 'nodeport-service',
    name: 'NodePort Service created',
    priority: 'Notice',
    tags: ['T1133', 'mitre_initial_access', 'mitre_persistence', 'k8s'],
    falco: 'Create NodePort Service',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => {
      if (res(e) !== 'services' || sub(e) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const o = objectOf(e)
      const nodePort = field(o, 'spec', 'type') === 'NodePort' || patchOps(e).some((op) => op.path === '/spec/type' && op.value === 'NodePort')
      const ports = list(field(o, 'spec', 'ports'))
        .map((p) => field(p, 'nodePort') ?? field(p, 'port'))
        .filter((p: unknown) => p !== undefined)
      return nodePort ? `${who(c)} ${e.verb}d NodePort service ${target(e)}${ports.length ? ` (ports ${ports.join(', ')})` : ''}: it listens on every node` : undefined
    },
  },
  {
    id: 'configmap-with-credentials',
    name: 'ConfigMap holding credentials',
    priority: 'Warning',
    tags: ['T1552.007', 'mitre_credential_access', 'k8s'],
    falco: 'Create/Modify Configmap With Private Credentials',
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => {
      if (res(e) !== 'configmaps' || !WRITE.has(e.verb) || !c.allowed) return undefined
      const data = objectOf(e)?.data
      if (!data || typeof data !== 'object') return undefined
      const keys = Object.entries(data as Record<string, unknown>)
        .filter(([k, v]) => typeof v === 'string' && holdsCredential(k, v))
        .map(([k]) => k)
      return keys.length ? `${who(c)} ${e.verb}d configmap ${target(e)} with credential(s) in ${keys.slice(0, 10).join(', ')}: ConfigMaps are readable by anyone who can read the namespace's config` : undefined
    },
  },
  {
    id: 'service-account-in-system-namespace',
    name: 'Service account created in a system namespace by a person',
    priority: 'Warning',
    tags: ['T1136', 'T1098', 'mitre_persistence', 'k8s'],
    falco: 'Service Account Created in Kube Namespace',
    principals: 'human',
    deployerChange: true,
    keyFields: OBJECT,
    match: (e, c) => {
      const name = e.objectRef?.name ?? text(field(objectOf(e), 'metadata', 'name')) ?? ''
      if (res(e) !== 'serviceaccounts' || sub(e) || !creates(e) || !c.allowed || !(KUBE_NAMESPACES.has(ns(e)) || c.systemNamespaces.has(ns(e))) || KNOWN_SYSTEM_SERVICE_ACCOUNTS.has(name)) return undefined
      const role = roleArnOf(e)
      return `${who(c)} created service account ${target(e)}${role ? ` bound to IAM role ${role}` : ''}: a new identity where the cluster's own controllers live`
    },
  },
  {
    id: 'service-account-foreign-role',
    name: "Service account given another account's IAM role",
    priority: 'Error',
    tags: ['T1098.001', 'T1550', 'mitre_persistence', 'mitre_lateral_movement', 'k8s'],
    principals: 'human',
    keyFields: OBJECT,
    match: (e, c) => {
      if (res(e) !== 'serviceaccounts' || sub(e) || !WRITE.has(e.verb) || !c.allowed) return undefined
      const role = roleArnOf(e)
      const account = role ? accountOf(role) : undefined
      if (!role || !account) return undefined
      const own = c.principal.arn ? accountOf(c.principal.arn) : undefined
      const home = c.homeAccounts()
      if (account === own || c.trustedAccounts.includes(account) || home.includes(account) || (!own && c.trustedAccounts.length === 0 && home.length === 0)) return undefined
      const cluster = home.filter((a) => a !== own)
      const notOurs = [own ? `the caller's ${own}` : '', cluster.length ? `the cluster's ${cluster.join(', ')}` : ''].filter(Boolean).join(' nor ')
      const output = `${who(c)} ${e.verb}d service account ${target(e)} with eks.amazonaws.com/role-arn ${role} of account ${account}${notOurs ? `, not ${notOurs}` : ''}: pods using it act in that account (a cross-account pivot)`
      return c.systemNamespaces.has(ns(e)) || KUBE_NAMESPACES.has(ns(e)) ? output : { output, priority: 'Warning' }
    },
  },
  {
    id: 'privileged-csr',
    name: 'Certificate signing request for a privileged identity',
    priority: 'Error',
    tags: ['T1649', 'mitre_credential_access', 'mitre_privilege_escalation', 'k8s'],
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => {
      if (res(e) !== 'certificatesigningrequests' || !(creates(e) || (sub(e) === 'approval' && WRITE.has(e.verb)))) return undefined
      const o = objectOf(e)
      const subject = csrSubjectOf(field(o, 'spec', 'request'))
      if (!subject) return undefined
      // The requester of record: spec.username is set by the API server on create.
      const username = field(o, 'spec', 'username')
      const requester = typeof username === 'string' ? username : c.principal.username
      const requesterGroups: readonly unknown[] = list(field(o, 'spec', 'groups')).length ? list(field(o, 'spec', 'groups')) : c.principal.groups
      // An approval whose object does not name the requester (spec.username) cannot tell a kubelet's
      // rotation from a person's request: node names are then left alone, masters never are.
      const requesterUnknown = !!sub(e) && typeof username !== 'string'
      const isNode = requesterUnknown || requester.startsWith('system:node:') || requesterGroups.includes('system:nodes') || requesterGroups.includes('system:bootstrappers')
      // Beside system names: a subject the cluster knows as privileged (kubernetes-admin, a user or
      // group bound to cluster-admin); a node asking for its own node name is not.
      const ownNodeName = isNode && ((subject.commonName ?? '').startsWith('system:node:') || subject.organizations.includes('system:nodes'))
      const known = ownNodeName ? undefined : c.privilegedIdentity(subject.commonName ?? '', subject.organizations)
      const why = privilegedSubject(subject, isNode) ?? (known ? { reason: `CN=${subject.commonName ?? ''}${subject.organizations.length ? ` O=${subject.organizations.join(',')}` : ''} (${known})`, critical: false } : undefined)
      if (!why) return undefined
      const action = !sub(e) ? `asked for a certificate for ${why.reason}` : `approved ${requester}'s request for a certificate for ${why.reason}`
      const output = `${who(c)} ${action} (CSR ${target(e)}, signer ${field(o, 'spec', 'signerName') ?? '?'}${c.allowed ? '' : ', refused'})`
      return why.critical && c.allowed ? output : { output, priority: 'Warning' }
    },
  },
  {
    id: 'privileged-impersonation',
    name: 'Privileged identity impersonated',
    priority: 'Warning',
    tags: ['T1134', 'T1078', 'mitre_privilege_escalation', 'mitre_defense_evasion', 'k8s'],
    principals: 'any',
    keyFields: ['ka.user.name', 'ka.impersonated.user'],
    match: (e, c) => {
      const target = e.impersonatedUser ?? refusedImpersonation(e)
      if (!target?.username && !list(target?.groups).length) return undefined
      const why = c.privilegedIdentity(target?.username ?? '', list(target?.groups))
      if (!why) return undefined
      // At least MEDIUM whatever the outcome: trying to act as cluster-admin is the finding.
      return `${who(c)} ${c.allowed ? 'impersonated' : 'tried to impersonate'} ${target?.username ?? '(groups only)'}${list(target?.groups).length ? ` [${list(target?.groups).join(', ')}]` : ''} (${why}) to ${e.verb} ${res(e)}${sub(e) ? `/${sub(e)}` : ''} ${targetOf(e)}${c.allowed ? '' : ' (refused)'}`
    },
  },
  {
    id: 'cryptominer-workload',
    name: 'Cryptominer image or arguments in a workload',
    priority: 'Error',
    tags: ['T1496', 'mitre_impact', 'k8s'],
    guardDuty: 'CryptoCurrency:Runtime/BitcoinTool.B (Runtime Monitoring; EKS audit logs have no equivalent)',
    principals: 'any',
    keyFields: OBJECT,
    match: (e, c) => {
      if (!WORKLOADS.has(res(e)) || (sub(e) && sub(e) !== 'ephemeralcontainers') || !WRITE.has(e.verb) || !c.allowed) return undefined
      const hits = [...containersOf(podSpecOf(e) ?? objectOf(e)?.spec), ...patchedContainers(e)].map((k) => [k.name, minerEvidence(k)] as const).filter(([, why]) => why)
      return hits.length ? `${who(c)} ${e.verb}d ${res(e)} ${target(e)} running a cryptominer: ${hits.map(([n, why]) => `${n ?? '?'}: ${why}`).join('; ')}` : undefined
    },
  },
]

/**
 * Containers as a JSON patch sets them (`kubectl set image`, `kubectl patch --type=json`): a whole
 * container or list of them, or one container's image, command or args by path.
 */
function patchedContainers(e: AuditEvent): Array<Record<string, unknown>> {
  return patchOps(e).flatMap((op) => {
    const path = op.path ?? ''
    if (!/\/(containers|initContainers|ephemeralContainers)(\/|$)/.test(path)) return []
    if (path.endsWith('/image')) return typeof op.value === 'string' ? [{ image: op.value }] : []
    if (/\/(command|args)(\/(\d+|-))?$/.test(path)) return [{ args: Array.isArray(op.value) ? op.value : [op.value] }]
    return (Array.isArray(op.value) ? op.value : [op.value]).filter((k): k is Record<string, unknown> => !!k && typeof k === 'object' && !Array.isArray(k))
  })
}

/** Rules a Role or ClusterRole grants, from the object or a JSON patch of /rules. */
function roleRules(e: AuditEvent): ReturnType<typeof list> {
  return [
    ...list(objectOf(e)?.rules),
    ...patchOps(e)
      .filter((op) => op.path?.startsWith('/rules'))
      .flatMap((op) => (Array.isArray(op.value) ? op.value : [op.value])),
  ]
}

/**
 * A ConfigMap entry holds a credential (Falco's words: AWS key ids, password, passphrase) when the
 * word names a value that is really there — not a reference to a Secret, a file or a template
 * (`${DB_PASSWORD}`, `/run/secrets/pw`), which is how configuration names passwords properly.
 */
function holdsCredential(key: string, value: string): boolean {
  if (AWS_ACCESS_KEY.test(value)) return true
  const literal = (v: string) => v.trim() !== '' && !/^["']?(\$\{|\{\{|\$\(|%\(|<|ENC\(|vault:|arn:aws|file:|\/|secretKeyRef)/i.test(v.trim())
  if (CREDENTIAL_WORDS.test(key) && literal(value)) return true
  return value.split('\n').some((line) => {
    const m = /^\s*([\w.-]+)\s*[:=]\s*(.*)$/.exec(line)
    return m !== null && CREDENTIAL_WORDS.test(m[1]!) && literal(m[2]!)
  })
}

/** Every image a request's pod spec (or template) names. */
export function imagesOf(e: AuditEvent): string[] {
  return containersOf(podSpecOf(e))
    .map((k) => k.image)
    .filter((i: unknown): i is string => typeof i === 'string')
}

/**
 * Whom a refused impersonation tried to act as. The API server records impersonatedUser only once
 * impersonation is allowed; a refusal is a 403 whose message names the target
 * (`users "system:admin" is forbidden: User "eve" cannot impersonate resource "users" …`).
 */
function refusedImpersonation(e: AuditEvent): AuditEvent['impersonatedUser'] {
  if (e.responseStatus?.code !== 403) return undefined
  const m = /^(users|groups|serviceaccounts|uids) "([^"]*)" is forbidden: User "[^"]*" cannot impersonate resource "\1"(?:.* in the namespace "([^"]+)")?/.exec(e.responseStatus.message ?? '')
  if (!m) return undefined
  const [, kind, name, namespace] = m
  if (kind === 'groups') return { groups: [name!] }
  if (kind === 'serviceaccounts') return { username: `system:serviceaccount:${namespace ?? ''}:${name}` }
  return kind === 'users' ? { username: name! } : undefined
}

/**
 * What a TokenRequest asked for (its spec, at Request level and above): audiences, lifetime, the
 * object it is bound to. Never the response, which holds the token itself.
 */
function tokenRequestDetails(e: AuditEvent): string {
  const spec = e.requestObject && typeof e.requestObject === 'object' && !Array.isArray(e.requestObject) ? field(e.requestObject, 'spec') : undefined
  if (!spec || typeof spec !== 'object') return ''
  const audiences = list(field(spec, 'audiences'))
    .filter((a): a is string => typeof a === 'string')
    .slice(0, 5)
  const expiration = field(spec, 'expirationSeconds')
  const seconds = typeof expiration === 'number' ? expiration : undefined
  const boundKind = field(spec, 'boundObjectRef', 'kind')
  const bound = boundKind ? `${boundKind} ${field(spec, 'boundObjectRef', 'name') ?? ''}`.trim() : undefined
  const parts = [
    audiences.length ? `audiences ${audiences.join(', ')}${audiences.some((a) => AWS_AUDIENCES.has(a)) ? ' (exchangeable for the IAM role the account is given)' : ''}` : '',
    seconds !== undefined ? `valid ${seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds}s`}` : '',
    bound ? `bound to ${bound}` : '',
  ].filter(Boolean)
  return parts.length ? `, ${parts.join(', ')}` : ''
}

/** A Denied condition on a CSR approval update is a refusal, not an approval. */
function isApprovalDenied(e: AuditEvent): boolean {
  const conditions = list(field(objectOf(e), 'status', 'conditions'))
  return conditions.length > 0 && conditions.every((k) => field(k, 'type') === 'Denied')
}

/** eks.amazonaws.com/role-arn (IRSA) on a service account, also when a JSON patch sets it. */
function roleArnOf(e: AuditEvent): string | undefined {
  const key = 'eks.amazonaws.com/role-arn'
  const fromObject = field(objectOf(e), 'metadata', 'annotations', key)
  if (typeof fromObject === 'string') return fromObject
  const op = patchOps(e).find((o) => o.path === '/metadata/annotations/eks.amazonaws.com~1role-arn' || (o.path === '/metadata/annotations' && typeof (o.value as Record<string, unknown> | undefined)?.[key] === 'string'))
  const v = op?.path === '/metadata/annotations' ? (op.value as Record<string, unknown>)[key] : op?.value
  return typeof v === 'string' ? v : undefined
}

/** The 12-digit account of an IAM or STS ARN. */
export function accountOf(arn: string): string | undefined {
  return /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1]
}

/**
 * Whether an image matches one of `patterns`: a pattern without a slash is a registry host
 * (`*.amazonaws.com` matches any subdomain); one with a slash is a repository prefix on the fully
 * qualified reference (`docker.io/falcosecurity/`, short names read as Docker Hub's library/).
 */
export function imageMatcher(patterns: readonly string[]): (image: string) => boolean {
  const hosts = patterns.filter((p) => !p.includes('/'))
  const prefixes = patterns.filter((p) => p.includes('/'))
  return (image) => {
    const registry = registryOf(image)
    const full = registry === 'docker.io' && !image.startsWith('docker.io/') ? `docker.io/${image.includes('/') ? image : `library/${image}`}` : image
    return hosts.some((h) => registry === h || (h.startsWith('*.') && registry.endsWith(h.slice(1)))) || prefixes.some((p) => full.startsWith(p))
  }
}

/** Audit bodies are the client's request: what should be an array may be anything. */
function list<T>(v: readonly T[] | null | undefined): T[]
function list(v: unknown): unknown[]
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** The registry host of an image reference; Docker Hub for short names, as the runtime reads it. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io'
}

function subjects(e: AuditEvent): string {
  return (
    list(field(e.requestObject, 'subjects'))
      .map((s) => `${field(s, 'kind') ?? '?'} ${field(s, 'namespace') ? `${field(s, 'namespace')}/` : ''}${field(s, 'name') ?? '?'}`)
      .join(', ') || 'no subject'
  )
}

/** Where EKS add-ons and common cluster components come from (audit.addonImages). */
export const DEFAULT_ADDON_IMAGES = [
  '*.amazonaws.com',
  'public.ecr.aws',
  'registry.k8s.io',
  'k8s.gcr.io',
  'gcr.io/google-containers/',
  'gcr.io/google_containers/',
  'quay.io/cilium/',
  'quay.io/calico/',
  'docker.io/calico/',
  'quay.io/tigera/',
  'docker.io/falcosecurity/',
  'quay.io/prometheus/',
  'docker.io/amazon/',
  'ghcr.io/aws/',
  'cr.fluentbit.io',
  'docker.io/fluent/',
  'quay.io/jetstack/',
  'gcr.io/datadoghq/',
  'docker.io/datadog/',
  'docker.io/istio/',
  'gcr.io/istio-release/',
  'docker.io/grafana/',
]

export const DEFAULT_SENSITIVE_HOST_PATHS = ['/', '/etc', '/proc', '/root', '/var/run/docker.sock', '/var/run/containerd', '/run/containerd', '/var/run/crio', '/var/lib/kubelet', '/var/lib/docker', '/etc/kubernetes', '/home/kubernetes']
