import type { Workload } from '../model/event.js'

/**
 * The workload a pod belongs to, read from the names Kubernetes generates, so that one behaviour
 * across the replicas of a Deployment is one finding with a pod count, not one finding per pod.
 * Enrichment (the pod's real ownerReferences) replaces this guess in what a finding shows and routes
 * on; the finding Id always uses the guess, so it does not change when enrichment starts.
 *
 * Generated parts use the alphabet of k8s.io/apimachinery's rand.SafeEncodeString (no vowels, no
 * 0/1/3/8, so no words): a ReplicaSet's pod-template-hash must be made of it, which keeps an
 * ordinary name segment ("server", "api") from being mistaken for one. The 5-character suffix is
 * matched loosely: it is always the last segment.
 */
const HASH = '[bcdfghjklmnpqrstvwxz2456789]{4,10}'
const DEPLOYMENT = new RegExp(`^(.+)-${HASH}-[a-z0-9]{5}$`)
const CRONJOB = /^(.+)-\d{8,}-[a-z0-9]{5}$/ // <cronjob>-<scheduled minute>-<suffix>
const GENERATED = /^(.+)-[a-z0-9]{5}$/ // DaemonSet, Job, bare ReplicaSet
const STATEFUL = /^(.+)-\d+$/ // StatefulSet ordinal

export function workloadOfPod(pod: string): string {
  for (const pattern of [DEPLOYMENT, CRONJOB, GENERATED, STATEFUL]) {
    const m = pattern.exec(pod)
    if (m?.[1]) return m[1]
  }
  return pod
}

/** The workload's name: the real controller when enrichment knows it, the pod's naming scheme otherwise. */
export function workloadName(w: Workload): string | undefined {
  return w.owner?.name ?? (w.pod ? workloadOfPod(w.pod) : undefined)
}
