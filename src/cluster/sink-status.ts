import { script, type Store } from './store.js'

/** What one replica knows of a sink's delivery (its runner): the GET /api/status fields. */
export interface SinkHealth {
  id: string
  lastSuccessAt: number | undefined
  lastError: { at: number; message: string } | undefined
}

/**
 * Newest-wins per field: `sinkst` hash, `<sink>|ok` → ms of the last delivery, `<sink>|err` →
 * "ms|message" of the last failure. ARGV: sink, okMs or '', errMs or '', message, …
 */
const PUBLISH = script(
  'sink-status-publish',
  `
local function newer(field, at, value)
  if at == '' then return end
  local cur = redis.call('HGET', KEYS[1], field)
  if not cur or tonumber(string.match(cur, '^(%d+)')) < tonumber(at) then redis.call('HSET', KEYS[1], field, value) end
end
for i = 1, #ARGV, 4 do
  newer(ARGV[i] .. '|ok', ARGV[i + 1], ARGV[i + 1])
  newer(ARGV[i] .. '|err', ARGV[i + 2], ARGV[i + 2] .. '|' .. ARGV[i + 3])
end
return 0
`,
)

/** Per sink: {last delivery, last failure, findings its shared queue holds}. ARGV: prefix, sinks… */
const READ = script(
  'sink-status-read',
  `
local P, out = ARGV[1], {}
for i = 2, #ARGV do
  local s = ARGV[i]
  out[#out + 1] = {redis.call('HGET', P .. 'sinkst', s .. '|ok') or '', redis.call('HGET', P .. 'sinkst', s .. '|err') or '', redis.call('ZCARD', P .. 'q:' .. s)}
end
return out
`,
)

/**
 * Sink health cluster-wide: one replica drains a sink at a time (its lease), so the last delivery
 * and the last error are known to whichever replica held it then. Each replica publishes what its
 * runners saw (newest wins); GET /api/status on any replica reads them back with the shared
 * queue's length, so the health page shows the same whichever replica serves it.
 */
export class SharedSinkStatus {
  readonly #store: Store
  readonly #published = new Map<string, string>()
  #timer: NodeJS.Timeout | undefined

  constructor(store: Store) {
    this.#store = store
  }

  /** Publish what changed every `everyMs`. */
  start(local: () => SinkHealth[], everyMs = 2000): void {
    this.#timer ??= setInterval(() => void this.publish(local()).catch(() => {}), everyMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  async publish(sinks: SinkHealth[]): Promise<void> {
    const args: string[] = []
    const seen = new Map<string, string>()
    for (const s of sinks) {
      const ok = s.lastSuccessAt === undefined ? '' : String(s.lastSuccessAt)
      const err = s.lastError === undefined ? '' : String(s.lastError.at)
      const mark = `${ok}/${err}`
      if (this.#published.get(s.id) === mark) continue
      seen.set(s.id, mark)
      args.push(s.id, ok, err, (s.lastError?.message ?? '').slice(0, 2000))
    }
    if (args.length === 0) return
    await this.#store.run(PUBLISH, [this.#store.key('sinkst')], args)
    for (const [id, mark] of seen) this.#published.set(id, mark)
  }

  /** The newest of this replica's and the store's, and the shared queue's length as pending. */
  async read<T extends SinkHealth & { pending: number }>(local: T[]): Promise<T[]> {
    if (local.length === 0) return local
    const reply = await this.#store.run<Array<[string, string, number]>>(READ, [], [this.#store.prefix, ...local.map((s) => s.id)])
    return local.map((s, i) => {
      const [ok, err, pending] = reply[i]!
      const at = err === '' ? undefined : Number(err.slice(0, err.indexOf('|')))
      const shared = at === undefined ? undefined : { at, message: err.slice(err.indexOf('|') + 1) }
      return {
        ...s,
        pending,
        lastSuccessAt: Math.max(s.lastSuccessAt ?? 0, Number(ok || 0)) || undefined,
        lastError: shared && shared.at > (s.lastError?.at ?? -1) ? shared : s.lastError,
      }
    })
  }
}
