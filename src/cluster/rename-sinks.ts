import { RENAMED_SINK_IDS } from '../delivery/renamed-sinks.js'
import { script, type Store } from './store.js'

/**
 * A renamed sink's queue and health (delivery/renamed-sinks.ts), moved to its new id: `q:<old>`
 * into `q:<new>` (a finding in both keeps the earlier due time), `sinkst` `<old>|ok` / `<old>|err`
 * into the new fields where newer. Cheap (a few O(1) calls when nothing is left to move), so every
 * janitor tick runs it: during a rolling upgrade an old replica may still queue under the old id.
 * ARGV: prefix, old, new. Returns 1 when there was anything to move.
 */
const MOVE_QUEUE = script(
  'rename-sink-queue',
  `
local P, old, new = ARGV[1], ARGV[2], ARGV[3]
local moved = 0
if redis.call('EXISTS', P .. 'q:' .. old) == 1 then
  redis.call('ZUNIONSTORE', P .. 'q:' .. new, 2, P .. 'q:' .. new, P .. 'q:' .. old, 'AGGREGATE', 'MIN')
  redis.call('DEL', P .. 'q:' .. old)
  moved = 1
end
for _, kind in ipairs({'|ok', '|err'}) do
  local v = redis.call('HGET', P .. 'sinkst', old .. kind)
  if v then
    local cur = redis.call('HGET', P .. 'sinkst', new .. kind)
    if not cur or tonumber(string.match(cur, '^(%d+)')) < tonumber(string.match(v, '^(%d+)')) then redis.call('HSET', P .. 'sinkst', new .. kind, v) end
    redis.call('HDEL', P .. 'sinkst', old .. kind)
    moved = 1
  end
end
return moved
`,
)

/**
 * The delivery records (`d:<id>` field `<old>` → `<new>`, an existing new one kept): one SCAN step
 * of `count` keys. ARGV: prefix, old, new, cursor, count. Returns the next cursor ('0': done).
 */
const MOVE_RECORDS = script(
  'rename-sink-records',
  `
local P, old, new = ARGV[1], ARGV[2], ARGV[3]
local reply = redis.call('SCAN', ARGV[4], 'MATCH', P .. 'd:*', 'COUNT', tonumber(ARGV[5]))
for _, k in ipairs(reply[2]) do
  local v = redis.call('HGET', k, old)
  if v then
    redis.call('HSETNX', k, new, v)
    redis.call('HDEL', k, old)
  end
end
return reply[1]
`,
)

/**
 * Moves what replicas of an older version wrote under a renamed sink id. The first run after this
 * replica starts also walks every delivery record (SCAN, 500 keys a step), and so does the run
 * after one that found a queue left under an old id; idempotent, so replicas may run it together.
 */
export class SinkRenames {
  readonly #store: Store
  #walked = false

  constructor(store: Store) {
    this.#store = store
  }

  async run(): Promise<void> {
    for (const [from, to] of Object.entries(RENAMED_SINK_IDS)) {
      const moved = await this.#store.run<number>(MOVE_QUEUE, [], [this.#store.prefix, from, to])
      if (this.#walked && moved === 0) continue
      let cursor = '0'
      do cursor = String(await this.#store.run(MOVE_RECORDS, [], [this.#store.prefix, from, to, cursor, 500]))
      while (cursor !== '0')
    }
    this.#walked = true
  }
}
