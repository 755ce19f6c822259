import { readFileSync } from 'node:fs'
import { createHash, randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Valkey as Redis, RedisOptions } from 'iovalkey'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { errors } from '../errors.js'
import type { StoreConfig } from './config.js'

/**
 * The connection to the shared store (Valkey / Redis OSS 7+) and the one way falconet talks to it:
 * server-side Lua scripts, each an atomic step (merge a batch, take due findings, acknowledge,
 * take a token, renew a lease). Every call is counted, timed and, when it fails, logged — once when
 * the store becomes unreachable and once when it is back, not once per call.
 *
 * Client: iovalkey, the Valkey project's fork of ioredis — pure JavaScript (nothing native to build
 * for the image), ioredis' mature reconnect / TLS / pipelining, maintained under valkey-io.
 * Commands fail at once while disconnected (no offline queue): callers keep their work in the
 * local spool and retry, rather than pile up promises in memory during an outage.
 */
export interface Script {
  name: string
  lua: string
  sha: string
}

export function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') }
}

export interface StoreDeps {
  logger: Logger
  registry?: Registry
  env?: NodeJS.ProcessEnv
  /** Stable id of this replica (config, else kept in the data dir). */
  replicaId: string
}

export class Store {
  readonly client: Redis
  /** The prefix of every key: one hash tag, so all keys share a slot on a cluster-mode endpoint. */
  readonly prefix: string
  readonly replicaId: string
  /** This process: a restarted replica is a new holder of leases. */
  readonly instanceId: string
  readonly #logger: Logger
  readonly #metrics: ReturnType<typeof storeMetrics> | undefined
  #down: { since: number; op: string } | undefined
  #closed = false

  constructor(config: StoreConfig, deps: StoreDeps) {
    if (!config.url) throw new errors.FALCONET_ERR_CONFIG('  cluster.store.url: required for a shared store')
    this.prefix = `{${config.keyPrefix}}:`
    this.replicaId = deps.replicaId
    this.instanceId = `${deps.replicaId}/${randomUUID().slice(0, 8)}`
    this.#logger = deps.logger.child({ component: 'store' })
    this.#metrics = deps.registry ? storeMetrics(deps.registry, () => (this.#down ? 0 : 1)) : undefined
    // iovalkey loaded only when a store is configured: this module is imported at start for its scripts (idle RSS).
    const { Valkey } = createRequire(import.meta.url)('iovalkey') as typeof import('iovalkey')
    this.client = new Valkey(config.url, connectionOptions(config, deps.env ?? process.env))
    this.client.on('error', () => {}) // reported by the calls that fail, with their operation
    this.client.on('ready', () => this.#up('connected'))
  }

  /** Resolves once connected (false after `timeoutMs`): start-up does not wait for the store. */
  ready(timeoutMs = 5000): Promise<boolean> {
    if (this.client.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer)
        this.client.off('ready', onReady)
        resolve(ok)
      }
      const onReady = () => done(true)
      const timer = setTimeout(() => done(false), timeoutMs)
      this.client.on('ready', onReady)
    })
  }

  key(name: string): string {
    return this.prefix + name
  }

  /** Run `s` atomically on the store (EVALSHA, loading the script on NOSCRIPT). */
  async run<T = unknown>(s: Script, keys: string[], args: Array<string | number>): Promise<T> {
    const started = performance.now()
    try {
      let result: unknown
      try {
        result = await this.client.evalsha(s.sha, keys.length, ...keys, ...args)
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
        result = await this.client.eval(s.lua, keys.length, ...keys, ...args)
      }
      this.#metrics?.seconds.observe({ op: s.name }, (performance.now() - started) / 1000)
      this.#metrics?.requests.inc({ op: s.name })
      this.#up(s.name)
      return result as T
    } catch (err) {
      this.#metrics?.requests.inc({ op: s.name })
      this.#metrics?.errors.inc({ op: s.name })
      this.#failed(s.name, err)
      throw err
    }
  }

  /** A plain command, counted like a script (for the few that need no atomic step). */
  async command<T = unknown>(op: string, name: string, ...args: Array<string | number>): Promise<T> {
    const started = performance.now()
    try {
      const result = await this.client.call(name, ...args)
      this.#metrics?.seconds.observe({ op }, (performance.now() - started) / 1000)
      this.#metrics?.requests.inc({ op })
      this.#up(op)
      return result as T
    } catch (err) {
      this.#metrics?.requests.inc({ op })
      this.#metrics?.errors.inc({ op })
      this.#failed(op, err)
      throw err
    }
  }

  get reachable(): boolean {
    return this.#down === undefined && this.client.status === 'ready'
  }

  #failed(op: string, err: unknown): void {
    if (this.#down || this.#closed) return
    this.#down = { since: Date.now(), op }
    this.#logger.error({ op, err: { message: (err as Error).message } }, 'shared store unreachable: ingest goes on into the local spool, shared work waits and is retried')
  }

  #up(op: string): void {
    if (!this.#down || this.client.status !== 'ready') return
    const downSecs = Math.round((Date.now() - this.#down.since) / 1000)
    this.#down = undefined
    this.#logger.info({ op, downSecs }, 'shared store reachable again: spooled work is merged now')
  }

  async close(): Promise<void> {
    this.#closed = true
    try {
      await this.client.quit()
    } catch {
      this.client.disconnect()
    }
  }
}

function connectionOptions(config: StoreConfig, env: NodeJS.ProcessEnv): RedisOptions {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: Math.max(config.commandTimeoutMs, 2000),
    // Reconnect for ever, a little slower each time, at most every 2 s.
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: false,
    connectionName: 'falconet',
  }
  const token = authToken(config, env)
  if (token) options.password = token
  if (config.username) options.username = config.username
  const url = new URL(config.url!)
  if (url.password) throw new errors.FALCONET_ERR_CONFIG('  cluster.store.url: a password in the URL would be logged and shown; use authTokenFile or authTokenEnv')
  if (url.protocol === 'rediss:' || url.protocol === 'valkeys:') {
    options.tls = {
      ...(config.tls.caFile ? { ca: readConfigFile(config.tls.caFile, 'cluster.store.tls.caFile') } : {}),
      ...(config.tls.serverName ? { servername: config.tls.serverName } : {}),
    }
  }
  return options
}

function authToken(config: StoreConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (config.authTokenFile) return readConfigFile(config.authTokenFile, 'cluster.store.authTokenFile').trim()
  if (config.authTokenEnv) {
    const value = env[config.authTokenEnv]?.trim()
    if (!value) throw new errors.FALCONET_ERR_CONFIG(`  cluster.store.authTokenEnv: ${config.authTokenEnv} is not set`)
    return value
  }
  return undefined
}

function readConfigFile(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new errors.FALCONET_ERR_CONFIG(`  ${setting}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

function storeMetrics(registry: Registry, up: () => number) {
  const registers = [registry]
  new Gauge({
    name: 'falconet_store_up',
    help: '1 while the shared store answers, 0 after a failed call until one succeeds.',
    registers,
    collect() {
      this.set(up())
    },
  })
  return {
    requests: new Counter({ name: 'falconet_store_requests_total', help: 'Round trips to the shared store, by operation.', labelNames: ['op'], registers }),
    errors: new Counter({ name: 'falconet_store_errors_total', help: 'Failed round trips to the shared store, by operation (the work is retried).', labelNames: ['op'], registers }),
    seconds: new Histogram({
      name: 'falconet_store_request_seconds',
      help: 'Shared store round-trip latency, by operation.',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  }
}
