import t from 'tap'
import { detector, eksEvent } from '../support/audit.js'
import { ACC, certAdmin, iamUser, node } from '../support/eks-users.js'
import { csrPem } from '../support/audit-corpus.js'
import { DEFAULT_SEVERITY_MAPPING, SEVERITY_LABELS } from '../../src/model/severity.js'
import type { AuditEvent } from '../../src/model/audit-event.js'

/**
 * Issue 19's families in EKS shapes the labelled set does not use: IAM usernames as EKS access
 * entries write them (arn:aws:sts::…:assumed-role/…), the certificate admin, service accounts with
 * their pod claims, eks:* and node identities; stage ResponseStarted only; Metadata-level events
 * without a requestObject; 403 / 201 / 409; get vs list vs watch; update, merge and JSON patches;
 * DaemonSet / StatefulSet / ReplicaSet / Job / CronJob templates, init and ephemeral containers,
 * kubectl debug. Beside them, ordinary EKS traffic of the add-ons (aws-node, kube-proxy, coredns,
 * Karpenter, cluster-autoscaler, EBS CSI, the load balancer controller, metrics-server, Pod
 * Identity, node agents such as Falco and Fluent Bit) and GitOps controllers re-applying what
 * their repository holds. An attack must reach its severity; ordinary traffic may at most leave an
 * INFORMATIONAL record. Each case gets a fresh detector (no state carried between them).
 */

const sa = (ns: string, name: string): AuditEvent['user'] => ({
  username: `system:serviceaccount:${ns}:${name}`,
  uid: 'x',
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
  extra: { 'authentication.kubernetes.io/pod-name': [`${name}-abc`], 'authentication.kubernetes.io/pod-uid': ['u'], 'authentication.kubernetes.io/node-name': ['ip-10-0-1-1.ec2.internal'] },
})
const eks = (u: string): AuditEvent['user'] => ({ username: u, groups: ['system:authenticated'] })
const forbid = { responseStatus: { code: 403, reason: 'Forbidden', status: 'Failure' } as any, annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' } }
let t0 = Date.parse('2026-11-21T10:00:00Z')
const at = (s: number) => ({ requestReceivedTimestamp: new Date(t0 + s * 1000).toISOString(), stageTimestamp: new Date(t0 + s * 1000 + 15).toISOString() })
const E = (over: Partial<AuditEvent>) => eksEvent(over)

type Case = [string, 'attack' | 'benign', AuditEvent[], string?]
const spec = (containers: any[], extra: any = {}) => ({ containers, ...extra })
const cases: Case[] = [
  // --- workload secret refusals
  [
    'service account refused watch, get, list of Secrets (403, no decision annotation)',
    'attack',
    [
      E({ user: sa('payments', 'api'), verb: 'watch', requestURI: '/api/v1/namespaces/payments/secrets?watch=true', objectRef: { resource: 'secrets', namespace: 'payments', apiVersion: 'v1' }, responseStatus: { code: 403 }, annotations: {}, ...at(0) }),
      E({ user: sa('payments', 'api'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'x' }, responseStatus: { code: 403 }, annotations: {}, ...at(5) }),
      E({ user: sa('payments', 'api'), verb: 'list', objectRef: { resource: 'secrets' }, responseStatus: { code: 403 }, annotations: {}, ...at(9) }),
    ],
  ],
  [
    'service account refused Secrets seconds apart across a fixed window boundary',
    'attack',
    [
      E({ user: sa('blog', 'wp'), verb: 'list', objectRef: { resource: 'secrets', namespace: 'blog' }, ...forbid, ...at(0) }),
      E({ user: sa('blog', 'wp'), verb: 'list', objectRef: { resource: 'secrets', namespace: 'blog' }, ...forbid, ...at(595) }),
      E({ user: sa('blog', 'wp'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'a' }, ...forbid, ...at(605) }),
      E({ user: sa('blog', 'wp'), verb: 'list', objectRef: { resource: 'secrets' }, ...forbid, ...at(610) }),
    ],
  ],
  // --- SA in system namespace
  [
    'service account in kube-system by an IAM role (access entry username), Metadata level',
    'attack',
    [E({ user: iamUser('eve'), verb: 'create', requestURI: '/api/v1/namespaces/kube-system/serviceaccounts', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'backup-agent', apiVersion: 'v1' }, responseStatus: { code: 201 } })],
    'MEDIUM',
  ],
  ['SA in kube-node-lease by kubernetes-admin', 'attack', [E({ user: certAdmin, verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-node-lease', name: 'x' }, responseStatus: { code: 201 } })], 'MEDIUM'],
  [
    'SA kube-system foreign role, IAM role user',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'create',
        objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'ebs-helper' },
        requestObject: { kind: 'ServiceAccount', metadata: { name: 'ebs-helper', namespace: 'kube-system', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::999900001111:role/x' } } },
        responseStatus: { code: 201 },
      }),
    ],
    'HIGH',
  ],
  [
    'SA foreign role by update (existing SA)',
    'attack',
    [E({ user: iamUser('eve'), verb: 'update', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'coredns' }, requestObject: { kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::999900001111:role/x' } } } })],
    'HIGH',
  ],
  ['SA foreign role merge patch', 'attack', [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'aws-node' }, requestObject: { metadata: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::999900001111:role/x' } } } })], 'HIGH'],
  ['SA create 409 conflict', 'benign', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'x' }, responseStatus: { code: 409, reason: 'AlreadyExists' } })]],
  ['SA in kube-system refused 403', 'benign', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'x' }, ...forbid })]],
  ['eks:addon-manager creates SA in kube-system', 'benign', [E({ user: eks('eks:addon-manager'), verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'ebs-csi-controller-sa' }, responseStatus: { code: 201 } })]],
  ['EKS add-on manager creates the CloudWatch agent service account', 'benign', [E({ user: eks('eks:addon-manager'), verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'amazon-cloudwatch', name: 'cloudwatch-agent' }, responseStatus: { code: 201 } })]],
  ['SA token request by kubelet', 'benign', [E({ user: node('ip-10-0-1-1.ec2.internal'), verb: 'create', objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'aws-node' }, responseStatus: { code: 201 } })]],
  ['a person mints a token for an existing kube-system service account', 'attack', [E({ user: iamUser('alice'), verb: 'create', objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'my-sa' }, responseStatus: { code: 201 } })], 'MEDIUM'],
  ['the controller manager mints a controller token', 'benign', [E({ user: eks('system:kube-controller-manager'), verb: 'create', objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'namespace-controller' }, responseStatus: { code: 201 } })]],
  // --- NodePort
  ['NodePort via update, IAM user', 'attack', [E({ user: iamUser('eve'), verb: 'update', objectRef: { resource: 'services', namespace: 'default', name: 'web' }, requestObject: { kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } } })], 'LOW'],
  ['NodePort merge patch spec.type', 'attack', [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'services', namespace: 'default', name: 'web' }, requestObject: { spec: { type: 'NodePort' } } })], 'LOW'],
  ['NodePort create by a CI service account', 'attack', [E({ user: sa('ci', 'deployer'), verb: 'create', objectRef: { resource: 'services', namespace: 'default', name: 'web' }, requestObject: { kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } } })], 'LOW'],
  ['LoadBalancer by ALB controller patch status', 'benign', [E({ user: sa('kube-system', 'aws-load-balancer-controller'), verb: 'patch', objectRef: { resource: 'services', subresource: 'status', namespace: 'default', name: 'web' }, requestObject: { status: { loadBalancer: {} } } })]],
  ['NodePort create refused', 'benign', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'services', namespace: 'default', name: 'web' }, requestObject: { kind: 'Service', spec: { type: 'NodePort' } }, ...forbid })]],
  // --- CSR
  [
    'CSR system:masters by SA',
    'attack',
    [
      E({
        user: sa('dev', 'builder'),
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', name: 'c1', apiGroup: 'certificates.k8s.io' },
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'c1' }, spec: { request: csrPem('/CN=evil/O=system:masters'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } },
        responseStatus: { code: 201 },
      }),
    ],
    'HIGH',
  ],
  [
    'CSR for a node identity (kubelet client signer) by an IAM user',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', name: 'c2' },
        requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'c2' }, spec: { request: csrPem('/O=system:nodes/CN=system:node:ip-10-0-9-9.ec2.internal'), signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['client auth'] } },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  [
    'CSR kube-system SA CN',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', name: 'c3' },
        requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'c3' }, spec: { request: csrPem('/CN=system:serviceaccount:kube-system:generic-garbage-collector'), signerName: 'kubernetes.io/kube-apiserver-client' } },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  ['CSR masters refused create', 'attack', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'certificatesigningrequests', name: 'c4' }, requestObject: { kind: 'CertificateSigningRequest', metadata: { name: 'c4' }, spec: { request: csrPem('/O=system:masters/CN=x') } }, ...forbid })], 'MEDIUM'],
  ['CSR approval Metadata level (no object) by person', 'attack', [E({ user: iamUser('eve'), verb: 'update', objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'c1', apiGroup: 'certificates.k8s.io' } })], 'MEDIUM'],
  [
    'kubelet client cert CSR (bootstrap) by node',
    'benign',
    [
      E({
        user: node('ip-10-0-1-1.ec2.internal'),
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', name: 'csr-abc' },
        requestObject: { kind: 'CertificateSigningRequest', spec: { request: csrPem('/O=system:nodes/CN=system:node:ip-10-0-1-1.ec2.internal'), signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['client auth'] } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'cert-manager asks for an application certificate',
    'benign',
    [E({ user: sa('cert-manager', 'cert-manager'), verb: 'create', objectRef: { resource: 'certificatesigningrequests', name: 'x' }, requestObject: { kind: 'CertificateSigningRequest', spec: { request: csrPem('/CN=web.shop.svc'), signerName: 'example.com/x' } }, responseStatus: { code: 201 } })],
  ],
  [
    'eks:certificate-controller approves with object naming node',
    'benign',
    [
      E({
        user: eks('eks:certificate-controller'),
        verb: 'update',
        objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-abc' },
        requestObject: {
          kind: 'CertificateSigningRequest',
          spec: { username: 'system:node:ip-10-0-1-1.ec2.internal', groups: ['system:nodes', 'system:authenticated'], request: csrPem('/O=system:nodes/CN=system:node:ip-10-0-1-1.ec2.internal'), signerName: 'kubernetes.io/kubelet-serving' },
          status: { conditions: [{ type: 'Approved', status: 'True' }] },
        },
      }),
    ],
  ],
  // --- impersonation
  ['impersonate system:masters group via SA, refused', 'attack', [E({ user: sa('ci', 'runner'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'x' }, impersonatedUser: { username: 'someone', groups: ['system:masters'] }, ...forbid })], 'MEDIUM'],
  ['impersonate kube-system SA', 'attack', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'pods', namespace: 'default' }, impersonatedUser: { username: 'system:serviceaccount:kube-system:replicaset-controller' } })], 'MEDIUM'],
  ['impersonate kubernetes-admin', 'attack', [E({ user: iamUser('eve'), verb: 'list', objectRef: { resource: 'nodes' }, impersonatedUser: { username: 'kubernetes-admin' } })], 'MEDIUM'],
  ['impersonating system:admin, refused', 'attack', [E({ user: iamUser('eve'), verb: 'list', objectRef: { resource: 'nodes' }, impersonatedUser: { username: 'system:admin' }, ...forbid })], 'MEDIUM'],
  // --- miners
  [
    'DaemonSet xmrig update',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'update',
        objectRef: { resource: 'daemonsets', namespace: 'monitoring', name: 'node-exporter', apiGroup: 'apps' },
        requestObject: {
          kind: 'DaemonSet',
          spec: {
            template: {
              spec: spec([
                { name: 'ne', image: 'quay.io/prometheus/node-exporter' },
                { name: 'x', image: 'xmrig/xmrig:latest' },
              ]),
            },
          },
        },
      }),
    ],
    'MEDIUM',
  ],
  [
    'StatefulSet stratum args',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'create',
        objectRef: { resource: 'statefulsets', namespace: 'data', name: 's', apiGroup: 'apps' },
        requestObject: { kind: 'StatefulSet', spec: { template: { spec: spec([{ name: 'x', image: 'ubuntu', command: ['./x', '-o', 'stratum+tcp://1.2.3.4:3333'] }]) } } },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  [
    'ReplicaSet minerd',
    'attack',
    [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'replicasets', namespace: 'data', apiGroup: 'apps' }, requestObject: { kind: 'ReplicaSet', spec: { template: { spec: spec([{ name: 'x', image: 'docker.io/someone/cpuminer-opt:latest' }]) } } }, responseStatus: { code: 201 } })],
    'MEDIUM',
  ],
  [
    'Job xmrig initContainer',
    'attack',
    [
      E({
        user: sa('ci', 'runner'),
        verb: 'create',
        objectRef: { resource: 'jobs', namespace: 'ci', apiGroup: 'batch' },
        requestObject: { kind: 'Job', spec: { template: { spec: { initContainers: [{ name: 'i', image: 'xmrig/xmrig' }], containers: [{ name: 'c', image: 'busybox' }] } } } },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  [
    'ephemeral container miner (kubectl debug)',
    'attack',
    [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-1' }, requestObject: { spec: { ephemeralContainers: [{ name: 'debugger-x', image: 'xmrig/xmrig', targetContainerName: 'web' }] } } })],
    'MEDIUM',
  ],
  [
    'kubectl debug node (privileged pod hostPID /)',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'default', name: 'node-debugger-ip-10-0-1-1-abcde' },
        requestObject: {
          kind: 'Pod',
          metadata: { name: 'node-debugger-ip-10-0-1-1-abcde' },
          spec: { nodeName: 'ip-10-0-1-1', hostPID: true, hostNetwork: true, hostIPC: true, containers: [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'host-root', mountPath: '/host' }] }], volumes: [{ name: 'host-root', hostPath: { path: '/' } }] },
        },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  ['kubectl debug pod ephemeral at Metadata', 'attack', [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-1' } })], 'MEDIUM'],
  ['ephemeral container added by update (older kubectl debug)', 'attack', [E({ user: iamUser('eve'), verb: 'update', objectRef: { resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-1' } })], 'MEDIUM'],
  ['miner image via image update patch on deployment', 'attack', [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }, requestObject: { spec: { template: { spec: { containers: [{ name: 'web', image: 'xmrig/xmrig:6' }] } } } } })], 'MEDIUM'],
  ['kubectl set image JSON patch miner', 'attack', [E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }, requestObject: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'xmrig/xmrig:6' }] })], 'MEDIUM'],
  [
    'CronJob benign backup',
    'benign',
    [
      E({
        user: iamUser('ci', 'Deployer'),
        verb: 'create',
        objectRef: { resource: 'cronjobs', namespace: 'ops', apiGroup: 'batch' },
        requestObject: { kind: 'CronJob', spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'amazon/aws-cli:2.17', args: ['s3', 'sync', '/data', 's3://backups/'] }] } } } } } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'an ordinary deployment whose args name a target and a config file',
    'benign',
    [
      E({
        user: iamUser('ci', 'Deployer'),
        verb: 'create',
        objectRef: { resource: 'deployments', namespace: 'ops', apiGroup: 'apps' },
        requestObject: { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'b', image: 'grafana/loki:3', args: ['-config.file=/etc/loki/config.yaml', '-target=all'] }] } } } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  // --- long running
  [
    'attach ResponseStarted only, kubernetes-admin',
    'attack',
    [E({ user: certAdmin, stage: 'ResponseStarted', verb: 'create', requestURI: '/api/v1/namespaces/shop/pods/web/attach?container=web&stdin=true&stdout=true&tty=true', objectRef: { resource: 'pods', subresource: 'attach', namespace: 'shop', name: 'web' }, responseStatus: { code: 101 } })],
    'LOW',
  ],
  [
    'exec via GET (websocket) ResponseStarted',
    'attack',
    [E({ user: iamUser('eve'), stage: 'ResponseStarted', verb: 'get', requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh&stdin=true&stdout=true&tty=true', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web' }, responseStatus: { code: 101 } })],
    'LOW',
  ],
  ['portforward via GET kube-system', 'attack', [E({ user: iamUser('eve'), stage: 'ResponseStarted', verb: 'get', objectRef: { resource: 'pods', subresource: 'portforward', namespace: 'kube-system', name: 'coredns-1' }, responseStatus: { code: 101 } })], 'LOW'],
  ['exec in kube-system at ResponseStarted by SA', 'attack', [E({ user: sa('ci', 'runner'), stage: 'ResponseStarted', verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'kube-system', name: 'aws-node-x' }, responseStatus: { code: 101 } })], 'MEDIUM'],
  ['exec refused 403', 'benign', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'web' }, ...forbid })]],
  ['logs read', 'benign', [E({ user: iamUser('alice'), verb: 'get', objectRef: { resource: 'pods', subresource: 'log', namespace: 'shop', name: 'web' } })]],
  // --- RBAC graded
  ['ClusterRole create wildcard by IAM role user, Metadata', 'attack', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'clusterroles', name: 'x', apiGroup: 'rbac.authorization.k8s.io' }, responseStatus: { code: 201 } })], 'INFORMATIONAL'],
  ['Role with wildcard via update', 'attack', [E({ user: iamUser('eve'), verb: 'update', objectRef: { resource: 'roles', namespace: 'shop', name: 'x' }, requestObject: { kind: 'Role', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } })], 'MEDIUM'],
  [
    'ClusterRole secrets get escalate',
    'attack',
    [E({ user: certAdmin, verb: 'create', objectRef: { resource: 'clusterroles', name: 'x' }, requestObject: { kind: 'ClusterRole', rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate', 'bind'] }] }, responseStatus: { code: 201 } })],
    'LOW',
  ],
  [
    'ClusterRoleBinding patch via SSA to cluster-admin',
    'attack',
    [
      E({
        user: iamUser('eve'),
        verb: 'patch',
        objectRef: { resource: 'clusterrolebindings', name: 'eve-admin' },
        requestObject: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'eve-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'eve' }] },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  ['RoleBinding to admin in namespace, Metadata', 'attack', [E({ user: iamUser('eve'), verb: 'create', objectRef: { resource: 'rolebindings', namespace: 'shop', name: 'x' }, responseStatus: { code: 201 } })], 'INFORMATIONAL'],
  [
    'CRB by SA (stolen ci token) to cluster-admin',
    'attack',
    [
      E({
        user: sa('ci', 'deployer'),
        verb: 'create',
        objectRef: { resource: 'clusterrolebindings', name: 'pwn' },
        requestObject: { kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }] },
        responseStatus: { code: 201 },
      }),
    ],
    'MEDIUM',
  ],
  ['delete CRB eks:* by person', 'attack', [E({ user: iamUser('eve'), verb: 'delete', objectRef: { resource: 'clusterrolebindings', name: 'eks:podsecuritypolicy:authenticated' } })], 'INFORMATIONAL'],
  [
    'argocd sync patch ClusterRole wildcard (existing, 200)',
    'benign',
    [
      E({
        user: sa('argocd', 'argocd-application-controller'),
        verb: 'patch',
        objectRef: { resource: 'clusterroles', name: 'argocd-application-controller' },
        requestObject: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'argocd-application-controller' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      }),
    ],
  ],
  [
    'flux reconcile CRB to cluster-admin (existing, 200)',
    'benign',
    [
      E({
        user: sa('flux-system', 'kustomize-controller'),
        verb: 'patch',
        objectRef: { resource: 'clusterrolebindings', name: 'cluster-reconciler-flux-system' },
        requestObject: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'cluster-reconciler-flux-system' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'kustomize-controller', namespace: 'flux-system' }] },
      }),
    ],
  ],
  [
    'argocd creates app ClusterRole with write verbs',
    'benign',
    [
      E({
        user: sa('argocd', 'argocd-application-controller'),
        verb: 'create',
        objectRef: { resource: 'clusterroles', name: 'external-dns' },
        requestObject: {
          kind: 'ClusterRole',
          metadata: { name: 'external-dns' },
          rules: [
            { apiGroups: [''], resources: ['services', 'endpoints', 'pods'], verbs: ['get', 'watch', 'list'] },
            { apiGroups: ['externaldns.k8s.io'], resources: ['dnsendpoints/status'], verbs: ['*'] },
          ],
        },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'helm by CI IAM role creates app ClusterRole read-only',
    'benign',
    [E({ user: iamUser('gha-1', 'Deployer'), verb: 'create', objectRef: { resource: 'clusterroles', name: 'metrics-reader' }, requestObject: { kind: 'ClusterRole', rules: [{ apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] }] }, responseStatus: { code: 201 } })],
  ],
  [
    'clusterrole-aggregation-controller updates aggregated role',
    'benign',
    [E({ user: sa('kube-system', 'clusterrole-aggregation-controller'), verb: 'update', objectRef: { resource: 'clusterroles', name: 'admin' }, requestObject: { kind: 'ClusterRole', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } })],
  ],
  ['EKS updates system:coredns', 'benign', [E({ user: eks('eks:addon-manager'), verb: 'update', objectRef: { resource: 'clusterroles', name: 'system:coredns' } })]],
  ['karpenter creates nodeclaims', 'benign', [E({ user: sa('karpenter', 'karpenter'), verb: 'create', objectRef: { resource: 'nodeclaims', name: 'default-x', apiGroup: 'karpenter.sh' }, responseStatus: { code: 201 } })]],
  ['karpenter deletes node', 'benign', [E({ user: sa('karpenter', 'karpenter'), verb: 'delete', objectRef: { resource: 'nodes', name: 'ip-10-0-1-1.ec2.internal' } })]],
  ['karpenter evicts pods', 'benign', [E({ user: sa('karpenter', 'karpenter'), verb: 'create', objectRef: { resource: 'pods', subresource: 'eviction', namespace: 'shop', name: 'web-1' }, responseStatus: { code: 201 } })]],
  ['Karpenter lists pods', 'benign', [E({ user: sa('karpenter', 'karpenter'), verb: 'list', objectRef: { resource: 'pods' } })]],
  ['ebs csi attacher patch volumeattachments', 'benign', [E({ user: sa('kube-system', 'ebs-csi-controller-sa'), verb: 'patch', objectRef: { resource: 'volumeattachments', subresource: 'status', name: 'csi-x', apiGroup: 'storage.k8s.io' } })]],
  [
    'ebs csi node DaemonSet pod by daemon-set-controller (privileged, /var/lib/kubelet)',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'kube-system' },
        requestObject: {
          kind: 'Pod',
          spec: {
            containers: [
              { name: 'ebs-plugin', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-ebs-csi-driver:v1.35.0', securityContext: { privileged: true } },
              { name: 'node-driver-registrar', image: 'public.ecr.aws/eks-distro/kubernetes-csi/node-driver-registrar:v2.11' },
            ],
            volumes: [
              { name: 'kubelet-dir', hostPath: { path: '/var/lib/kubelet' } },
              { name: 'device-dir', hostPath: { path: '/dev' } },
            ],
          },
        },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'metrics-server pod in kube-system by replicaset-controller',
    'benign',
    [E({ user: sa('kube-system', 'replicaset-controller'), verb: 'create', objectRef: { resource: 'pods', namespace: 'kube-system' }, requestObject: { kind: 'Pod', spec: { containers: [{ name: 'metrics-server', image: 'registry.k8s.io/metrics-server/metrics-server:v0.7.2' }] } }, responseStatus: { code: 201 } })],
  ],
  [
    'eks-pod-identity-agent DS pod hostNetwork',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'kube-system' },
        requestObject: { kind: 'Pod', spec: { hostNetwork: true, containers: [{ name: 'eks-pod-identity-agent', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/eks-pod-identity-agent:0.1.10' }] } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  ['Pod Identity: pods get by eks-pod-identity', 'benign', [E({ user: eks('eks:pod-identity-mutating-webhook'), verb: 'get', objectRef: { resource: 'serviceaccounts', namespace: 'shop', name: 'web' } })]],
  [
    'node DaemonSet pods (fluent-bit in amazon-cloudwatch) by daemon-set-controller',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'amazon-cloudwatch' },
        requestObject: {
          kind: 'Pod',
          spec: {
            containers: [{ name: 'fluent-bit', image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2' }],
            volumes: [
              { name: 'varlog', hostPath: { path: '/var/log' } },
              { name: 'dockercontainers', hostPath: { path: '/var/lib/docker/containers' } },
            ],
          },
        },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'kube-proxy DS pod',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'kube-system' },
        requestObject: {
          kind: 'Pod',
          spec: {
            hostNetwork: true,
            containers: [{ name: 'kube-proxy', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.31.0-minimal-eksbuild.2', securityContext: { privileged: true } }],
            volumes: [
              { name: 'lib-modules', hostPath: { path: '/lib/modules' } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock' } },
            ],
          },
        },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'falco DS pod in falco ns by daemon-set-controller',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'falco' },
        requestObject: {
          kind: 'Pod',
          spec: {
            containers: [{ name: 'falco', image: 'docker.io/falcosecurity/falco:0.39.2', securityContext: { privileged: true } }],
            volumes: [
              { name: 'proc', hostPath: { path: '/proc' } },
              { name: 'etc', hostPath: { path: '/etc' } },
              { name: 'containerd', hostPath: { path: '/run/containerd' } },
            ],
          },
        },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  ['cluster-autoscaler updates configmap status', 'benign', [E({ user: sa('kube-system', 'cluster-autoscaler'), verb: 'update', objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'cluster-autoscaler-status' } })]],
  ['coredns list services', 'benign', [E({ user: sa('kube-system', 'coredns'), verb: 'list', objectRef: { resource: 'services' } })]],
  ['aws-node patches pod annotation', 'benign', [E({ user: sa('kube-system', 'aws-node'), verb: 'patch', objectRef: { resource: 'pods', namespace: 'shop', name: 'web' } })]],
  ['kube-proxy list endpointslices', 'benign', [E({ user: eks('system:kube-proxy' as string), verb: 'list', objectRef: { resource: 'endpointslices', apiGroup: 'discovery.k8s.io' } })]],
  ['a kubelet refused five Secrets by the node authorizer', 'benign', Array.from({ length: 5 }, (_, i) => E({ user: node('ip-10-0-1-1.ec2.internal'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: `s${i}` }, ...forbid, ...at(i) }))],
  ['eks:node-manager, eks:cloud-controller-manager', 'benign', [E({ user: eks('eks:cloud-controller-manager'), verb: 'patch', objectRef: { resource: 'nodes', name: 'n' } })]],
  ['metrics-server SA get nodes/metrics', 'benign', [E({ user: sa('kube-system', 'metrics-server'), verb: 'get', objectRef: { resource: 'nodes', subresource: 'metrics', name: 'n' } })]],
  ['prometheus nodes/proxy metrics', 'benign', [E({ user: sa('monitoring', 'prometheus'), verb: 'get', requestURI: '/api/v1/nodes/n/proxy/metrics/cadvisor', objectRef: { resource: 'nodes', subresource: 'proxy', name: 'n' } })]],
  ['ALB controller creates TargetGroupBinding', 'benign', [E({ user: sa('kube-system', 'aws-load-balancer-controller'), verb: 'create', objectRef: { resource: 'targetgroupbindings', namespace: 'shop', apiGroup: 'elbv2.k8s.aws' }, responseStatus: { code: 201 } })]],
  ['person reads own namespace secret (learning)', 'benign', [E({ user: iamUser('alice'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'web' } })]],
  ['person kubectl apply deployment', 'benign', [E({ user: iamUser('alice'), verb: 'patch', objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }, requestObject: { spec: { replicas: 3 } } })]],
  ['person rollout restart', 'benign', [E({ user: iamUser('alice'), verb: 'patch', objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps' }, requestObject: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026' } } } } } })]],
  ['person creates LoadBalancer service', 'benign', [E({ user: iamUser('alice'), verb: 'create', objectRef: { resource: 'services', namespace: 'shop', name: 'web' }, requestObject: { kind: 'Service', spec: { type: 'LoadBalancer', ports: [{ port: 443 }] } }, responseStatus: { code: 201 } })]],
  ['person creates namespace', 'benign', [E({ user: iamUser('alice'), verb: 'create', objectRef: { resource: 'namespaces', name: 'team-a' }, responseStatus: { code: 201 } })]],
  [
    'argocd creates deployment in kube-system with addon image',
    'benign',
    [
      E({
        user: sa('argocd', 'argocd-application-controller'),
        verb: 'create',
        objectRef: { resource: 'deployments', namespace: 'kube-system', name: 'metrics-server', apiGroup: 'apps' },
        requestObject: { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'm', image: 'registry.k8s.io/metrics-server/metrics-server:v0.7.2' }] } } } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'Argo CD creates the load balancer controller service account in kube-system',
    'benign',
    [
      E({
        user: sa('argocd', 'argocd-application-controller'),
        verb: 'create',
        objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'aws-load-balancer-controller' },
        requestObject: { kind: 'ServiceAccount', metadata: { name: 'aws-load-balancer-controller', annotations: { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${ACC}:role/alb` } } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  ['argocd applies ConfigMap', 'benign', [E({ user: sa('argocd', 'argocd-application-controller'), verb: 'patch', objectRef: { resource: 'configmaps', namespace: 'shop', name: 'c' }, requestObject: { data: { 'app.yaml': 'db:\n  passwordFile: /etc/secret/pw\n' } } })]],
  ['system:masters kubernetes-admin gets pods', 'benign', [E({ user: certAdmin, verb: 'list', objectRef: { resource: 'pods', namespace: 'shop' } })]],
  ['ExternalSecrets SA reads secrets ok', 'benign', [E({ user: sa('external-secrets', 'external-secrets'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'x' } })]],
  ['person deletes pod in kube-system', 'benign', [E({ user: iamUser('alice'), verb: 'delete', objectRef: { resource: 'pods', namespace: 'kube-system', name: 'coredns-1' } })]],
  ['drain eviction by person in kube-system', 'benign', [E({ user: iamUser('alice'), verb: 'create', objectRef: { resource: 'pods', subresource: 'eviction', namespace: 'kube-system', name: 'coredns-1' }, responseStatus: { code: 201 } })]],
  [
    'GuardDuty agent DS pod in amazon-guardduty',
    'benign',
    [
      E({
        user: sa('kube-system', 'daemon-set-controller'),
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'amazon-guardduty' },
        requestObject: { kind: 'Pod', spec: { hostPID: true, containers: [{ name: 'aws-guardduty-agent', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/aws-guardduty-agent:v1.7.0', securityContext: { privileged: true } }], volumes: [{ name: 'host-root', hostPath: { path: '/' } }] } },
        responseStatus: { code: 201 },
      }),
    ],
  ],
  [
    'vpc-cni SA update aws-node DS via eks addon',
    'benign',
    [
      E({
        user: eks('eks:addon-manager'),
        verb: 'patch',
        objectRef: { resource: 'daemonsets', namespace: 'kube-system', name: 'aws-node', apiGroup: 'apps' },
        requestObject: { spec: { template: { spec: { containers: [{ name: 'aws-node', image: '602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19', securityContext: { privileged: true } }] } } } },
      }),
    ],
  ],
]

const sev = (p: string) => DEFAULT_SEVERITY_MAPPING[p as keyof typeof DEFAULT_SEVERITY_MAPPING]
const rank = (label: string) => SEVERITY_LABELS.indexOf(label as (typeof SEVERITY_LABELS)[number])

t.test('EKS-shaped attacks reach their severity; ordinary EKS and GitOps traffic stays at most INFORMATIONAL', async (t) => {
  let attacks = 0
  let benign = 0
  let informational = 0
  for (const [name, label, events, atLeast] of cases) {
    const d = detector()
    const got = events.flatMap((e) => d.detect(structuredClone(e))).map((f) => `${f.fields['detection.id']}:${sev(f.priority)}`)
    const best = Math.max(-1, ...got.map((g) => rank(g.split(':')[1]!)))
    if (label === 'attack') {
      attacks++
      t.ok(best >= rank(atLeast ?? 'LOW'), `${name}: wanted ${atLeast ?? 'LOW'}, got ${got.join(', ') || 'nothing'}`)
    } else {
      benign++
      if (best === rank('INFORMATIONAL')) informational++
      t.ok(best <= rank('INFORMATIONAL'), `${name}: ${got.join(', ') || 'nothing'}`)
    }
  }
  t.comment(`${attacks} attack shapes, ${benign} ordinary ones (${informational} with an INFORMATIONAL record)`)
})

t.test("a workload token's refused Secret reads: a sliding window, not fixed ones", async (t) => {
  const refusedAt = (d: ReturnType<typeof detector>, s: number, ns = 'blog') => d.ids(E({ user: sa('blog', 'wp'), verb: 'get', objectRef: { resource: 'secrets', namespace: ns, name: `s${s}` }, ...forbid, ...at(s) }))
  const spread = detector()
  t.same(
    [0, 400, 900].flatMap((s) => refusedAt(spread, s)),
    [],
    'three refusals over 15 minutes: no burst',
  )
  const outOfOrder = detector()
  t.same(
    [30, 10, 20].flatMap((s) => refusedAt(outOfOrder, s)),
    ['workload-forbidden-secret-reads'],
    'delivered out of order, still three within the window',
  )
  const again = detector()
  t.same(
    [0, 1, 2, 3, 4, 5].flatMap((s) => refusedAt(again, s)),
    ['workload-forbidden-secret-reads'],
    'once per window',
  )
  t.same(
    [700, 701, 702].flatMap((s) => refusedAt(again, s)),
    ['workload-forbidden-secret-reads'],
    'and again in a later one',
  )
})

t.test('GitOps deployers: RBAC, services and add-on service accounts are theirs to apply; the rest is judged', async (t) => {
  const argo = sa('argocd', 'argocd-application-controller')
  const adminToDefault = (user: AuditEvent['user'], audit: Record<string, unknown> = {}) =>
    detector(audit)
      .ids(E({ user, verb: 'patch', objectRef: { resource: 'clusterrolebindings', name: 'x' }, requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'x' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }] } }))
      .sort()
  t.same(adminToDefault(argo), ['admin-to-default-service-account'], 'cluster-admin for a default service account, whoever applies it')
  t.same(adminToDefault(sa('ci', 'deployer')), ['admin-to-default-service-account', 'binding-to-admin-role', 'rbac-change'], 'another workload is judged like a person')
  t.same(adminToDefault(argo, { deployers: [] }), ['admin-to-default-service-account', 'binding-to-admin-role', 'rbac-change'], 'deployers: [] judges them like people')
  const miner = detector().ids(E({ user: argo, verb: 'create', objectRef: { resource: 'deployments', namespace: 'kube-system', name: 'x', apiGroup: 'apps' }, requestObject: { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'x', image: 'xmrig/xmrig:6' }] } } } }, responseStatus: { code: 201 } }))
  t.same(miner.sort(), ['cryptominer-workload', 'workload-in-kube-system'], 'a miner, and a workload in kube-system from outside the add-on registries')
  const creds = detector().ids(E({ user: argo, verb: 'patch', objectRef: { resource: 'configmaps', namespace: 'shop', name: 'c' }, requestObject: { data: { AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } } }))
  t.same(creds, ['configmap-with-credentials'], 'credentials committed to Git are still credentials in a ConfigMap')
  t.same(
    detector().ids(E({ user: sa('evil', 'argocd-application-controller'), verb: 'create', objectRef: { resource: 'services', namespace: 'shop', name: 'x' }, requestObject: { kind: 'Service', spec: { type: 'NodePort' } }, responseStatus: { code: 201 } })),
    ['nodeport-service'],
    'the name alone, in another namespace, is not Argo CD',
  )
})

t.test("DaemonSets' pods with add-on images are the template's, in any namespace; other pods and images are findings", async (t) => {
  const dsPod = (ns: string, image: string) =>
    detector()
      .ids(
        E({
          user: sa('kube-system', 'daemon-set-controller'),
          verb: 'create',
          objectRef: { resource: 'pods', namespace: ns },
          requestObject: { kind: 'Pod', spec: { containers: [{ name: 'agent', image, securityContext: { privileged: true } }], volumes: [{ name: 'proc', hostPath: { path: '/proc' } }] } },
          responseStatus: { code: 201 },
        }),
      )
      .sort()
  t.same(dsPod('falco', 'docker.io/falcosecurity/falco:0.39.2'), [])
  t.same(dsPod('datadog', 'gcr.io/datadoghq/agent:7'), [])
  t.same(dsPod('falco', 'busybox:1.36'), ['privileged-container', 'sensitive-host-mount'])
  // A ReplicaSet's pod outside system namespaces is judged, even with images from the organisation's own ECR.
  const rsPod = detector().ids(
    E({
      user: sa('kube-system', 'replicaset-controller'),
      verb: 'create',
      objectRef: { resource: 'pods', namespace: 'shop' },
      requestObject: {
        kind: 'Pod',
        metadata: { generateName: 'web-5d8f-', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5d8f', controller: true }] },
        spec: {
          containers: [
            { name: 'web', image: `${ACC}.dkr.ecr.eu-west-1.amazonaws.com/web:3` },
            { name: 'tools', image: `${ACC}.dkr.ecr.eu-west-1.amazonaws.com/tools:1`, securityContext: { privileged: true } },
          ],
        },
      },
      responseStatus: { code: 201 },
    }),
  )
  t.same(rsPod, ['privileged-container'], "a ReplicaSet's privileged second container")
  // A DaemonSet's pod known by its owner, whatever identity the controller manager uses.
  t.same(
    detector().ids(
      E({
        user: { username: 'system:kube-controller-manager', groups: ['system:authenticated'] },
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'logging' },
        requestObject: {
          kind: 'Pod',
          metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'fluent-bit', controller: true }] },
          spec: {
            containers: [{ name: 'fluent-bit', image: 'cr.fluentbit.io/fluent/fluent-bit:3.2' }],
            volumes: [
              { name: 'varlog', hostPath: { path: '/var/log' } },
              { name: 'containers', hostPath: { path: '/var/lib/docker/containers' } },
            ],
          },
        },
        responseStatus: { code: 201 },
      }),
    ),
    [],
  )
  // The template itself, by a person, is judged whatever its image.
  t.same(
    detector().ids(
      E({
        user: iamUser('alice'),
        verb: 'create',
        objectRef: { resource: 'daemonsets', namespace: 'falco', name: 'falco', apiGroup: 'apps' },
        requestObject: { kind: 'DaemonSet', spec: { template: { spec: { containers: [{ name: 'falco', image: 'docker.io/falcosecurity/falco:0.39.2', securityContext: { privileged: true } }] } } } },
        responseStatus: { code: 201 },
      }),
    ),
    ['privileged-container'],
  )
})

t.test('RBAC verbs stronger than writing (escalate, bind, impersonate) grade a new role like write privileges', async (t) => {
  const role = (verbs: string[]) =>
    detector()
      .ids(E({ user: certAdmin, verb: 'create', objectRef: { resource: 'roles', namespace: 'shop', name: 'r' }, requestObject: { kind: 'Role', rules: [{ apiGroups: ['rbac.authorization.k8s.io', ''], resources: ['rolebindings', 'users'], verbs }] }, responseStatus: { code: 201 } }))
      .sort()
  for (const v of ['escalate', 'bind', 'impersonate']) t.same(role([v]), ['rbac-change', 'role-with-write-privileges'], v)
  t.same(role(['get', 'list']), ['rbac-change'])
})

t.test('a cryptominer set by a JSON patch: an image, a command line, or a whole container', async (t) => {
  const patch = (ops: unknown[]) => detector().ids(E({ user: iamUser('eve'), verb: 'patch', objectRef: { resource: 'statefulsets', namespace: 'data', name: 's', apiGroup: 'apps' }, requestObject: ops }))
  t.same(patch([{ op: 'replace', path: '/spec/template/spec/initContainers/0/image', value: 'docker.io/someone/xmrig:latest' }]), ['cryptominer-workload'])
  t.same(patch([{ op: 'add', path: '/spec/template/spec/containers/0/args', value: ['-o', 'stratum+tcp://203.0.113.9:3333'] }]), ['cryptominer-workload'])
  t.same(patch([{ op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'm', image: 'alpine', command: ['sh', '-c', 'minerd -a cryptonight'] } }]), ['cryptominer-workload'])
  t.same(
    patch([
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:1.27' },
      { op: 'replace', path: '/spec/replicas', value: 3 },
    ]),
    [],
  )
})

t.test('a token request (serviceaccounts/token) is not a new service account', async (t) => {
  t.same(
    detector().ids(E({ user: iamUser('alice'), verb: 'create', objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'x' }, requestObject: { kind: 'TokenRequest', spec: { audiences: ['sts.amazonaws.com'] } }, responseStatus: { code: 201 } })),
    ['service-account-token-minted'],
    'a minted token, not a created account',
  )
})

t.test('a refused impersonation (no impersonatedUser recorded) is read from the refusal', async (t) => {
  const refusedAs = (resource: string, name: string, scope = 'at the cluster scope') =>
    detector().detect(
      E({
        user: iamUser('eve'),
        verb: 'list',
        objectRef: { resource: 'secrets', namespace: 'kube-system' },
        responseStatus: { code: 403, reason: 'Forbidden', message: `${resource} "${name}" is forbidden: User "arn:aws:sts::${ACC}:assumed-role/Admin/eve" cannot impersonate resource "${resource}" in API group "" ${scope}` },
        annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      }),
    )
  for (const [resource, name, scope] of [
    ['users', 'system:admin'],
    ['groups', 'system:masters'],
    ['serviceaccounts', 'generic-garbage-collector', 'in the namespace "kube-system"'],
    ['users', 'kubernetes-admin'],
  ] as const) {
    const [f] = refusedAs(resource, name, scope)
    t.equal(f?.fields['detection.id'], 'privileged-impersonation', `${resource} ${name}`)
    t.equal(f && sev(f.priority), 'MEDIUM')
    t.match(f?.output ?? '', /tried to impersonate .*\(refused\)/)
  }
  t.same(refusedAs('users', 'dev-bob'), [], 'an ordinary user')
  t.same(detector().ids(E({ user: iamUser('eve'), verb: 'get', objectRef: { resource: 'secrets', namespace: 'shop', name: 'x' }, responseStatus: { code: 403, message: 'secrets "x" is forbidden: User "eve" cannot get resource "secrets" in API group "" in the namespace "shop"' } })), [], 'an ordinary refusal')
})

t.test('a certificate for an identity the cluster knows as privileged (kubernetes-admin, a cluster-admin subject)', async (t) => {
  const d = detector()
  const ask = (subject: string, user = iamUser('eve')) =>
    d
      .detect(
        E({
          user,
          verb: 'create',
          objectRef: { resource: 'certificatesigningrequests', name: 'c', apiGroup: 'certificates.k8s.io' },
          requestObject: { kind: 'CertificateSigningRequest', spec: { request: csrPem(subject), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } },
          responseStatus: { code: 201 },
        }),
      )
      .map((f) => `${f.fields['detection.id']}:${sev(f.priority)}`)
  t.same(ask('/CN=kubernetes-admin'), ['privileged-csr:MEDIUM'])
  t.same(ask('/CN=ops-lead/O=platform'), [], 'not known as privileged yet')
  d.detect(E({ user: certAdmin, verb: 'create', objectRef: { resource: 'clusterrolebindings', name: 'platform-admin' }, requestObject: { kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'platform' }] }, responseStatus: { code: 201 } }))
  t.same(ask('/CN=ops-lead/O=platform'), ['privileged-csr:MEDIUM'], 'a group bound to cluster-admin')
  t.same(ask('/O=system:nodes/CN=system:node:ip-10-0-1-1.ec2.internal', node('ip-10-0-1-1.ec2.internal')), [], "a kubelet's own name")
})
