import type { Logger } from 'pino'
import { script, type Store } from './store.js'

const PUT = script('put-doc', `redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])`)
const GET = script('get-doc', `return {redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[1]) or false}`)
/** Write only over the version the change was made from: 0 when another replica wrote meanwhile. */
const CAS = script('cas-doc', `if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return 0 end redis.call('SET', KEYS[1], ARGV[2]) return redis.call('INCR', KEYS[2])`)

/**
 * Small JSON documents every replica shares (the silences), read from a local copy and kept fresh
 * by polling a version number — one short round trip per poll, whatever the number of documents'
 * readers; a change made on any replica is seen by the others within a poll. Writes go to the
 * store and fail when it cannot be reached (the API then answers 503): a silence that only one
 * replica knew would not mute the others.
 */
export class SharedDocs {
  readonly #store: Store
  readonly #keys: string[]
  readonly #logger: Logger
  readonly #cache = new Map<string, { version: number; value: unknown }>()
  readonly #listeners = new Set<(key: string) => void>()
  #timer: NodeJS.Timeout | undefined

  constructor(store: Store, keys: string[], logger: Logger) {
    this.#store = store
    this.#keys = keys
    this.#logger = logger.child({ component: 'shared-docs' })
  }

  get<T>(key: string): T | undefined {
    return this.#cache.get(key)?.value as T | undefined
  }

  async put(key: string, value: unknown): Promise<void> {
    const version = await this.#store.run<number>(PUT, [this.#docKey(key), this.#versionKey(key)], [JSON.stringify(value)])
    this.#cache.set(key, { version, value })
  }

  /**
   * Change a document from its current value in the store, not from this replica's copy (which
   * may be a poll behind): compare-and-set on the version, read again and retried when another
   * replica wrote in between. Two silences made back to back on two replicas are both kept.
   */
  async update<T>(key: string, change: (current: T | undefined) => T): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [version, json] = await this.#store.run<[string, string | null]>(GET, [this.#docKey(key), this.#versionKey(key)], [])
      const next = change(json === null ? undefined : (JSON.parse(json) as T))
      const written = await this.#store.run<number>(CAS, [this.#docKey(key), this.#versionKey(key)], [Number(version), JSON.stringify(next)])
      if (written > 0) {
        this.#cache.set(key, { version: written, value: next })
        return next
      }
    }
    throw new Error(`the shared document ${key} kept changing under this write: try again`)
  }

  /** Fetch every document whose version moved; resolves false if the store could not be asked. */
  async refresh(): Promise<boolean> {
    try {
      for (const key of this.#keys) {
        const [version, json] = await this.#store.run<[string, string | null]>(GET, [this.#docKey(key), this.#versionKey(key)], [])
        const v = Number(version)
        const cached = this.#cache.get(key)
        if (cached && cached.version === v) continue
        this.#cache.set(key, { version: v, value: json === null ? undefined : JSON.parse(json) })
        for (const l of this.#listeners) l(key)
      }
      return true
    } catch (err) {
      this.#logger.debug({ err: { message: (err as Error).message } }, 'shared documents not refreshed')
      return false
    }
  }

  onChange(listener: (key: string) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  start(pollMs: number): void {
    this.#timer ??= setInterval(() => void this.refresh(), pollMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  #docKey(key: string): string {
    return this.#store.key(`doc:${key}`)
  }

  #versionKey(key: string): string {
    return this.#store.key(`docv:${key}`)
  }
}
