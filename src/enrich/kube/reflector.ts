import { backoffMs } from '../../delivery/backoff.js'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KubeApi } from './api.js'
import type { Logger } from 'pino'

/**
 * List + watch for one kind, the way a long-running client must do it (client-go's reflector is
 * the model): a paginated list, then a watch from its resourceVersion with bookmarks; resume from
 * the last seen version when the stream ends (servers end watches every few minutes, networks drop
 * them); list again on 410 Gone; back off on errors. Objects are trimmed as they arrive; the
 * reflector itself keeps only their keys, to know what a re-list deleted.
 */
export interface ResourceSpec<T> {
  kind: string
  /** The watch path, e.g. /api/v1/pods. */
  path: string
  fieldSelector?: string
  list(page: { limit: number; _continue?: string; fieldSelector?: string }): Promise<{ items: unknown[]; metadata?: { resourceVersion?: string; _continue?: string } }>
  /** Each object as the API server sent it (JSON of `kind`): a method, so a trim that reads that kind's fields fits. */
  trim(raw: unknown): T
  key(obj: T): string
}

export interface ReflectorHandlers<T> {
  upsert(obj: T): void
  remove(key: string, obj?: T): void
}

export interface ReflectorEvents {
  relisted(kind: string): void
  watchRestarted(kind: string, reason: string): void
}

// 100 objects a page rather than client-go's 500: a page of pods is parsed whole before it is
// trimmed, and 500 of them (~10 MB parsed) outlive the young generation and linger in old space
// after the sync; 100 took the synced RSS at 10,000 pods from 159 to 147 MB (bench/ab-memory.ts).
const PAGE = 100

export class Reflector<T> {
  readonly #spec: ResourceSpec<T>
  readonly #watch: Pick<KubeApi, 'watch'>
  readonly #handlers: ReflectorHandlers<T>
  readonly #events: ReflectorEvents
  readonly #logger: Logger
  readonly #keys = new Set<string>()
  readonly #stop = new AbortController()
  #resourceVersion = ''
  #request: AbortController | undefined
  #synced!: () => void
  readonly synced: Promise<void> = new Promise((resolve) => (this.#synced = resolve))
  isSynced = false

  constructor(spec: ResourceSpec<T>, watch: Pick<KubeApi, 'watch'>, handlers: ReflectorHandlers<T>, events: ReflectorEvents, logger: Logger) {
    this.#spec = spec
    this.#watch = watch
    this.#handlers = handlers
    this.#events = events
    this.#logger = logger.child({ kind: spec.kind })
  }

  start(): void {
    void this.#run()
  }

  stop(): void {
    this.#stop.abort()
    this.#request?.abort()
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stop.signal.aborted) {
      try {
        if (!this.#resourceVersion) await this.#list()
        const outcome = await this.#watchOnce()
        failures = outcome === 'events' ? 0 : failures
        // A stream that ended with nothing in it: pause a moment so a server that closes at once
        // is not hammered (a normal end comes after minutes, so this costs nothing).
        if (outcome === 'quiet') await sleep(1000, undefined, { signal: this.#stop.signal }).catch(() => {})
        if (outcome === 'gone') this.#expired({}, 'watch expired (410 Gone): listing again')
      } catch (err) {
        if (this.#stop.signal.aborted) return
        const e = err as { statusCode?: number; retryAfterMs?: number; message?: string }
        const status = e.statusCode
        if (status === 410) {
          // An expired version (HTTP 410 on a watch) or continue token (between two list pages: etcd
          // compacted past the list's snapshot): a full list again at once, as client-go's pager does.
          this.#expired({ err: { message: e.message, status } }, 'list or watch expired (410 Gone): listing again')
          // At once the first time; backed off if it keeps happening (a server answering 410 to everything).
          if (failures > 0) await sleep(backoffMs(failures, 500, 30_000), undefined, { signal: this.#stop.signal }).catch(() => {})
          failures++
          continue
        }
        // Jittered: after an API-server outage, every node's sidecar must not re-list in lockstep;
        // never sooner than the server's Retry-After.
        const wait = Math.max(backoffMs(failures++, 500, 30_000), e.retryAfterMs ?? 0)
        const reason = failureReason(status)
        this.#events.watchRestarted(this.#spec.kind, reason)
        const fields = { err: { message: e.message, status }, reason, retryInMs: wait }
        const kind = this.#spec.kind
        if (reason === 'forbidden') this.#logger.error(fields, `the API server forbids falconet to read ${kind} (403, RBAC): its service account needs get, list and watch on ${kind} (the chart's ClusterRole grants them); retrying`)
        else if (reason === 'unauthorized') this.#logger.warn(fields, `the API server did not accept falconet's credentials (401): the token is read again on the next try`)
        else this.#logger.warn(fields, 'list/watch failed, retrying')
        await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {})
      }
    }
  }

  /** What was known is too old to watch from (410 Gone, in a watch's stream or as its answer): the next round lists everything again. */
  #expired(fields: object, message: string): void {
    this.#resourceVersion = ''
    this.#events.relisted(this.#spec.kind)
    this.#logger.info(fields, message)
  }

  /** A consistent paginated list (every page from the first page's snapshot, its resourceVersion the watch's start); replaces what is known (objects gone since are removed). */
  async #list(): Promise<void> {
    const seen = new Set<string>()
    let _continue: string | undefined
    let resourceVersion = ''
    do {
      const page = await this.#spec.list({ limit: PAGE, ...(_continue ? { _continue } : {}), ...(this.#spec.fieldSelector ? { fieldSelector: this.#spec.fieldSelector } : {}) })
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion
      for (const raw of page.items) {
        const obj = this.#spec.trim(raw)
        const key = this.#spec.key(obj)
        seen.add(key)
        this.#keys.add(key)
        this.#handlers.upsert(obj)
      }
      _continue = page.metadata?._continue || undefined
    } while (_continue && !this.#stop.signal.aborted)
    for (const key of [...this.#keys]) {
      if (!seen.has(key)) {
        this.#keys.delete(key)
        this.#handlers.remove(key)
      }
    }
    this.#resourceVersion = resourceVersion
    if (!this.isSynced) {
      this.isSynced = true
      this.#synced()
    }
  }

  /** One watch stream: 'events' if it delivered any, 'quiet' if it ended without, 'gone' on 410. */
  #watchOnce(): Promise<'events' | 'quiet' | 'gone'> {
    return new Promise((resolve, reject) => {
      let outcome: 'events' | 'quiet' | 'gone' = 'quiet'
      let failure: Error | undefined
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        // Ask the server to end the watch after 5–10 minutes, as client-go does, so a silently dead
        // connection is noticed.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      }
      if (this.#spec.fieldSelector) query.fieldSelector = this.#spec.fieldSelector
      const onEvent = (type: string, raw: unknown) => {
        const obj = typeof raw === 'object' && raw !== null ? (raw as { code?: unknown; reason?: unknown; message?: unknown; metadata?: { resourceVersion?: string } }) : undefined
        if (type === 'ERROR') {
          // A Status: 410 is an expired version (list again); any other ends this watch as a failure
          // (client-go's watchHandler returns it as an error), counted and backed off once the stream ends.
          if (obj?.code === 410) outcome = 'gone'
          else failure ??= Object.assign(new Error(`watch ${this.#spec.path}: ERROR event ${obj?.code ?? ''} ${String(obj?.reason ?? '')}: ${String(obj?.message ?? '').slice(0, 300)}`), typeof obj?.code === 'number' ? { statusCode: obj.code } : {})
          return
        }
        const version = obj?.metadata?.resourceVersion
        if (type === 'BOOKMARK') {
          if (version) this.#resourceVersion = version
          return
        }
        const trimmed = this.#spec.trim(raw)
        const key = this.#spec.key(trimmed)
        if (type === 'DELETED') {
          this.#keys.delete(key)
          this.#handlers.remove(key, trimmed)
        } else {
          this.#keys.add(key)
          this.#handlers.upsert(trimmed)
        }
        if (version) this.#resourceVersion = version
        if (outcome === 'quiet') outcome = 'events'
      }
      const done = (err: unknown) => {
        this.#request = undefined
        if (err && !this.#stop.signal.aborted && (err as Error).name !== 'AbortError') reject(err)
        else if (failure && outcome !== 'gone' && !this.#stop.signal.aborted) reject(failure)
        else resolve(outcome)
      }
      this.#watch.watch(this.#spec.path, query, onEvent, done).then((controller) => {
        this.#request = controller
        if (this.#stop.signal.aborted) controller.abort()
      }, reject)
    })
  }
}

/** The metric label for a failed list or watch. */
function failureReason(status: number | undefined): string {
  if (status === undefined) return 'network'
  if (status === 401) return 'unauthorized'
  if (status === 403) return 'forbidden'
  if (status === 429) return 'throttled'
  if (status >= 500) return 'server_error'
  return `http_${status}`
}
