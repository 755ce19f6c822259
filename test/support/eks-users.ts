import type { AuditEvent } from '../../src/model/audit-event.js'

/** Audit-log users as EKS writes them, for detection tests: one account, access-entry IAM roles, the certificate admin, nodes. */
export const ACC = '111122223333'

/** A person through an EKS access entry: an assumed IAM role, as aws-iam-authenticator names it. */
export const iamUser = (session: string, role = 'Admin'): AuditEvent['user'] => ({
  username: `arn:aws:sts::${ACC}:assumed-role/${role}/${session}`,
  uid: `aws-iam-authenticator:${ACC}:AROAEXAMPLE`,
  groups: ['system:authenticated'],
  extra: { accessKeyId: ['ASIAEXAMPLE'], arn: [`arn:aws:sts::${ACC}:assumed-role/${role}/${session}`], canonicalArn: [`arn:aws:iam::${ACC}:role/${role}`], principalId: ['AROAEXAMPLE'], sessionName: [session] },
})

/** The cluster creator's certificate user: system:masters without an AWS identity. */
export const certAdmin: AuditEvent['user'] = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }

/** A kubelet, with the node role EKS maps it from. */
export const node = (n: string): AuditEvent['user'] => ({ username: `system:node:${n}`, groups: ['system:nodes', 'system:authenticated'], extra: { arn: [`arn:aws:sts::${ACC}:assumed-role/eks-node/i-0abc`], canonicalArn: [`arn:aws:iam::${ACC}:role/eks-node`] } })
