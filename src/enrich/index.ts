import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { Static } from 'typebox'
import type { SecurityEvent } from '../model/event.js'
import type { enrichmentSchema } from './config.js'
import { KubeMetadata } from './kube/client.js'
import { PodIdentityCache } from './pod-identity.js'
import { enrichEvent } from './enricher.js'

export interface Enrichment {
  enrich(event: SecurityEvent): SecurityEvent
  ready(): { ready: boolean; synced: boolean }
  /** Whether the synced cache has this node; undefined until synced (the monitor forgets nodes that left). */
  knowsNode(name: string): boolean | undefined
  stop(): void
}

/** The enrichment stage from its config: the Kubernetes cache, Pod Identity, and the lookup counter. */
export function createEnrichment(config: Static<typeof enrichmentSchema>, deps: { logger: Logger; registry: Registry; clusterName?: string; region?: string }): Enrichment {
  const podIdentity = config.podIdentity.enabled && deps.clusterName && deps.region ? new PodIdentityCache({ clusterName: deps.clusterName, region: deps.region, ttlMs: config.podIdentity.cacheSecs * 1000, logger: deps.logger }) : undefined
  if (config.podIdentity.enabled && !podIdentity) deps.logger.warn('enrichment.podIdentity needs cluster.name and a region: Pod Identity roles will not be resolved')
  const kube = new KubeMetadata(
    {
      mode: config.mode,
      ...(config.nodeName ? { nodeName: config.nodeName } : {}),
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
      deletedPodGraceMs: config.deletedPodGraceSecs * 1000,
      syncTimeoutMs: config.syncTimeoutSecs * 1000,
      podAnnotations: config.podAnnotations,
      ...(podIdentity
        ? {
            onPod: (pod) => {
              if (pod.containers.some((c) => c.podIdentity)) void podIdentity.prefetch(pod.namespace, pod.serviceAccount ?? 'default')
            },
          }
        : {}),
    },
    deps,
  )
  const lookups = new Counter({ name: 'falconet_enrich_lookups_total', help: 'Events by what enrichment found: pod, node-only or miss.', labelNames: ['result'], registers: [deps.registry] })
  return {
    enrich: (event) => enrichEvent(event, { lookup: kube.cache, ...(podIdentity ? { podIdentity } : {}), counted: (result) => lookups.inc({ result }) }),
    ready: () => ({ ready: kube.ready, synced: kube.synced }),
    knowsNode: (name) => (kube.synced ? kube.cache.node(name) !== undefined : undefined),
    stop: () => {
      kube.stop()
      podIdentity?.close()
    },
  }
}
