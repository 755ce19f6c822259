import { errors } from '../../errors.js'
import { KubeApi } from './api.js'
import { resolveKubeTarget, type KubeTarget } from './credentials.js'
import type { Logger } from 'pino'
import { Gauge, Counter, type Registry } from 'prom-client'
import { MetadataCache } from './cache.js'
import { Reflector, type ResourceSpec } from './reflector.js'
import { trimNamespace, trimNode, trimPod, trimServiceAccount, type NamespaceMeta, type NodeMeta, type PodMeta, type PodObject, type ServiceAccountMeta } from './objects.js'

export interface KubeMetadataOptions {
  mode: 'cluster' | 'node'
  nodeName?: string
  kubeconfig?: string
  /** Where the pod's service-account token and CA are (tests point it elsewhere). */
  serviceAccountDir?: string
  deletedPodGraceMs: number
  syncTimeoutMs: number
  podAnnotations: readonly string[]
  /** Called for each pod as it arrives (Pod Identity prefetch). */
  onPod?: (pod: PodMeta) => void
}

/**
 * Keeps the metadata cache in step with the API server: one reflector each for pods (all, or only
 * this node's by field selector), nodes (all, or only this one), namespaces and service accounts.
 */
export class KubeMetadata {
  readonly cache: MetadataCache
  readonly #reflectors: Array<Reflector<unknown>>
  readonly #logger: Logger
  readonly #sweep: NodeJS.Timeout
  readonly #api: KubeApi
  /** How the API server is reached: in-cluster, a kubeconfig read here, or client-node (exec / auth-provider users). */
  readonly credentialSource: KubeTarget['source']
  #ready = false
  #synced = false

  constructor(options: KubeMetadataOptions, deps: { logger: Logger; registry: Registry }) {
    // Configuration mistakes, reported like every other (exit 2, the key named, no stack trace).
    if (options.mode === 'node' && !options.nodeName) throw new errors.FALCONET_ERR_CONFIG('  enrichment.nodeName: required when enrichment.mode is node (set FALCONET_NODE_NAME from spec.nodeName)')
    this.#logger = deps.logger.child({ component: 'kube' })
    this.cache = new MetadataCache({ deletedPodGraceMs: options.deletedPodGraceMs })
    let target: KubeTarget
    try {
      target = resolveKubeTarget({ ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}), ...(options.serviceAccountDir ? { serviceAccountDir: options.serviceAccountDir } : {}) })
    } catch (err) {
      const what = options.kubeconfig ? `enrichment.kubeconfig: cannot load ${options.kubeconfig}` : 'enrichment: cannot find the Kubernetes API server'
      // The file error's code or the parser's name, never its message (a YAML error quotes the line, which may hold a token).
      const e = err as NodeJS.ErrnoException & { explained?: boolean }
      throw new errors.FALCONET_ERR_CONFIG(`  ${what} (${e.explained ? e.message : (e.code ?? e.name)})`)
    }
    this.credentialSource = target.source
    const api = (this.#api = new KubeApi(target))
    const metrics = kubeMetrics(deps.registry, this)
    const events = { relisted: (kind: string) => metrics.relists.inc({ kind }), watchRestarted: (kind: string, reason: string) => metrics.restarts.inc({ kind, reason }) }
    const node = options.mode === 'node' ? options.nodeName : undefined
    const cache = this.cache

    const pods: ResourceSpec<PodMeta> = {
      kind: 'pods',
      path: '/api/v1/pods',
      ...(node ? { fieldSelector: `spec.nodeName=${node}` } : {}),
      list: (p) => api.list('/api/v1/pods', p),
      trim: (raw: PodObject) => trimPod(raw, options.podAnnotations),
      key: (p) => p.uid,
    }
    const nodes: ResourceSpec<NodeMeta> = {
      kind: 'nodes',
      path: '/api/v1/nodes',
      ...(node ? { fieldSelector: `metadata.name=${node}` } : {}),
      list: (p) => api.list('/api/v1/nodes', p),
      trim: trimNode,
      key: (n) => n.name,
    }
    const namespaces: ResourceSpec<NamespaceMeta> = { kind: 'namespaces', path: '/api/v1/namespaces', list: (p) => api.list('/api/v1/namespaces', p), trim: trimNamespace, key: (n) => n.name }
    const serviceAccounts: ResourceSpec<ServiceAccountMeta> = {
      kind: 'serviceaccounts',
      path: '/api/v1/serviceaccounts',
      list: (p) => api.list('/api/v1/serviceaccounts', p),
      trim: trimServiceAccount,
      key: (s) => `${s.namespace}/${s.name}`,
    }
    this.#reflectors = [
      new Reflector(pods, api, { upsert: (p) => (cache.upsertPod(p), options.onPod?.(p)), remove: (uid) => cache.deletePod(uid) }, events, this.#logger),
      new Reflector(nodes, api, { upsert: (n) => cache.upsertNode(n), remove: (name) => cache.deleteNode(name) }, events, this.#logger),
      new Reflector(namespaces, api, { upsert: (n) => cache.upsertNamespace(n), remove: (name) => cache.deleteNamespace(name) }, events, this.#logger),
      new Reflector(serviceAccounts, api, { upsert: (s) => cache.upsertServiceAccount(s), remove: (key) => cache.deleteServiceAccount(key) }, events, this.#logger),
    ] as Array<Reflector<unknown>>
    for (const r of this.#reflectors) r.start()

    const timer = setTimeout(() => {
      if (this.#synced) return
      this.#ready = true
      this.#logger.warn({ timeoutMs: options.syncTimeoutMs }, 'Kubernetes metadata not synced in time: running un-enriched until it is')
    }, options.syncTimeoutMs)
    timer.unref()
    void Promise.all(this.#reflectors.map((r) => r.synced)).then(() => {
      this.#synced = this.#ready = true
      clearTimeout(timer)
      this.#logger.info({ sizes: this.cache.sizes }, 'Kubernetes metadata synced')
    })
    this.#sweep = setInterval(() => this.cache.sweep(), Math.max(1000, Math.min(options.deletedPodGraceMs, 30_000)))
    this.#sweep.unref()
  }

  /** Ready once synced, or once the sync timeout passed (then un-enriched, and `synced` says so). */
  get ready(): boolean {
    return this.#ready
  }

  get synced(): boolean {
    return this.#synced
  }

  stop(): void {
    clearInterval(this.#sweep)
    for (const r of this.#reflectors) r.stop()
    this.#api.close()
  }
}

function kubeMetrics(registry: Registry, kube: KubeMetadata) {
  const registers = [registry]
  new Gauge({
    name: 'falconet_enrich_synced',
    help: '1 once the Kubernetes metadata cache has synced.',
    registers,
    collect() {
      this.set(kube.synced ? 1 : 0)
    },
  })
  new Gauge({
    name: 'falconet_enrich_cache_objects',
    help: 'Objects in the Kubernetes metadata cache, by kind.',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, n] of Object.entries(kube.cache.sizes)) this.set({ kind }, n)
    },
  })
  return {
    relists: new Counter({ name: 'falconet_enrich_relists_total', help: 'Full lists after a watch or a list page expired (410 Gone).', labelNames: ['kind'], registers }),
    restarts: new Counter({
      name: 'falconet_enrich_watch_errors_total',
      help: 'List or watch failures (retried with backoff), by reason: forbidden (RBAC), unauthorized, throttled, server_error, network, http_<status>.',
      labelNames: ['kind', 'reason'],
      registers,
    }),
  }
}
