import type { Principal } from '../../model/audit-event.js'
import { linearRegex } from '../../model/linear-regex.js'

/**
 * EKS's own principals and the cluster's controllers: benign by default, so a change they make is
 * not a finding (a human or an app doing the same is). Configurable (audit.benignPrincipals).
 */
export const DEFAULT_BENIGN_PRINCIPALS = [
  '^eks:',
  '^system:node:',
  '^system:kube-(controller-manager|scheduler|proxy)$',
  '^system:apiserver$',
  '^system:serviceaccount:kube-system:',
  '^system:volume-scheduler$',
  '^system:kube-aggregator$',
  '^kube-apiserver-kubelet-client$',
]

export type PrincipalMatcher = (p: Principal) => boolean

export function benignMatcher(patterns: readonly string[]): PrincipalMatcher {
  const res = patterns.map((p) => linearRegex(p))
  return (p) => res.some((re) => re.test(p.username)) || p.groups.includes('system:nodes')
}
