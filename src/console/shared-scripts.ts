import { script } from '../cluster/store.js'

/**
 * The console's atomic steps in the shared store (src/cluster/store.ts runs them). Keys, under the
 * cluster's prefix (one hash tag):
 *   c:rec     hash    finding id → its console record (JSON: ./findings-index.ts FindingRecord)
 *   c:rev     hash    finding id → the record's revision (compare-and-set: replicas never overwrite each other)
 *   c:seen    zset    finding id → when a replica last stored it (retention: oldest first)
 *   c:bytes   string  bytes of every record (retention.maxBytes)
 *   c:chg     stream  ids changed (replicas tail it: their lists and live updates follow)
 *   c:b:<ms>  hash    one 5-minute bucket of counts (the charts), expiring with retention.days
 *   c:tot     hash    what aggregation saved (alerts received, finding versions, Security Hub calls)
 */

/**
 * Write records whose revision is still the one read (ARGV from 3: id, revision read, JSON,
 * arrival ms or ''), announce the ids written on the change stream, and answer
 * {records, bytes, ids whose revision moved (read again and retry)}. ARGV: prefix, stream maxlen
 */
export const PUT_RECORDS = script(
  'console-put',
  `
local P, maxlen = ARGV[1], ARGV[2]
local rk, vk, sk, bk = P .. 'c:rec', P .. 'c:rev', P .. 'c:seen', P .. 'c:bytes'
local conflicts, changed = {}, {}
for i = 3, #ARGV, 4 do
  local id, want, json, seen = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local rev = redis.call('HGET', vk, id) or '0'
  if rev ~= want then
    conflicts[#conflicts + 1] = id
  else
    local before = redis.call('HSTRLEN', rk, id)
    redis.call('HSET', rk, id, json)
    redis.call('HSET', vk, id, tonumber(rev) + 1)
    if seen ~= '' then redis.call('ZADD', sk, seen, id) end
    redis.call('INCRBY', bk, #json - before)
    changed[#changed + 1] = id
  end
end
if #changed > 0 then redis.call('XADD', P .. 'c:chg', 'MAXLEN', '~', maxlen, '*', 'ids', table.concat(changed, '\\n')) end
return {redis.call('ZCARD', sk), tonumber(redis.call('GET', bk) or '0'), conflicts}
`,
)

/** Records and their revisions. ARGV: prefix, ids… → {records, revisions} */
export const READ_RECORDS = script(
  'console-read',
  `
local P = ARGV[1]
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
return {redis.call('HMGET', P .. 'c:rec', unpack(ids)), redis.call('HMGET', P .. 'c:rev', unpack(ids))}
`,
)

/**
 * The merged aggregates and their delivery state (src/cluster/scripts.ts layout), per id:
 * {finding hash, distinct pods, distinct containers, delivery hash, sinks whose queue holds it}.
 * ARGV: prefix, sinks JSON [ids], ids…
 */
export const READ_MERGED = script(
  'console-read-merged',
  `
local P = ARGV[1]
local sinks = cjson.decode(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local queued = {}
  for _, s in ipairs(sinks) do if redis.call('ZSCORE', P .. 'q:' .. s, id) then queued[#queued + 1] = s end end
  out[#out + 1] = {redis.call('HGETALL', P .. 'f:' .. id), redis.call('SCARD', P .. 'fp:' .. id), redis.call('SCARD', P .. 'fc:' .. id), redis.call('HGETALL', P .. 'd:' .. id), queued}
end
return out
`,
)

/**
 * Retention: remove the least recently stored records while one is older than the cutoff or
 * there are more than maxFindings or maxBytes (at most `limit` per call); announce them.
 * ARGV: prefix, cutoffMs, maxFindings, maxBytes, limit, stream maxlen → removed
 */
export const SWEEP = script(
  'console-sweep',
  `
local P, cutoff, maxF, maxB, limit, maxlen = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local rk, vk, sk, bk = P .. 'c:rec', P .. 'c:rev', P .. 'c:seen', P .. 'c:bytes'
local n = redis.call('ZCARD', sk)
local bytes = tonumber(redis.call('GET', bk) or '0')
local removed = {}
while #removed < limit do
  local oldest = redis.call('ZRANGE', sk, 0, 0, 'WITHSCORES')
  if #oldest == 0 then break end
  if tonumber(oldest[2]) >= cutoff and n <= maxF and bytes <= maxB then break end
  local id = oldest[1]
  bytes = bytes - redis.call('HSTRLEN', rk, id)
  redis.call('HDEL', rk, id)
  redis.call('HDEL', vk, id)
  redis.call('ZREM', sk, id)
  n = n - 1
  removed[#removed + 1] = id
end
if #removed > 0 then
  redis.call('SET', bk, math.max(bytes, 0))
  redis.call('XADD', P .. 'c:chg', 'MAXLEN', '~', maxlen, '*', 'ids', table.concat(removed, '\\n'))
end
return #removed
`,
)

/**
 * Count occurrences into a 5-minute bucket (rules and namespaces bounded per bucket: beyond
 * maxKeys they add to "(other)") and into the totals. KEYS: bucket, totals;
 * ARGV: ttlMs, maxKeys, totals JSON {field: n}, then field, n, field, n…
 */
export const COUNT = script(
  'console-count',
  `
local key, ttl, max = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
for f, n in pairs(cjson.decode(ARGV[3])) do redis.call('HINCRBY', KEYS[2], f, n) end
for i = 4, #ARGV, 2 do
  local f, n = ARGV[i], tonumber(ARGV[i + 1])
  local fam = string.sub(f, 1, 2)
  if (fam == 'r:' or fam == 'n:') and redis.call('HEXISTS', key, f) == 0 then
    local c = '#' .. fam
    if tonumber(redis.call('HGET', key, c) or '0') >= max then f = fam .. '(other)' end
    if redis.call('HEXISTS', key, f) == 0 then redis.call('HINCRBY', key, c, 1) end
  end
  redis.call('HINCRBY', key, f, n)
end
redis.call('PEXPIRE', key, ttl)
return 0
`,
)

/** The buckets asked for and the totals. ARGV: prefix, bucket starts… → {totals hash, bucket hashes…} */
export const READ_COUNTS = script(
  'console-read-counts',
  `
local P = ARGV[1]
local out = {redis.call('HGETALL', P .. 'c:tot')}
for i = 2, #ARGV do out[#out + 1] = redis.call('HGETALL', P .. 'c:b:' .. ARGV[i]) end
return out
`,
)

/**
 * A redrive of dead letters recorded in the console records (FindingRecord.deadLettered): per
 * finding, when its record's revision is still the one read and its merged aggregate is still in
 * the store, write the record without the redriven sinks' dead letters and queue the finding, due
 * now, in those sinks' shared queues — one step, so of two replicas redriving the same letter at
 * once exactly one queues it (the other's revision is stale; it reads again and finds no letter).
 * ARGV: prefix, stream maxlen, then per finding: id, revision read, JSON, sinks to queue ("\n"-joined)
 * → {ids queued, ids whose revision moved (read again), ids whose aggregate is gone}
 */
export const REDRIVE = script(
  'console-redrive',
  `
local P, maxlen = ARGV[1], ARGV[2]
local rk, vk, bk = P .. 'c:rec', P .. 'c:rev', P .. 'c:bytes'
local queued, conflicts, gone = {}, {}, {}
for i = 3, #ARGV, 4 do
  local id, want, json, sinks = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local rev = redis.call('HGET', vk, id) or '0'
  if rev ~= want then
    conflicts[#conflicts + 1] = id
  elseif redis.call('EXISTS', P .. 'f:' .. id) == 0 then
    gone[#gone + 1] = id
  else
    local before = redis.call('HSTRLEN', rk, id)
    redis.call('HSET', rk, id, json)
    redis.call('HSET', vk, id, tonumber(rev) + 1)
    redis.call('INCRBY', bk, #json - before)
    for s in string.gmatch(sinks, '[^\\n]+') do redis.call('ZADD', P .. 'q:' .. s, 0, id) end
    queued[#queued + 1] = id
  end
end
if #queued > 0 then redis.call('XADD', P .. 'c:chg', 'MAXLEN', '~', maxlen, '*', 'ids', table.concat(queued, '\\n')) end
return {queued, conflicts, gone}
`,
)
