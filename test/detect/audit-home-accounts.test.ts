import t from 'tap'
import { createOfflinePipeline } from '../../src/cli/offline-pipeline.js'
import { validateConfig } from '../../src/config/load.js'
import { eksEvent } from '../support/audit.js'
import type { AuditEvent } from '../../src/model/audit-event.js'

/**
 * A ServiceAccount given another AWS account's IAM role (eks.amazonaws.com/role-arn) is a
 * cross-account pivot. Which accounts are the cluster's own: the caller's (an IAM identity), the
 * accounts the nodes' IAM roles show, audit.trustedAccounts — and what the operator configured:
 * aws.accountId and the account of cluster.arn. With those, a request from a user without an AWS
 * identity (the certificate admin, an OIDC user) is judged from the first event, before any node
 * has spoken. Run through the server's own pipeline (the composition root's part, in memory), so
 * the configuration reaches the detector the way it does in production.
 */

const CLUSTER_ACCOUNT = '111122223333'
const certAdmin: AuditEvent['user'] = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }
const oidcUser: AuditEvent['user'] = { username: 'oidc:dana@example.com', groups: ['oidc:platform', 'system:authenticated'] }
const iamUser = (account: string): AuditEvent['user'] => ({ username: `arn:aws:sts::${account}:assumed-role/Deployer/ci`, groups: ['system:authenticated'], extra: { arn: [`arn:aws:sts::${account}:assumed-role/Deployer/ci`], canonicalArn: [`arn:aws:iam::${account}:role/Deployer`], sessionName: ['ci'] } })

/** `kubectl apply --server-side` of a ServiceAccount with an IRSA role: PATCH answered 201. */
const applyServiceAccount = (user: AuditEvent['user'], ns: string, name: string, roleArn: string) =>
  eksEvent({
    user,
    verb: 'patch',
    requestURI: `/api/v1/namespaces/${ns}/serviceaccounts/${name}?fieldManager=kubectl`,
    objectRef: { resource: 'serviceaccounts', namespace: ns, name, apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, annotations: { 'eks.amazonaws.com/role-arn': roleArn } } },
  })

async function foreignRoleFindings(config: Record<string, unknown>, events: AuditEvent[]) {
  const pipeline = createOfflinePipeline(validateConfig(config))
  await pipeline.audit(events)
  return pipeline.findings().filter((f) => f.event.fields['detection.id'] === 'service-account-foreign-role')
}

t.test('aws.accountId is the home account: a user without an AWS identity is judged from the first event', async (t) => {
  const config = { aws: { accountId: CLUSTER_ACCOUNT } }
  const [f, ...more] = await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', 'arn:aws:iam::444455556666:role/x')])
  t.equal(more.length, 0)
  t.equal(f?.severity, 'HIGH', 'another account in kube-system')
  t.match(f?.event.output ?? '', /account 444455556666.*not the cluster's 111122223333/)
  t.same(await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', `arn:aws:iam::${CLUSTER_ACCOUNT}:role/x`)]), [], 'its own account')
  t.same(
    (await foreignRoleFindings(config, [applyServiceAccount(oidcUser, 'shop', 'web', 'arn:aws:iam::444455556666:role/exfil')])).map((x) => x.severity),
    ['MEDIUM'],
    'an OIDC user, an application namespace: MEDIUM',
  )
})

t.test("the cluster ARN's account is the home account too", async (t) => {
  const config = { cluster: { name: 'prod', arn: `arn:aws:eks:eu-west-1:${CLUSTER_ACCOUNT}:cluster/prod` } }
  t.same(
    (await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', 'arn:aws:iam::444455556666:role/x')])).map((x) => x.severity),
    ['HIGH'],
  )
  t.same(await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', `arn:aws:iam::${CLUSTER_ACCOUNT}:role/x`)]), [])
  const govCloud = { cluster: { name: 'prod', arn: 'arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/prod' } }
  t.same(await foreignRoleFindings(govCloud, [applyServiceAccount(certAdmin, 'kube-system', 'collector', 'arn:aws-us-gov:iam::123456789012:role/x')]), [], 'another partition')
})

t.test('findings imported into a security account: both it and the cluster account are home; the rest still pivots', async (t) => {
  const config = { aws: { accountId: '999900001111' }, cluster: { name: 'prod', arn: `arn:aws:eks:eu-west-1:${CLUSTER_ACCOUNT}:cluster/prod` }, audit: { trustedAccounts: ['222233334444'] } }
  for (const account of ['999900001111', CLUSTER_ACCOUNT, '222233334444']) t.same(await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', `arn:aws:iam::${account}:role/x`)]), [], account)
  t.same((await foreignRoleFindings(config, [applyServiceAccount(certAdmin, 'kube-system', 'collector', 'arn:aws:iam::444455556666:role/x')])).length, 1)
})

t.test("an IAM caller's own account still counts; with nothing configured and no node seen, a certificate user's role is not judged", async (t) => {
  const config = { aws: { accountId: CLUSTER_ACCOUNT } }
  t.same(await foreignRoleFindings(config, [applyServiceAccount(iamUser('555566667777'), 'shop', 'web', 'arn:aws:iam::555566667777:role/web')]), [], "the caller's own account (a cross-account access entry)")
  const [f] = await foreignRoleFindings(config, [applyServiceAccount(iamUser(CLUSTER_ACCOUNT), 'shop', 'web', 'arn:aws:iam::444455556666:role/web')])
  t.match(f?.event.output ?? '', /not the caller's 111122223333/)
  t.same(await foreignRoleFindings({}, [applyServiceAccount(certAdmin, 'kube-system', 'collector', 'arn:aws:iam::444455556666:role/x')]), [], 'no reference account at all: no guess')
})
