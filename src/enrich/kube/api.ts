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
  #closed = false

  constructor(target: KubeTarget) {
    this.#target = target
  }

  async list(path: string, query: { limit: number; _continue?: string; fieldSelector?: string }): Promise<ListPage> {
    const url = new URL(this.#target.server + path)
    url.searchParams.set('limit', String(query.limit))
    if (query._continue) url.searchParams.set('continue', query._continue)
    if (query.fieldSelector) url.searchParams.set('fieldSelector', query.fieldSelector)
    const { statusCode, body } = await this.#request(url, { headersTimeout: 60_000, bodyTimeout: 60_000 })
    const text = await body.text()
    if (statusCode !== 200) throw httpError(`list ${path}`, statusCode, text)
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
        const { statusCode, body } = await this.#request(url, { headersTimeout: 30_000, bodyTimeout, signal: controller.signal })
        if (statusCode !== 200) throw httpError(`watch ${path}`, statusCode, await body.text())
        let rest = ''
        body.setEncoding('utf8')
        for await (const chunk of body as AsyncIterable<string>) {
          const lines = (rest + chunk).split('\n')
          rest = lines.pop()!
          for (const line of lines) emit(line, onEvent)
        }
        emit(rest, onEvent)
        finish(undefined)
      } catch (err) {
        finish(err)
      }
    })()
    return controller
  }

  /** Ends every request in flight (falconet stopping). */
  close(): void {
    this.#closed = true
    void this.#dispatcher?.destroy().catch(() => {})
    this.#dispatcher = undefined
  }

  async #request(url: URL, options: { headersTimeout: number; bodyTimeout: number; signal?: AbortSignal }) {
    const credentials = await this.#target.credentials()
    if (this.#closed) throw Object.assign(new Error('the Kubernetes client is closed'), { name: 'AbortError' })
    return request(url, { method: 'GET', headers: { accept: 'application/json', ...credentials.headers }, dispatcher: this.#pool(credentials.tls), ...options })
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

function httpError(what: string, statusCode: number, text: string): Error {
  return Object.assign(new Error(`${what}: HTTP ${statusCode} ${text.slice(0, 200)}`), { statusCode, code: statusCode })
}
