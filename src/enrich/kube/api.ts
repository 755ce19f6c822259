import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici'
import type { KubeCredentials, KubeTarget } from './credentials.js'

/**
 * The two calls the reflectors make — a page of a list and a watch stream — on undici, as raw
 * JSON: no typed models (a pod as generated model objects is several times the memory of its JSON,
 * only to be trimmed). Credentials are asked for on every request (a rotated token file is read
 * again); the connection pool is rebuilt only when the TLS material changes.
 */
export interface ListPage {
  items: unknown[]
  metadata?: { resourceVersion?: string; _continue?: string }
}

export type WatchQuery = Record<string, string | number | boolean>

export class KubeApi {
  readonly #target: KubeTarget
  #dispatcher: Dispatcher | undefined
  #tlsKey = ''
  readonly #closed = new AbortController()

  constructor(target: KubeTarget) {
    this.#target = target
  }

  async list(path: string, query: { limit: number; _continue?: string; fieldSelector?: string }): Promise<ListPage> {
    const url = new URL(this.#target.server + path)
    url.searchParams.set('limit', String(query.limit))
    if (query._continue) url.searchParams.set('continue', query._continue)
    if (query.fieldSelector) url.searchParams.set('fieldSelector', query.fieldSelector)
    const { statusCode, headers, body } = await this.#request(url, { headersTimeout: 60_000, bodyTimeout: 60_000 })
    const text = await body.text()
    if (statusCode !== 200) throw httpError(`list ${path}`, statusCode, text, headers['retry-after'])
    const list = JSON.parse(text) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } }
    const metadata: NonNullable<ListPage['metadata']> = {}
    if (list.metadata?.resourceVersion) metadata.resourceVersion = list.metadata.resourceVersion
    if (list.metadata?.continue) metadata._continue = list.metadata.continue
    return { items: list.items ?? [], metadata }
  }

  /**
   * A watch stream: `onEvent` for each JSON line (type, object), then `done` once — with no error
   * when the server ended the stream, with one when the request or the stream failed (an HTTP
   * status other than 200 carries it as `statusCode`). Resolves, once the request is on its way,
   * to a controller that ends it.
   */
  async watch(path: string, query: WatchQuery, onEvent: (type: string, object: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController()
    const url = new URL(this.#target.server + path)
    url.searchParams.set('watch', 'true')
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v))
    // The server ends the watch after timeoutSeconds; silence well past that means a dead connection.
    const bodyTimeout = (Number(query.timeoutSeconds) || 600) * 1000 + 60_000
    let finished = false
    const finish = (err: unknown) => {
      if (finished) return
      finished = true
      done(err)
    }
    void (async () => {
      try {
        const { statusCode, headers, body } = await this.#request(url, { headersTimeout: 30_000, bodyTimeout, signal: controller.signal })
        if (statusCode !== 200) throw httpError(`watch ${path}`, statusCode, await body.text(), headers['retry-after'])
        // Decoded as UTF-8 across reads (a character split between two is joined); an event split
        // over many reads is joined once, when its newline arrives, and parsed once.
        body.setEncoding('utf8')
        let pending: string[] = []
        for await (const chunk of body as AsyncIterable<string>) {
          let start = 0
          for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
            pending.push(chunk.slice(start, nl))
            emit(pending.join(''), onEvent)
            pending = []
            start = nl + 1
          }
          if (start < chunk.length) pending.push(chunk.slice(start))
        }
        // A stream the server ended cleanly ends with a newline; anything after the last one is a cut event.
        finish(undefined)
      } catch (err) {
        finish(err)
      }
    })()
    return controller
  }

  /** Ends every request in flight (falconet stopping). */
  close(): void {
    this.#closed.abort()
    void this.#dispatcher?.destroy().catch(() => {})
    this.#dispatcher = undefined
  }

  /**
   * One GET, asked again — as client-go's rest client does, up to 10 times — when the server
   * answers 429 or 5xx with a Retry-After (API Priority and Fairness throttling, an apiserver
   * starting): after that many seconds, the same request (a list page keeps its place).
   */
  async #request(url: URL, options: { headersTimeout: number; bodyTimeout: number; signal?: AbortSignal }) {
    for (let attempt = 0; ; attempt++) {
      const credentials = await this.#target.credentials()
      if (this.#closed.signal.aborted) throw Object.assign(new Error('the Kubernetes client is closed'), { name: 'AbortError' })
      const tls = credentials.tls
      const response = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json', ...credentials.headers },
        dispatcher: this.#pool(tls),
        // tls-server-name: the name checked in the certificate (and sent as SNI) whatever the URL's host.
        ...(tls.servername ? { servername: tls.servername } : {}),
        ...options,
      })
      if (response.statusCode === 401) this.#target.unauthorized?.()
      const wait = retryAfterMs(response.headers['retry-after'])
      if (attempt >= 10 || wait === undefined || (response.statusCode !== 429 && response.statusCode < 500)) return response
      await response.body.dump()
      const signals = [this.#closed.signal, ...(options.signal ? [options.signal] : [])]
      await sleep(wait, undefined, { signal: AbortSignal.any(signals) }).catch(() => {})
      if (signals.some((s) => s.aborted)) throw Object.assign(new Error('the Kubernetes request was aborted'), { name: 'AbortError' })
    }
  }

  /** One pool per TLS material: a rotated CA or client certificate gets a new one; the old one is closed once its requests end. */
  #pool(tls: KubeCredentials['tls']): Dispatcher {
    const key = JSON.stringify([tls.ca?.toString(), tls.cert?.toString(), tls.key?.toString(), tls.rejectUnauthorized, tls.servername])
    if (this.#dispatcher && key === this.#tlsKey) return this.#dispatcher
    void this.#dispatcher?.close().catch(() => {})
    const connect = { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 }
    this.#dispatcher = this.#target.proxyUrl ? new ProxyAgent({ uri: this.#target.proxyUrl, requestTls: connect }) : new Agent({ connect })
    this.#tlsKey = key
    return this.#dispatcher
  }
}

/** Lines that are not JSON are skipped, as client-node's Watch does. */
function emit(line: string, onEvent: (type: string, object: unknown) => void): void {
  if (!line.trim()) return
  let event: { type?: unknown; object?: unknown }
  try {
    event = JSON.parse(line)
  } catch {
    return
  }
  if (typeof event?.type === 'string') onEvent(event.type, event.object)
}

/** The API server's Status for a failed request, when the body is one (its reason, e.g. Expired, Forbidden, and message). */
function httpError(what: string, statusCode: number, text: string, retryAfter?: string | string[]): Error {
  let status: { reason?: unknown; message?: unknown } = {}
  try {
    status = JSON.parse(text) ?? {}
  } catch {}
  const message = typeof status.message === 'string' ? status.message : text
  const wait = retryAfterMs(retryAfter)
  return Object.assign(new Error(`${what}: HTTP ${statusCode} ${message.slice(0, 300)}`), {
    statusCode,
    code: statusCode,
    ...(typeof status.reason === 'string' ? { reason: status.reason } : {}),
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
  })
}

/** Retry-After in whole seconds, as client-go reads it (an HTTP date is not used by the API server); at most 5 minutes. */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (!text || !/^\d+$/.test(text.trim())) return undefined
  return Math.min(Number(text) * 1000, 300_000)
}
