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
  send(event: unknown): void
}

/** An HTTP error to answer a request with: a Status body, and `Retry-After` when set (as API Priority and Fairness sends with 429). */
export interface Failure {
  status: number
  retryAfter?: number
}

export interface Request {
  resource: Resource
  watch: boolean
  query: Record<string, string>
  authorization?: string
  /** The CN of the client certificate presented, over TLS. */
  clientCertCn?: string
  /** When it arrived (Date.now()). */
  at: number
}

export interface FakeKubeOptions {
  /** Serve HTTPS with this certificate; `ca` set: ask for a client certificate signed by it (not required: a token may be used instead). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer }
  /** Only these bearer tokens are let in (401 otherwise); unset: no check. */
  tokens?: string[]
  /**
   * Write watch streams in slices of this many bytes, regardless of event boundaries (an event
   * split across several reads, several events in one, a multi-byte UTF-8 character cut in two),
   * as a proxy or a busy API server's flushes do.
   */
  chunkBytes?: number
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
  #failWatches: Failure[] = []
  #failLists: Failure[] = []
  readonly #chunkBytes: number | undefined
  /** Lists that used `limit`: their snapshot (the objects at the list's resourceVersion), for `continue` tokens. */
  readonly #snapshots = new Map<number, Map<Resource, any[]>>()
  /** Resources this server's RBAC refuses (403 Forbidden), as when the ClusterRole lacks list/watch. */
  readonly forbidden = new Set<Resource>()
  /** Called before each request is answered (tests compact history between list pages with it). */
  beforeRequest: ((r: Request) => void) | undefined
  tokens: Set<string> | undefined
  port = 0

  constructor(options: FakeKubeOptions = {}) {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res)
    this.#server = options.tls ? createTlsServer({ ...options.tls, requestCert: !!options.tls.ca, rejectUnauthorized: false }, handler) : createServer(handler)
    this.#scheme = options.tls ? 'https' : 'http'
    if (options.tokens) this.tokens = new Set(options.tokens)
    this.#chunkBytes = options.chunkBytes
  }

  get url(): string {
    return `${this.#scheme}://127.0.0.1:${this.port}`
  }

  /** Answer the next watch requests with these HTTP statuses (a Status body), one each. */
  failNextWatches(...statuses: Array<number | Failure>): void {
    this.#failWatches.push(...statuses.map((s) => (typeof s === 'number' ? { status: s } : s)))
  }

  /** Answer the next list requests (pages) with these HTTP errors, one each. */
  failNextLists(...statuses: Array<number | Failure>): void {
    this.#failLists.push(...statuses.map((s) => (typeof s === 'number' ? { status: s } : s)))
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
      if (w.bookmarks) w.send({ type: 'BOOKMARK', object: { kind: KIND[w.resource], apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) } } })
    }
  }

  /**
   * Cut every watch connection, as a network blip or an API server restart does; `partial`: after
   * writing the first half of one more event (a reset mid-event), which must not be applied.
   */
  dropWatches(partial?: { resource: Resource; object: any }): void {
    for (const w of this.#watchers) {
      if (partial && w.resource === partial.resource) {
        const line = JSON.stringify({ type: 'ADDED', object: { ...partial.object, apiVersion: 'v1', kind: KIND[w.resource], metadata: { ...partial.object.metadata, resourceVersion: String(this.#rv + 1) } } })
        w.res.write(line.slice(0, line.length >> 1))
      }
      w.res.destroy()
    }
    this.#watchers.clear()
  }

  /** An ERROR event with this Status to every watch, then the end of the stream (as the server does after one). */
  errorWatches(code: number, reason: string, message: string): void {
    for (const w of this.#watchers) {
      w.send({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code } })
      setImmediate(() => w.res.end())
    }
    this.#watchers.clear()
  }

  /** End every watch normally (the response completes), as the server does when a watch's timeoutSeconds is up. */
  endWatches(): void {
    // After anything still being flushed in slices.
    for (const w of this.#watchers) setImmediate(() => w.res.end())
    this.#watchers.clear()
  }

  /** Forget history: a watch resuming from an older version, or a list continuing from one, gets 410 Gone. */
  compact(): void {
    this.#compactedAt = this.#rv
    this.#history.length = 0
    this.#snapshots.clear()
  }

  /** The server's current resourceVersion (what a list started now would carry). */
  get resourceVersion(): string {
    return String(this.#rv)
  }

  get watchers(): number {
    return this.#watchers.size
  }

  #emit(resource: Resource, type: string, object: any): void {
    this.#history.push({ rv: this.#rv, resource, type, object })
    for (const w of this.#watchers) if (w.resource === resource && matches(object, w.selector)) w.send({ type, object })
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x')
    const m = /^\/api\/v1\/(pods|nodes|namespaces|serviceaccounts)$/.exec(u.pathname)
    if (!m) return status(res, 404, 'NotFound', 'not found')
    const resource = m[1] as Resource
    const query = Object.fromEntries(u.searchParams)
    const watch = query.watch === 'true' || query.watch === '1'
    const cn = String((req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN ?? '') || undefined
    this.requests.push({ resource, watch, query, at: Date.now(), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(cn ? { clientCertCn: cn } : {}) })
    this.beforeRequest?.(this.requests.at(-1)!)
    if (this.tokens && !this.tokens.has(/^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')) return status(res, 401, 'Unauthorized', 'Unauthorized')
    if (this.forbidden.has(resource)) {
      return status(res, 403, 'Forbidden', `${resource} is forbidden: User "system:serviceaccount:falco:falconet" cannot ${watch ? 'watch' : 'list'} resource "${resource}" in API group "" at the cluster scope`)
    }
    const selector = parseSelector(query.fieldSelector)
    const failure = (watch ? this.#failWatches : this.#failLists).shift()
    if (failure) return status(res, failure.status, REASON[failure.status] ?? 'InternalError', `failing this ${watch ? 'watch' : 'list'} with ${failure.status}`, failure.retryAfter)
    if (!watch) return this.#list(resource, selector, query, res)

    const from = Number(query.resourceVersion || 0)
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    const send = this.#chunkBytes ? chunked(res, this.#chunkBytes) : (event: unknown) => write(res, event)
    if (from && from < this.#compactedAt) {
      // As the real server: HTTP 200, then the expiry as an ERROR event carrying a Status.
      send({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.#compactedAt})`, reason: 'Expired', code: 410 } })
      setImmediate(() => res.end())
      return
    }
    for (const h of this.#history) if (h.resource === resource && h.rv > from && matches(h.object, selector)) send({ type: h.type, object: h.object })
    const watcher: Watcher = { resource, bookmarks: query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1', res, send, ...(selector ? { selector } : {}) }
    this.#watchers.add(watcher)
    // The server ends a watch normally once the timeoutSeconds the client asked for is up.
    const timeout = Number(query.timeoutSeconds)
    const timer = timeout > 0 ? setTimeout(() => setImmediate(() => res.end()), timeout * 1000) : undefined
    res.on('close', () => {
      clearTimeout(timer)
      this.#watchers.delete(watcher)
    })
  }

  /**
   * A list, paginated as the real server does: every page is from the snapshot at the first page's
   * resourceVersion (the `continue` token carries it, opaque to clients), and a token older than
   * the last compaction is refused with 410 `Expired`.
   */
  #list(resource: Resource, selector: [string, string] | undefined, query: Record<string, string>, res: ServerResponse): void {
    let rv = this.#rv
    let offset = 0
    if (query.continue) {
      let token: { rv?: number; start?: number }
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString())
      } catch {
        return status(res, 400, 'BadRequest', 'continue key is not valid: illegal base64 data')
      }
      if (!this.#snapshots.get(token.rv ?? 0)?.has(resource) || (token.rv ?? 0) < this.#compactedAt) {
        return status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results.')
      }
      rv = token.rv!
      offset = token.start ?? 0
    }
    const snapshot = this.#snapshots.get(rv)?.get(resource) ?? [...this.#objects.get(resource)!.values()]
    const all = snapshot.filter((o) => matches(o, selector))
    const limit = Number(query.limit || all.length || 1)
    const items = all.slice(offset, offset + limit)
    let next: string | undefined
    if (offset + limit < all.length) {
      if (!this.#snapshots.has(rv)) this.#snapshots.set(rv, new Map())
      this.#snapshots.get(rv)!.set(resource, snapshot)
      next = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: offset + limit })).toString('base64url')
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: `${KIND[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(rv), ...(next ? { continue: next } : {}) }, items }))
  }
}

const REASON: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' }

function status(res: ServerResponse, code: number, reason: string, message: string, retryAfter?: number): void {
  res.writeHead(code, { 'content-type': 'application/json', ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}) }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }))
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

/** A watch writer flushing fixed-size byte slices: event and character boundaries fall anywhere. */
function chunked(res: ServerResponse, size: number): (event: unknown) => void {
  let pending = Buffer.alloc(0)
  let scheduled = false
  const flush = () => {
    scheduled = false
    for (let at = 0; at < pending.length && !res.destroyed; at += size) res.write(pending.subarray(at, at + size))
    pending = Buffer.alloc(0)
  }
  return (event) => {
    pending = Buffer.concat([pending, Buffer.from(JSON.stringify(event) + '\n')])
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
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
