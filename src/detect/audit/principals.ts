import type { Principal } from '../../model/audit-event.js'
import { linearRegex } from '../../model/linear-regex.js'

/**
 * EKS's own principals and the cluster's controllers: benign by default, so a change they make is
 * not a finding (a human or an app doing the same is). Configurable (audit.benignPrincipals).
 */
export const DEFAULT_BENIGN_PRINCIPALS = ['^eks:', '^system:node:', '^system:kube-(controller-manager|scheduler|proxy)$', '^system:apiserver$', '^system:serviceaccount:kube-system:', '^system:volume-scheduler$', '^system:kube-aggregator$', '^kube-apiserver-kubelet-client$']

/**
 * GitOps controllers that apply what a repository holds (Argo CD's application controller, Flux's
 * kustomize and helm controllers, in their usual namespaces): RBAC objects, services and add-on
 * service accounts are theirs to apply on every sync (audit.deployers).
 */
export const DEFAULT_DEPLOYERS = ['^system:serviceaccount:(argocd|argo-cd|openshift-gitops):argocd-application-controller$', '^system:serviceaccount:flux-system:(kustomize-controller|helm-controller)$']

export type PrincipalMatcher = (p: Principal) => boolean

export function benignMatcher(patterns: readonly string[]): PrincipalMatcher {
  const res = patterns.map((p) => linearRegex(p))
  return (p) => res.some((re) => re.test(p.username)) || p.groups.includes('system:nodes')
}

export function deployerMatcher(patterns: readonly string[]): PrincipalMatcher {
  const res = patterns.map((p) => linearRegex(p))
  return (p) => res.some((re) => re.test(p.username))
}
