import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A local Kubernetes API server for the core resources falconet watches, speaking the real
 * protocol to the real client code (falconet's own, and @kubernetes/client-node's exec plugins): paginated lists (limit / continue) with a
 * resourceVersion; `?watch=true` streams of JSON lines from a resourceVersion, with history replay,
 * BOOKMARK events when asked, and `410 Gone` (an ERROR event with a Status) for a version older
 * than the last compaction; `fieldSelector` on spec.nodeName and metadata.name. Tests drive it:
 * apply / remove objects, send bookmarks, drop every watch connection, compact history, answer the
 * next watches with an HTTP error. Optionally over TLS (and asking for a client certificate), and
 * answering 401 to any bearer token but the accepted ones, as the API server does.
 */
type Resource = 'pods' | 'nodes' | 'namespaces' | 'serviceaccounts'
const KIND: Record<Resource, string> = { pods: 'Pod', nodes: 'Node', namespaces: 'Namespace', serviceaccounts: 'ServiceAccount' }

interface Watcher {
  resource: Resource
  selector?: [string, string]
  bookmarks: boolean
  res: ServerResponse
}

export interface Request {
  resource: Resource
  watch: boolean
  query: Record<string, string>
  authorization?: string
  /** The CN of the client certificate presented, over TLS. */
  clientCertCn?: string
}

export interface FakeKubeOptions {
  /** Serve HTTPS with this certificate; `ca` set: ask for a client certificate signed by it (not required: a token may be used instead). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer }
  /** Only these bearer tokens are let in (401 otherwise); unset: no check. */
  tokens?: string[]
}

export class FakeKube {
  readonly requests: Request[] = []
  #rv = 100
  #compactedAt = 0
  readonly #objects = new Map<Resource, Map<string, any>>(['pods', 'nodes', 'namespaces', 'serviceaccounts'].map((r) => [r as Resource, new Map()]))
  readonly #history: Array<{ rv: number; resource: Resource; type: string; object: any }> = []
  readonly #watchers = new Set<Watcher>()
  readonly #server
  readonly #scheme: 'http' | 'https'
  #failWatches: number[] = []
  tokens: Set<string> | undefined
  port = 0

  constructor(options: FakeKubeOptions = {}) {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res)
    this.#server = options.tls ? createTlsServer({ ...options.tls, requestCert: !!options.tls.ca, rejectUnauthorized: false }, handler) : createServer(handler)
    this.#scheme = options.tls ? 'https' : 'http'
    if (options.tokens) this.tokens = new Set(options.tokens)
  }

  get url(): string {
    return `${this.#scheme}://127.0.0.1:${this.port}`
  }

  /** Answer the next watch requests with these HTTP statuses (a Status body), one each. */
  failNextWatches(...statuses: number[]): void {
    this.#failWatches.push(...statuses)
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r))
    this.port = (this.#server.address() as { port: number }).port
    return this
  }

  async stop(): Promise<void> {
    for (const w of this.#watchers) w.res.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((r) => this.#server.close(() => r()))
  }

  /** A kubeconfig pointing at this server, as `kubectl` would read it. */
  kubeconfig(): string {
    const file = join(mkdtempSync(join(tmpdir(), 'falconet-kube-')), 'config')
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:${this.port}\n    insecure-skip-tls-verify: true\nusers:\n- name: falconet\n  user:\n    token: test-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: falconet\ncurrent-context: fake\n`,
    )
    return file
  }

  apply(resource: Resource, object: any): void {
    const key = keyOf(object)
    const type = this.#objects.get(resource)!.has(key) ? 'MODIFIED' : 'ADDED'
    const stored = { ...object, apiVersion: 'v1', kind: KIND[resource], metadata: { ...object.metadata, resourceVersion: String(++this.#rv) } }
    this.#objects.get(resource)!.set(key, stored)
    this.#emit(resource, type, stored)
  }

  remove(resource: Resource, namespace: string | undefined, name: string): void {
    const key = namespace ? `${namespace}/${name}` : name
    const object = this.#objects.get(resource)!.get(key)
    if (!object) return
    this.#objects.get(resource)!.delete(key)
    this.#emit(resource, 'DELETED', { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.#rv) } })
  }

  /** A BOOKMARK to every watcher that asked for them: the current version, no object change. */
  bookmark(): void {
    for (const w of this.#watchers) {
      if (w.bookmarks) write(w.res, { type: 'BOOKMARK', object: { kind: KIND[w.resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) } } })
    }
  }

  /** Cut every watch connection, as a network blip or an API server restart does. */
  dropWatches(): void {
    for (const w of this.#watchers) w.res.destroy()
    this.#watchers.clear()
  }

  /** Forget history: a watch resuming from an older version gets 410 Gone. */
  compact(): void {
    this.#compactedAt = this.#rv
    this.#history.length = 0
  }

  get watchers(): number {
    return this.#watchers.size
  }

  #emit(resource: Resource, type: string, object: any): void {
    this.#history.push({ rv: this.#rv, resource, type, object })
    for (const w of this.#watchers) if (w.resource === resource && matches(object, w.selector)) write(w.res, { type, object })
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x')
    const m = /^\/api\/v1\/(pods|nodes|namespaces|serviceaccounts)$/.exec(u.pathname)
    if (!m) return status(res, 404, 'NotFound', 'not found')
    const resource = m[1] as Resource
    const query = Object.fromEntries(u.searchParams)
    const watch = query.watch === 'true'
    const cn = String((req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN ?? "") || undefined
    this.requests.push({ resource, watch, query, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(cn ? { clientCertCn: cn } : {}) })
    if (this.tokens && !this.tokens.has(/^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')) return status(res, 401, 'Unauthorized', 'Unauthorized')
    const selector = parseSelector(query.fieldSelector)
    if (!watch) return this.#list(resource, selector, query, res)
    const failure = this.#failWatches.shift()
    if (failure) return status(res, failure, failure === 410 ? 'Expired' : 'InternalError', `failing this watch with ${failure}`)

    const from = Number(query.resourceVersion || 0)
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    if (from && from < this.#compactedAt) {
      write(res, { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.#compactedAt})`, reason: 'Expired', code: 410 } })
      res.end()
      return
    }
    for (const h of this.#history) if (h.resource === resource && h.rv > from && matches(h.object, selector)) write(res, { type: h.type, object: h.object })
    const watcher: Watcher = { resource, bookmarks: query.allowWatchBookmarks === 'true', res, ...(selector ? { selector } : {}) }
    this.#watchers.add(watcher)
    res.on('close', () => this.#watchers.delete(watcher))
  }

  #list(resource: Resource, selector: [string, string] | undefined, query: Record<string, string>, res: ServerResponse): void {
    const all = [...this.#objects.get(resource)!.values()].filter((o) => matches(o, selector))
    const offset = Number(query.continue || 0)
    const limit = Number(query.limit || all.length || 1)
    const items = all.slice(offset, offset + limit)
    const next = offset + limit < all.length ? String(offset + limit) : undefined
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ kind: `${KIND[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv), ...(next ? { continue: next } : {}) }, items }),
    )
  }
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }))
}

function keyOf(o: any): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name
}

function parseSelector(s: string | undefined): [string, string] | undefined {
  if (!s) return undefined
  const [field, value] = s.split('=')
  return [field!, value!]
}

function matches(o: any, selector: [string, string] | undefined): boolean {
  if (!selector) return true
  const [field, value] = selector
  if (field === 'spec.nodeName') return o.spec?.nodeName === value
  if (field === 'metadata.name') return o.metadata?.name === value
  throw new Error(`fake kube: unsupported field selector ${field}`)
}

function write(res: ServerResponse, event: unknown): void {
  if (!res.destroyed) res.write(JSON.stringify(event) + '\n')
}

// ---- realistic objects ----

let uidCounter = 0
const uid = () => `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`

export function podObject(o: {
  namespace: string
  name: string
  node: string
  ip?: string
  containerId?: string
  containers?: Array<{ name: string; image: string; id?: string; env?: Array<{ name: string; value?: string }> }>
  owner?: { kind: string; name: string }
  labels?: Record<string, string>
  serviceAccount?: string
  hostNetwork?: boolean
}) {
  const containers = o.containers ?? [{ name: 'app', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api:2.14.3', id: o.containerId }]
  return {
    metadata: {
      name: o.name,
      namespace: o.namespace,
      uid: uid(),
      labels: o.labels ?? { app: o.name.split('-')[0] ?? o.name },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T09:00:00Z' },
      ...(o.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: o.owner.kind, name: o.owner.name, uid: uid(), controller: true }] } : {}),
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {}, 'f:spec': { 'f:containers': {} } } }],
    },
    spec: {
      nodeName: o.node,
      serviceAccountName: o.serviceAccount ?? 'default',
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: containers.map((c) => ({ name: c.name, image: c.image, env: c.env ?? [], resources: { requests: { cpu: '100m' } }, volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] })),
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
    },
    status: {
      phase: 'Running',
      podIP: o.ip ?? '10.0.1.17',
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `${c.image.split(':')[0]}@sha256:${'ab'.repeat(32)}`,
        ...(c.id ? { containerID: `containerd://${c.id}` } : {}),
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: '2026-11-21T09:00:00Z' } },
      })),
    },
  }
}

export function nodeObject(name: string, o: { instanceId: string; zone: string; nodegroup?: string; nodepool?: string; capacityType?: string; fargate?: boolean; instanceType?: string }) {
  return {
    metadata: {
      name,
      uid: uid(),
      labels: {
        'kubernetes.io/hostname': name,
        'topology.kubernetes.io/zone': o.zone,
        'topology.kubernetes.io/region': o.zone.slice(0, -1),
        'node.kubernetes.io/instance-type': o.instanceType ?? 'm6i.large',
        ...(o.nodegroup ? { 'eks.amazonaws.com/nodegroup': o.nodegroup, 'eks.amazonaws.com/capacityType': o.capacityType ?? 'ON_DEMAND' } : {}),
        ...(o.nodepool ? { 'karpenter.sh/nodepool': o.nodepool, 'karpenter.sh/capacity-type': o.capacityType ?? 'spot' } : {}),
        ...(o.fargate ? { 'eks.amazonaws.com/compute-type': 'fargate' } : {}),
      },
    },
    spec: { providerID: `aws:///${o.zone}/${o.instanceId}` },
    status: { nodeInfo: { kubeletVersion: 'v1.33.4-eks-1234567' } },
  }
}

export function namespaceObject(name: string, labels: Record<string, string> = {}) {
  return { metadata: { name, uid: uid(), labels: { 'kubernetes.io/metadata.name': name, ...labels } } }
}

export function serviceAccountObject(namespace: string, name: string, roleArn?: string) {
  return { metadata: { namespace, name, uid: uid(), ...(roleArn ? { annotations: { 'eks.amazonaws.com/role-arn': roleArn } } : {}) } }
}
