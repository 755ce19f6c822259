import type { NamespaceMeta, NodeMeta, PodMeta, ServiceAccountMeta } from './objects.js'

/**
 * The metadata cache behind a narrow interface (the k8sattributes processor's kube.Client is the
 * model): pods by uid, namespace/name, IP and container id (full or Falco's 12-character prefix);
 * nodes, namespaces and service accounts by name. Deleted pods stay findable for a grace period,
 * because the alert about a short-lived pod often arrives after the pod is gone.
 */
export interface MetadataLookup {
  podByContainerId(id: string): PodMeta | undefined
  pod(namespace: string, name: string): PodMeta | undefined
  podByIp(ip: string): PodMeta | undefined
  podByUid(uid: string): PodMeta | undefined
  node(name: string): NodeMeta | undefined
  namespace(name: string): NamespaceMeta | undefined
  serviceAccount(namespace: string, name: string): ServiceAccountMeta | undefined
}

export class MetadataCache implements MetadataLookup {
  readonly #pods = new Map<string, PodMeta>() // by uid
  readonly #podsByName = new Map<string, PodMeta>()
  readonly #podsByIp = new Map<string, PodMeta>()
  readonly #podsByContainer = new Map<string, PodMeta>() // full id and 12-char prefix
  readonly #nodes = new Map<string, NodeMeta>()
  /** By the first label of the name: Falco's hostname can be the short form (ip-10-0-1-2). */
  readonly #nodesByShortName = new Map<string, NodeMeta>()
  readonly #namespaces = new Map<string, NamespaceMeta>()
  readonly #serviceAccounts = new Map<string, ServiceAccountMeta>()
  readonly #graceMs: number
  readonly #now: () => number

  constructor(options: { deletedPodGraceMs: number; now?: () => number }) {
    this.#graceMs = options.deletedPodGraceMs
    this.#now = options.now ?? Date.now
  }

  get sizes(): Record<string, number> {
    return { pods: this.#pods.size, nodes: this.#nodes.size, namespaces: this.#namespaces.size, serviceaccounts: this.#serviceAccounts.size }
  }

  // ---- writes, from the reflectors ----

  upsertPod(pod: PodMeta): void {
    const previous = this.#pods.get(pod.uid)
    if (previous) this.#unindex(previous)
    this.#pods.set(pod.uid, pod)
    this.#index(pod)
  }

  /** Kept (findable) until the grace period is over; swept by `sweep()`. */
  deletePod(uid: string): void {
    const pod = this.#pods.get(uid)
    if (pod && pod.deletedAt === undefined) pod.deletedAt = this.#now()
  }

  upsertNode(node: NodeMeta): void {
    this.#nodes.set(node.name, node)
    this.#nodesByShortName.set(node.name.split('.')[0]!, node)
  }
  deleteNode(name: string): void {
    this.#nodes.delete(name)
    const short = name.split('.')[0]!
    if (this.#nodesByShortName.get(short)?.name === name) this.#nodesByShortName.delete(short)
  }
  upsertNamespace(ns: NamespaceMeta): void {
    this.#namespaces.set(ns.name, ns)
  }
  deleteNamespace(name: string): void {
    this.#namespaces.delete(name)
  }
  upsertServiceAccount(sa: ServiceAccountMeta): void {
    this.#serviceAccounts.set(`${sa.namespace}/${sa.name}`, sa)
  }
  deleteServiceAccount(key: string): void {
    this.#serviceAccounts.delete(key)
  }

  /** Drop pods whose grace period is over. */
  sweep(): number {
    const cutoff = this.#now() - this.#graceMs
    let removed = 0
    for (const pod of this.#pods.values()) {
      if (pod.deletedAt !== undefined && pod.deletedAt <= cutoff) {
        this.#pods.delete(pod.uid)
        this.#unindex(pod)
        removed++
      }
    }
    return removed
  }

  // ---- reads ----

  podByContainerId(id: string): PodMeta | undefined {
    const bare = id.replace(/^[a-z0-9-]+:\/\//, '')
    return this.#podsByContainer.get(bare) ?? this.#podsByContainer.get(bare.slice(0, 12))
  }
  pod(namespace: string, name: string): PodMeta | undefined {
    return this.#podsByName.get(`${namespace}/${name}`)
  }
  podByIp(ip: string): PodMeta | undefined {
    return this.#podsByIp.get(ip)
  }
  podByUid(uid: string): PodMeta | undefined {
    return this.#pods.get(uid)
  }
  node(name: string): NodeMeta | undefined {
    return this.#nodes.get(name) ?? (name.includes('.') ? undefined : this.#nodesByShortName.get(name))
  }
  namespace(name: string): NamespaceMeta | undefined {
    return this.#namespaces.get(name)
  }
  serviceAccount(namespace: string, name: string): ServiceAccountMeta | undefined {
    return this.#serviceAccounts.get(`${namespace}/${name}`)
  }

  /**
   * The newest live pod owns a name or IP slot (a pod re-created under the same name, or a new pod
   * on a reused IP, arrives while the old one may not be marked deleted yet — on a re-list, say).
   * A deleted pod keeps a slot only while nobody else wants it.
   */
  #index(pod: PodMeta): void {
    const claim = (map: Map<string, PodMeta>, key: string) => {
      const holder = map.get(key)
      if (!holder || holder.uid === pod.uid || pod.deletedAt === undefined) map.set(key, pod)
    }
    claim(this.#podsByName, `${pod.namespace}/${pod.name}`)
    // hostNetwork pods share the node's IP, and finished pods may have handed theirs on: no IP claim.
    if (pod.ip && !pod.hostNetwork && !pod.terminated) claim(this.#podsByIp, pod.ip)
    for (const c of pod.containers) {
      if (!c.id) continue
      this.#podsByContainer.set(c.id, pod)
      this.#podsByContainer.set(c.id.slice(0, 12), pod)
    }
  }

  #unindex(pod: PodMeta): void {
    const release = (map: Map<string, PodMeta>, key: string) => {
      if (map.get(key)?.uid === pod.uid) map.delete(key)
    }
    release(this.#podsByName, `${pod.namespace}/${pod.name}`)
    if (pod.ip) release(this.#podsByIp, pod.ip)
    for (const c of pod.containers) {
      if (!c.id) continue
      release(this.#podsByContainer, c.id)
      release(this.#podsByContainer, c.id.slice(0, 12))
    }
  }
}
