import t from 'tap'
import { detector, eksEvent } from '../support/audit.js'
import { certAdmin, iamUser, node } from '../support/eks-users.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import type { AuditEvent } from '../../src/model/audit-event.js'
import { toAsff } from '../../src/asff/build.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'

/**
 * TokenRequest (`create serviceaccounts/token`, 201): whoever gets the token acts as the service
 * account until it expires. Kubelets ask for their pods' tokens and the controller manager for its
 * controllers' all day; a person asking for one of a system namespace's accounts, or of an account
 * bound to cluster-admin, is stealing an application's access (T1528). Events written here in the
 * shapes EKS logs them: access-entry IAM usernames, the certificate admin, nodes, eks:* users,
 * service accounts with pod claims.
 */

const sa = (ns: string, name: string): AuditEvent['user'] => ({
  username: `system:serviceaccount:${ns}:${name}`,
  uid: 'u',
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
  extra: { 'authentication.kubernetes.io/pod-name': [`${name}-7d9f-x`], 'authentication.kubernetes.io/pod-uid': ['p'] },
})
const sev = (p: string) => DEFAULT_SEVERITY_MAPPING[p as keyof typeof DEFAULT_SEVERITY_MAPPING]

/** `kubectl create token NAME -n NS` as the API server records it (RequestResponse level when `spec` is given). */
const tokenFor = (user: AuditEvent['user'], ns: string, name: string, over: Partial<AuditEvent> = {}, spec?: Record<string, unknown>) =>
  eksEvent({
    user,
    verb: 'create',
    requestURI: `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
    objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: ns, name, apiVersion: 'v1' },
    ...(spec
      ? {
          level: 'RequestResponse',
          requestObject: { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec },
          responseObject: { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name, namespace: ns }, spec, status: { token: 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl', expirationTimestamp: '2026-11-21T11:00:00Z' } },
        }
      : {}),
    responseStatus: { code: 201 },
    ...over,
  })
const minted = (fs: ReturnType<ReturnType<typeof detector>['detect']>) => fs.filter((f) => f.fields['detection.id'] === 'service-account-token-minted').map((f) => sev(f.priority))

t.test("a person minting a token for a system namespace's service account is a credential-access finding (MEDIUM)", async (t) => {
  const d = detector()
  const [f] = d.detect(tokenFor(iamUser('eve'), 'kube-system', 'aws-node'))
  t.equal(f?.fields['detection.id'], 'service-account-token-minted')
  t.equal(f && sev(f.priority), 'MEDIUM')
  t.ok(f?.tags.includes('T1528') && f.tags.includes('mitre_credential_access'), 'Steal Application Access Token, credential access')
  t.match(f?.output ?? '', /assumed-role\/Admin\/eve.* minted a token for service account kube-system\/aws-node/)
  t.match(String(f?.fields['guardduty.equivalent']), /^CredentialAccess:Kubernetes\//)
  t.same(minted(d.detect(tokenFor(certAdmin, 'kube-system', 'coredns'))), ['MEDIUM'], 'the certificate admin (system:masters, no AWS identity) is a person')
  t.same(minted(d.detect(tokenFor(iamUser('eve'), 'amazon-guardduty', 'aws-guardduty-agent'))), ['MEDIUM'], 'any configured system namespace')
  t.same(minted(d.detect(tokenFor(iamUser('eve'), 'kube-node-lease', 'default'))), ['MEDIUM'])
  t.same(minted(detector({ systemNamespaces: ['kube-system', 'platform'] }).detect(tokenFor(iamUser('eve'), 'platform', 'ops'))), ['MEDIUM'], 'audit.systemNamespaces decides')
})

t.test('HIGH when the service account is privileged: bound to cluster-admin, or a controller with cluster-wide power', async (t) => {
  const d = detector()
  t.same(d.ids(tokenFor(iamUser('eve'), 'ops', 'automation')), [], 'an application namespace, nothing known about the account')
  // The binding, as the audit log shows it (kubectl create clusterrolebinding … --serviceaccount=ops:automation).
  d.detect(
    eksEvent({
      user: certAdmin,
      verb: 'create',
      objectRef: { resource: 'clusterrolebindings', name: 'automation-admin', apiGroup: 'rbac.authorization.k8s.io' },
      requestObject: { kind: 'ClusterRoleBinding', metadata: { name: 'automation-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'automation', namespace: 'ops' }] },
      responseStatus: { code: 201 },
    }),
  )
  const [f] = d.detect(tokenFor(iamUser('eve'), 'ops', 'automation'))
  t.equal(f?.fields['detection.id'], 'service-account-token-minted')
  t.equal(f && sev(f.priority), 'HIGH')
  t.match(f?.output ?? '', /cluster-admin/)
  t.same(d.ids(tokenFor(iamUser('eve'), 'ops', 'reporter')), [], 'another account of that namespace')
  // Every service account of a namespace, through its group.
  d.detect(
    eksEvent({ user: certAdmin, verb: 'create', objectRef: { resource: 'clusterrolebindings', name: 'ci-all' }, requestObject: { kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:ci' }] }, responseStatus: { code: 201 } }),
  )
  t.same(minted(d.detect(tokenFor(iamUser('eve'), 'ci', 'runner'))), ['HIGH'], 'a group binding')
  // A namespace admin (RoleBinding to admin) is not cluster-admin.
  d.detect(
    eksEvent({
      user: certAdmin,
      verb: 'create',
      objectRef: { resource: 'rolebindings', namespace: 'shop', name: 'deployer-admin' },
      requestObject: { kind: 'RoleBinding', roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'shop' }] },
      responseStatus: { code: 201 },
    }),
  )
  t.same(d.ids(tokenFor(iamUser('alice'), 'shop', 'deployer')), [], "a namespace's own admin account, for CI: not a finding")
  // kube-system's controllers whose roles cover every object (escalate roles, delete anything).
  t.same(minted(detector().detect(tokenFor(iamUser('eve'), 'kube-system', 'clusterrole-aggregation-controller'))), ['HIGH'])
  t.same(minted(detector().detect(tokenFor(iamUser('eve'), 'kube-system', 'generic-garbage-collector'))), ['HIGH'])
})

t.test('what the token is for is told; the token itself never is', async (t) => {
  const [f] = detector().detect(tokenFor(iamUser('eve'), 'kube-system', 'ebs-csi-controller-sa', {}, { audiences: ['sts.amazonaws.com'], expirationSeconds: 86400 }))
  t.match(f?.output ?? '', /audiences sts\.amazonaws\.com/)
  t.match(f?.output ?? '', /IAM role/, 'an STS audience is exchangeable for the IAM role of the account')
  t.match(f?.output ?? '', /24h/)
  t.notMatch(JSON.stringify(f), /eyJhbGciOiJSUzI1NiJ9/, 'the minted token is nowhere in the finding')
  const asff = toAsff(findingFromEvent(f!, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), TEST_CONTEXT)
  assertValidAsff(t, asff, 'service-account-token-minted')
  t.notMatch(JSON.stringify(asff), /eyJhbGciOiJSUzI1NiJ9/, 'nor in the ASFF finding')
})

t.test('kubelets, the controller manager, EKS and workloads ask for tokens all day: silent', async (t) => {
  const d = detector()
  // Make the account privileged first: the callers below must stay silent even then.
  d.detect(
    eksEvent({
      user: certAdmin,
      verb: 'create',
      objectRef: { resource: 'clusterrolebindings', name: 'x' },
      requestObject: { kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'aws-node', namespace: 'kube-system' }] },
      responseStatus: { code: 201 },
    }),
  )
  const audiences = { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'aws-node-x', uid: 'p' } }
  t.same(d.ids(tokenFor(node('ip-10-0-1-1.ec2.internal'), 'kube-system', 'aws-node', {}, audiences)), [], "a kubelet, for its pod's projected token")
  t.same(d.ids(tokenFor(node('ip-10-0-1-1.ec2.internal'), 'kube-system', 'aws-node', {}, { ...audiences, audiences: ['sts.amazonaws.com'] })), [], "a kubelet, for its pod's IRSA token")
  t.same(d.ids(tokenFor({ username: 'system:kube-controller-manager', groups: ['system:authenticated'] }, 'kube-system', 'generic-garbage-collector')), [], "the controller manager, for its controllers' credentials")
  t.same(d.ids(tokenFor({ username: 'eks:pod-identity-mutating-webhook', groups: ['system:authenticated'] }, 'kube-system', 'aws-node')), [], 'an eks:* identity')
  t.same(d.ids(tokenFor(sa('argocd', 'argocd-server'), 'kube-system', 'aws-node')), [], 'a workload identity (Argo CD, Vault, external-secrets) is not a person')
  t.same(d.ids(tokenFor(sa('kube-system', 'eks-pod-identity-agent'), 'kube-system', 'aws-node')), [])
  t.same(d.ids(tokenFor(iamUser('alice'), 'shop', 'web')), [], "a person, for an application's account")
  t.same(d.ids(tokenFor(iamUser('eve'), 'kube-system', 'aws-node', { responseStatus: { code: 403, reason: 'Forbidden' }, annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' } })), [], 'refused: no token was minted')
  t.same(d.ids(tokenFor(iamUser('eve'), 'kube-system', 'aws-node', { requestURI: '/api/v1/namespaces/kube-system/serviceaccounts/aws-node/token?dryRun=All' })), [], 'a dry run')
  t.same(d.ids(eksEvent({ user: iamUser('eve'), verb: 'get', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'aws-node' } })), [], 'reading the account is not minting')
})
