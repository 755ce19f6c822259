import type { Iam } from '../model/event.js'
import type { ContainerMeta, PodMeta, ServiceAccountMeta } from './kube/objects.js'

/** Pod Identity associations, by namespace and service account (src/enrich/pod-identity.ts). */
export interface PodIdentityRoles {
  roleFor(namespace: string, serviceAccount: string): string | undefined
}

/**
 * The IAM role a pod's AWS SDK uses, in the order the SDK's credential chain finds it: the env the
 * IRSA webhook injected (AWS_ROLE_ARN), the Pod Identity agent (AWS_CONTAINER_CREDENTIALS_FULL_URI,
 * the role from the EKS API), else the node's instance role. The service account annotation is
 * what IRSA *would* inject; it is reported, not trusted, when it disagrees with the pod.
 */
export function resolveIam(pod: PodMeta, container: ContainerMeta | undefined, sa: ServiceAccountMeta | undefined, podIdentity?: PodIdentityRoles): Iam {
  // The container that raised the alert answers for itself (IRSA can skip containers); only an
  // unknown container falls back to the pod's.
  const candidates = container ? [container] : pod.containers
  const env = candidates.find((c) => c.roleArn)?.roleArn
  const usesPodIdentity = candidates.some((c) => c.podIdentity)
  const annotated = sa?.roleArn
  if (env) {
    const iam: Iam = { roleArn: env, via: 'irsa' }
    if (annotated && annotated !== env) {
      iam.note = `service account ${pod.serviceAccount} is annotated with ${annotated}, but the pod runs with ${env} (it started before the annotation changed)`
    }
    return iam
  }
  if (usesPodIdentity) {
    const role = podIdentity?.roleFor(pod.namespace, pod.serviceAccount ?? 'default')
    const iam: Iam = { via: 'pod-identity' }
    if (role) iam.roleArn = role
    else iam.note = 'EKS Pod Identity: the role was not resolved (enable enrichment.podIdentity and allow eks:ListPodIdentityAssociations)'
    return iam
  }
  const note = annotated ? `falls back to the node role: service account ${pod.serviceAccount} is annotated with ${annotated}, but the pod has no AWS_ROLE_ARN (restart it, or check the IRSA webhook)` : 'falls back to the node role: no IRSA or Pod Identity credentials in the pod'
  return { via: 'node-role', note }
}
