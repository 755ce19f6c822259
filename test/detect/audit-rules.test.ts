import t from 'tap'
import { auditFixture, auditFixtureNames, detector, eksEvent } from '../support/audit.js'
import { toAsff } from '../../src/asff/build.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { AUDIT_RULES } from '../../src/detect/audit/rules.js'
import { isAuditEvent } from '../../src/model/audit-event.js'
import { parseMatcher } from '../../src/route/matchers.js'

const only = (file: string, over: Record<string, unknown> = {}) => {
  const d = detector(over)
  return auditFixture(file).flatMap((e) => d.ids(e))
}

t.test('recorded events: each detection fires where it should (Falco trace files)', async (t) => {
  const expected: Record<string, string[]> = {
    'exec_pod.json': ['exec-in-pod'],
    'attach_pod.json': ['exec-in-pod'],
    'create_nginx_pod_privileged.json': ['privileged-container'],
    'create_nginx_pod_privileged_2nd_container.json': ['privileged-container'],
    'create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json': ['privileged-container'],
    'create_nginx_pod_sensitive_mount.json': ['sensitive-host-mount'],
    'create_nginx_pod_sensitive_mount_2nd_container.json': ['sensitive-host-mount'],
    'create_nginx_pod_hostnetwork.json': ['host-namespaces'],
    'attach_cluster_admin_role.json': ['rbac-change', 'binding-to-admin-role'],
    'create_cluster_role_wildcard_resources.json': ['rbac-change', 'wildcard-role'],
    'create_cluster_role_wildcard_verbs.json': ['rbac-change', 'wildcard-role'],
    'create_cluster_role_write_privileges.json': ['rbac-change', 'role-with-write-privileges'],
    'create_cluster_role_pod_exec.json': ['rbac-change', 'role-with-pod-exec'],
    'create_clusterrole.json': ['rbac-change'],
    'create_clusterrolebinding.json': ['rbac-change'],
    'delete_clusterrole.json': ['rbac-change'],
    'delete_clusterrolebinding.json': ['rbac-change'],
    'delete_cluster_role_kube_aggregator.json': ['rbac-change', 'system-role-changed'],
    'modify_cluster_role_node_problem_detector.json': ['rbac-change', 'system-role-changed'],
    'create_nginx_service_nodeport.json': ['nodeport-service'],
    'create_configmap_sensitive_values.json': Array(6).fill('configmap-with-credentials'),
    // Created by the replica-set controller, with images from outside the add-on registries.
    'create_pod_kube_system_namespace.json': ['workload-in-kube-system'],
    'create_pod_kube_public_namespace.json': ['workload-in-kube-system'],
    'create_serviceaccount_kube_system_namespace.json': ['service-account-in-system-namespace'],
    'create_serviceaccount_kube_public_namespace.json': ['service-account-in-system-namespace'],
    'anonymous_creates_namespace_foo.json': ['anonymous-access-allowed'],
  }
  for (const [file, ids] of Object.entries(expected)) t.same(only(file).sort(), [...ids].sort(), file)
})

t.test('recorded events: ordinary changes and benign principals raise nothing', async (t) => {
  for (const file of [
    'create_nginx_pod_unprivileged.json',
    'create_nginx_pod_nohostnetwork.json',
    'create_nginx_pod_unsensitive_mount.json',
    'create_configmap.json',
    'create_configmap_no_sensitive_values.json',
    'create_deployment.json',
    'create_nginx_service_nonodeport.json',
    'create_service.json',
    'create_serviceaccount.json',
    'delete_service.json',
    'minikube_creates_namespace_foo.json',
    // The controller manager creating a token secret itself (pre-1.24): the system, not a person.
    'create_service_account_token_secret.json',
    'create_kube_system_secret.json',
  ]) {
    t.same(only(file), [], file)
  }
  // Falco: "data not recognized as a k8s audit event"; falconet's sources refuse it the same way (400).
  t.notOk(auditFixture('fal_01_003.json').some(isAuditEvent), 'fal_01_003.json is not an audit event')
})

t.test('every recorded event goes through the detectors without error, and every finding is valid ASFF', async (t) => {
  const d = detector()
  let findings = 0
  for (const file of auditFixtureNames()) {
    for (const e of auditFixture(file)) {
      for (const event of d.detect(e)) {
        findings++
        assertValidAsff(t, toAsff(findingFromEvent(event, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } }), `${file}: ${event.rule}`)
      }
    }
  }
  t.ok(findings >= 15)
})

t.test('the detections name their source as Falco names its audit alerts (k8s_audit): one route or silence matches both', async (t) => {
  const d = detector()
  const events = auditFixture('exec_pod.json').flatMap((e) => d.detect(e))
  t.ok(events.length > 0, 'the exec is detected')
  const auditRoute = parseMatcher('source = "k8s_audit"')
  for (const event of events) {
    t.equal(event.source, 'k8s_audit', event.rule)
    t.ok(auditRoute(findingFromEvent(event, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING })), `${event.rule}: routed with Falco's audit alerts`)
    t.equal(event.input, 'k8s-audit', 'the input is still the endpoint it came through')
  }
})

t.test('exec: kube-system is its own, higher finding (GuardDuty ExecInKubeSystemPod), for anyone', async (t) => {
  const d = detector()
  const exec = (ns: string, username = 'alice') => d.detect(eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: ns, name: 'coredns-5d78c9869d-lq4jn' }, responseStatus: { code: 101 }, user: { username, groups: [] } }))
  const [ks] = exec('kube-system')
  t.match(ks, { rule: 'Exec into a kube-system pod', priority: 'Warning', fields: { 'guardduty.equivalent': 'Execution:Kubernetes/ExecInKubeSystemPod' } })
  t.equal(exec('shop')[0]?.rule, 'Exec into a pod')
  t.same(exec('shop', 'eks:node-manager'), [], 'benign principals are not flagged outside kube-system')
  const refused = d.detect(eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'x' }, responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' } }))
  t.same(
    refused.map((e) => e.fields['detection.id']),
    [],
    'a refused exec did not happen',
  )
})

t.test('each finding names the principal, IAM ARN, source IP, user agent, call, target and decision', async (t) => {
  const [e] = detector().detect(eksEvent({ verb: 'patch', auditID: 'aud-1', objectRef: { resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'cart-api-7d9c6b7b9c-x2x8k' } }))
  t.match(e, {
    input: 'k8s-audit',
    rule: 'Ephemeral container added to a pod',
    actor: { username: 'alice', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/alice', sourceIps: ['203.0.113.7'], userAgent: /kubectl/ },
    workload: { namespace: 'shop', pod: 'cart-api-7d9c6b7b9c-x2x8k' },
    fields: { 'ka.auditid': 'aud-1', 'ka.api': 'patch pods/ephemeralcontainers', 'ka.auth.decision': 'allow', 'ka.auth.reason': /EKS Access Policy/, 'ka.user.session': 'alice' },
  })
  t.match(e!.output, /\[authorization: allow, EKS Access Policy/)
  const asff = toAsff(findingFromEvent(e!, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), TEST_CONTEXT)
  t.match(asff.Action, { ActionType: 'AWS_API_CALL', AwsApiCallAction: { Api: 'patch pods/ephemeralcontainers', ServiceName: 'kubernetes', CallerType: 'remoteip', RemoteIpDetails: { IpAddressV4: '203.0.113.7' }, AffectedResources: { pods: 'shop/cart-api-7d9c6b7b9c-x2x8k' } } })
  t.equal(asff.ProductFields?.['audit/ka.user.arn'], 'arn:aws:sts::111122223333:assumed-role/Admin/alice')
  assertValidAsff(t, asff, 'ephemeral container')
})

t.test('RBAC: default service account admin, anonymous bindings, system changes', async (t) => {
  const binding = (subjects: unknown[], role = 'cluster-admin', username = 'alice') =>
    detector().ids(eksEvent({ verb: 'create', user: { username, groups: [] }, objectRef: { resource: 'clusterrolebindings', name: 'b' }, requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: role }, subjects } }))
  t.same(binding([{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }]).sort(), ['admin-to-default-service-account', 'binding-to-admin-role', 'rbac-change'])
  t.same(binding([{ kind: 'Group', name: 'system:unauthenticated' }], 'view').sort(), ['binding-to-anonymous', 'rbac-change'])
  t.same(binding([{ kind: 'User', name: 'bob' }], 'view'), ['rbac-change'])
  t.same(binding([{ kind: 'User', name: 'bob' }], 'view', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller'), [], 'a controller changing RBAC is not a finding')
  t.same(binding([{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }], 'cluster-admin', 'eks:addon-manager'), ['admin-to-default-service-account'], 'admin to default SA is flagged whoever does it')
})

t.test('anonymous access: allowed requests except health checks', async (t) => {
  const anon = (uri: string, code = 200) => detector().ids(eksEvent({ user: { username: 'system:anonymous', groups: ['system:unauthenticated'] }, requestURI: uri, responseStatus: { code } }))
  t.same(anon('/api/v1/namespaces/kube-system/secrets'), ['anonymous-access-allowed'])
  t.same(anon('/healthz'), [])
  t.same(anon('/version?timeout=32s'), [])
  t.same(anon('/api/v1/secrets', 403), [])
})

t.test('exposed dashboards, CSR approvals, nodes/proxy, impersonation, kube-system workloads, untrusted registries', async (t) => {
  const svc = (name: string, type: string, namespace = 'kubernetes-dashboard') => detector().ids(eksEvent({ verb: 'create', objectRef: { resource: 'services', namespace, name }, requestObject: { kind: 'Service', metadata: { name, namespace }, spec: { type } } }))
  t.same(svc('kubernetes-dashboard', 'LoadBalancer'), ['exposed-dashboard'])
  t.same(svc('centraldashboard', 'NodePort', 'kubeflow').sort(), ['exposed-dashboard', 'nodeport-service'])
  t.same(svc('kubernetes-dashboard', 'ClusterIP'), [])
  t.same(svc('web', 'LoadBalancer', 'shop'), [])
  t.same(detector().ids(eksEvent({ verb: 'update', objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-abc' } })), ['csr-approved-by-human'])
  t.same(detector().ids(eksEvent({ verb: 'update', user: { username: 'system:serviceaccount:kube-system:certificate-controller', groups: [] }, objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-abc' } })), [])
  t.same(detector().ids(eksEvent({ verb: 'get', objectRef: { resource: 'nodes', subresource: 'proxy', name: 'ip-10-0-1-2' }, requestURI: '/api/v1/nodes/ip-10-0-1-2/proxy/run/default/x/c?cmd=id' })), ['nodes-proxy'])
  t.same(detector().ids(eksEvent({ impersonatedUser: { username: 'bob' } })), ['impersonation'])
  t.same(detector().ids(eksEvent({ impersonatedUser: { username: 'system:admin' } })), ['privileged-impersonation'], 'a privileged identity is its own, higher finding')
  const create = (namespace: string, image = 'nginx:1.27') =>
    eksEvent({ verb: 'create', requestURI: `/apis/apps/v1/namespaces/${namespace}/deployments`, objectRef: { resource: 'deployments', namespace, name: 'x' }, requestObject: { kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'c', image }] } } } } })
  t.same(detector().ids(create('kube-system')), ['workload-in-kube-system'])
  t.same(detector().ids(create('shop')), [])
  const allow = { allowedRegistries: ['111122223333.dkr.ecr.eu-west-1.amazonaws.com', 'public.ecr.aws'] }
  t.same(detector(allow).ids(create('shop', 'evil.example.com/miner:latest')), ['untrusted-registry'])
  t.same(detector(allow).ids(create('shop', 'nginx:1.27')), ['untrusted-registry'], 'docker.io is not on this list')
  t.same(detector(allow).ids(create('shop', '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/api:1')), [])
  t.same(detector().ids(create('shop', 'evil.example.com/miner:latest')), [], 'off until an allow-list is configured')
})

t.test('a long-lived service account token created by a person', async (t) => {
  const secret = (username: string) =>
    detector().ids(
      eksEvent({
        verb: 'create',
        user: { username, groups: [] },
        objectRef: { resource: 'secrets', namespace: 'ci', name: 'deployer-token' },
        requestObject: { kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: { name: 'deployer-token', annotations: { 'kubernetes.io/service-account.name': 'deployer' } } },
      }),
    )
  t.same(secret('alice'), ['service-account-token-secret'])
  t.same(secret('system:kube-controller-manager'), [])
})

t.test('config: disable, re-prioritise, allow-list a user or a namespace', async (t) => {
  const exec = eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'x' }, responseStatus: { code: 101 } })
  t.same(detector({ detections: { 'exec-in-pod': { enabled: false } } }).ids(exec), [])
  t.equal(detector({ detections: { 'exec-in-pod': { priority: 'Critical' } } }).detect(exec)[0]?.priority, 'Critical')
  t.same(detector({ detections: { 'exec-in-pod': { allowUsers: ['^alice$'] } } }).ids(exec), [])
  t.same(detector({ detections: { 'exec-in-pod': { allowUsers: ['assumed-role/Admin/'] } } }).ids(exec), [], 'allow-list matches the IAM ARN too')
  t.same(detector({ detections: { 'exec-in-pod': { allowNamespaces: ['shop'] } } }).ids(exec), [])
})

t.test('every rule has a unique id, MITRE tags and key fields', async (t) => {
  t.equal(new Set(AUDIT_RULES.map((r) => r.id)).size, AUDIT_RULES.length)
  for (const r of AUDIT_RULES) {
    t.ok(
      r.tags.some((tag) => tag.startsWith('mitre_')),
      `${r.id}: a MITRE tactic`,
    )
    t.ok(r.keyFields.length > 0, `${r.id}: key fields`)
  }
})

t.test('patches: merge patches read the response object; JSON patches are read op by op', async (t) => {
  const ids = (e: Parameters<ReturnType<typeof detector>['ids']>[0]) => detector().ids(e).sort()
  // A merge patch adding a subject to the cluster-admin binding: no roleRef in the patch.
  t.same(ids(eksEvent({ verb: 'patch', objectRef: { resource: 'clusterrolebindings', name: 'cluster-admin' }, requestObject: { subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }] } })), ['admin-to-default-service-account', 'binding-to-admin-role', 'rbac-change'])
  // The same at RequestResponse level: the response holds the whole binding.
  t.same(ids(eksEvent({ verb: 'patch', objectRef: { resource: 'clusterrolebindings', name: 'ops' }, requestObject: { subjects: [] }, responseObject: { kind: 'ClusterRoleBinding', metadata: { name: 'ops' }, roleRef: { name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'mallory' }] } })), [
    'binding-to-admin-role',
    'rbac-change',
  ])
  // JSON patches turning a deployment privileged / host-PID, adding anonymous, adding a wildcard rule.
  const jp = (resource: string, ops: unknown[]) => ids(eksEvent({ verb: 'patch', objectRef: { resource, namespace: 'shop', name: 'x' }, requestObject: ops }))
  t.same(jp('deployments', [{ op: 'add', path: '/spec/template/spec/containers/0/securityContext/privileged', value: true }]), ['privileged-container'])
  t.same(jp('deployments', [{ op: 'replace', path: '/spec/template/spec/hostPID', value: true }]), ['host-namespaces'])
  t.same(jp('rolebindings', [{ op: 'add', path: '/subjects/-', value: { kind: 'Group', name: 'system:unauthenticated' } }]), ['binding-to-anonymous', 'rbac-change'])
  t.same(jp('roles', [{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['*'], verbs: ['get'] } }]), ['rbac-change', 'wildcard-role'])
})

t.test('ordinary EKS operations are not findings', async (t) => {
  const d = detector()
  // kubectl drain / Karpenter: evictions in kube-system are not new workloads.
  t.same(d.ids(eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'eviction', namespace: 'kube-system', name: 'coredns-5d78c9869d-lq4jn' } })), [])
  // CloudWatch agent and GuardDuty agent DaemonSets run privileged, mounting /, in their own namespaces.
  const addon = (namespace: string, controller = 'daemon-set-controller') =>
    d.ids(
      eksEvent({
        verb: 'create',
        user: { username: `system:serviceaccount:kube-system:${controller}`, groups: [] },
        objectRef: { resource: 'pods', namespace },
        requestObject: { kind: 'Pod', metadata: { name: 'agent-x' }, spec: { containers: [{ name: 'agent', image: 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1', securityContext: { privileged: true } }], volumes: [{ name: 'root', hostPath: { path: '/' } }] } },
      }),
    )
  t.same(addon('amazon-cloudwatch'), [])
  t.same(addon('amazon-guardduty'), [])
  // A node agent's DaemonSet starts a pod on every node, wherever it lives; its template was judged when made.
  t.same(addon('shop'), [], "a DaemonSet's pod with add-on images, in an app namespace")
  t.same(addon('shop', 'replicaset-controller').sort(), ['privileged-container', 'sensitive-host-mount'], "another controller's pod in an app namespace is a finding")
  // Prometheus scraping cAdvisor through nodes/proxy; a server-side dry run.
  t.same(d.ids(eksEvent({ verb: 'get', user: { username: 'system:serviceaccount:monitoring:prometheus', groups: [] }, objectRef: { resource: 'nodes', subresource: 'proxy', name: 'n1' }, requestURI: '/api/v1/nodes/n1/proxy/metrics/cadvisor' })), [])
  t.same(d.ids(eksEvent({ verb: 'create', objectRef: { resource: 'nodes', subresource: 'proxy', name: 'n1' }, requestURI: '/api/v1/nodes/n1/proxy/run/shop/api-0/app?cmd=id' })), ['nodes-proxy'])
  t.same(d.ids(eksEvent({ verb: 'create', requestURI: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=All', objectRef: { resource: 'clusterrolebindings', name: 'b' }, requestObject: { roleRef: { name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'x' }] } })), [])
})

t.test('a mount of a parent of a sensitive path is sensitive (/var/run holds the runtime socket)', async (t) => {
  const mount = (path: string) => detector().ids(eksEvent({ verb: 'create', objectRef: { resource: 'pods', namespace: 'shop' }, requestObject: { kind: 'Pod', spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'v', hostPath: { path } }] } } }))
  t.same(mount('/var/run'), ['sensitive-host-mount'])
  t.same(mount('/var/lib'), ['sensitive-host-mount'])
  t.same(mount('/var/log/app'), [])
})

t.test('an event truncated by CloudWatch is a finding, not a silent gap', async (t) => {
  const [e] = detector().detect(eksEvent({ verb: 'create', objectRef: { resource: 'pods', namespace: 'shop', name: 'big' }, annotations: { 'falconet.io/truncated': '262144' } }))
  t.match(e, { rule: 'Audit event too large to analyse (truncated by CloudWatch)', priority: 'Notice' })
  t.match(e!.output, /262144 bytes by alice/)
})
