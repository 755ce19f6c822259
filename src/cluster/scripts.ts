import { script } from './store.js'

/**
 * The shared store's atomic steps, as Lua run by the server (EVALSHA). Each is one round trip and
 * all-or-nothing, which is what makes a replay after a crash harmless. Keys all start with the
 * prefix passed as ARGV[1] (one hash tag); the layout, for docs/scale-out.md:
 *   hwm            hash  replica id → the highest local sequence merged (the idempotence mark)
 *   f:<id>         hash  a finding's merged aggregate (count, first/last observed, severity, event…)
 *   fp:<id> fc:<id> set  distinct pods / containers (bounded, as in one process)
 *   d:<id>         hash  sink → "lastSentAt|countThen|versionThen"
 *   q:<sink>       zset  findings a sink owes, scored by the time they are due
 *   last           zset  findings by when they last changed, on falconet's clock (the window's expiry)
 *   seen           zset  audit occurrence keys merged (an auditID is counted once cluster-wide)
 *   lease:<name>   string the holder of a leadership lease; fence:<name> its fencing counter
 *   audit-checkpoint:<group>  string the audit pollers' checkpoint (fenced)
 *   audit-state:<group>, audit-windows:<group>  hash  the audit detectors' state as of that checkpoint
 *   rl:<name>      hash  a token bucket
 */

const HELPERS = `
local function split(s)
  local t = {}
  if s and s ~= '' then for x in string.gmatch(s, '[^\\n]+') do t[#t + 1] = x end end
  return t
end
local function has(t, v)
  for _, x in ipairs(t) do if x == v then return true end end
  return false
end
local function addBounded(key, names, max)
  for _, n in ipairs(names) do
    if redis.call('SCARD', key) < max then redis.call('SADD', key, n) end
  end
end
local function lastSentAt(rec)
  if not rec then return nil end
  return tonumber(string.match(rec, '^(%d+)'))
end
`

/**
 * Merge one replica's batch of occurrence deltas (local sequences fromSeq..toSeq) into the shared
 * aggregates, queue every changed finding for every sink (each sink's drainer applies the routes),
 * and move the replica's high-water mark — or do nothing and answer {-1, hwm} when the batch starts
 * at or below the mark (already merged: a replay).
 * ARGV: prefix, replica, fromSeq, toSeq, windowMs, nowMs, seenTtlMs, sinks JSON [{id,resend}], items JSON, maxNames
 */
export const MERGE = script(
  'merge',
  `${HELPERS}
local P, replica = ARGV[1], ARGV[2]
local fromSeq, toSeq = tonumber(ARGV[3]), ARGV[4]
local windowMs, now, seenTtl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local sinks, items, maxNames = cjson.decode(ARGV[8]), cjson.decode(ARGV[9]), tonumber(ARGV[10])
local hwm = tonumber(redis.call('HGET', KEYS[1], replica) or '0')
if fromSeq <= hwm then return {-1, hwm} end

local touched, applied, skipped = {}, 0, 0
local function merge(d)
  local id = d.id
  local fk, pk, ck = P .. 'f:' .. id, P .. 'fp:' .. id, P .. 'fc:' .. id
  local cur = redis.call('HMGET', fk, 'n', 'fm', 'lm', 'l', 'sev', 'v', 'um', 'arch', 'samples', 'aids', 'cm')
  local v = tonumber(cur[6] or '0') + 1
  local prevUm = tonumber(cur[7] or '0')
  -- UpdatedAt on falconet's clock: when the change was received, never before the first
  -- occurrence, always at least 1 ms after the previous version's (Security Hub ignores others).
  local um = math.max(d.cm, d.fm, prevUm + 1)
  if d.archive then
    -- A resolution (the monitor's recovery note): only an active finding is archived.
    if not cur[1] or cur[8] == '1' then return false end
    redis.call('HSET', fk, 'ev', d.ev, 'arch', '1', 'v', v, 'um', um, 'cm', d.cm)
    return true
  end
  -- Idle is measured on falconet's clock (when occurrences were received), as in one process.
  local changed = tonumber(cur[11] or cur[3] or '0')
  if not cur[1] or d.cm - changed > windowMs then
    -- New, or idle past the window: counting starts again under the same Id.
    redis.call('DEL', fk, pk, ck)
    redis.call('HSET', fk, 'n', d.n, 'f', d.f, 'fm', d.fm, 'l', d.l, 'lm', d.lm, 'sev', d.sev, 'sl', d.sl, 'ev', d.ev,
      'v', v, 'um', um, 'cm', d.cm, 'arch', '0', 'samples', table.concat(d.samples, '\\n'), 'aids', table.concat(d.aids, '\\n'))
    addBounded(pk, d.pods, maxNames)
    addBounded(ck, d.ctrs, maxNames)
    redis.call('ZADD', P .. 'last', d.cm, id)
    return true
  end
  redis.call('HINCRBY', fk, 'n', d.n)
  if d.fm < tonumber(cur[2]) then redis.call('HSET', fk, 'f', d.f, 'fm', d.fm) end
  if d.l >= cur[4] then redis.call('HSET', fk, 'l', d.l, 'lm', d.lm, 'ev', d.ev) end
  if d.sev > tonumber(cur[5]) then redis.call('HSET', fk, 'sev', d.sev, 'sl', d.sl) end
  local samples = split(cur[9])
  for _, s in ipairs(d.samples) do if #samples < 5 and not has(samples, s) then samples[#samples + 1] = s end end
  local aids = {}
  for _, a in ipairs(split(cur[10])) do if not has(d.aids, a) then aids[#aids + 1] = a end end
  for _, a in ipairs(d.aids) do aids[#aids + 1] = a end
  while #aids > 10 do table.remove(aids, 1) end
  local cm = math.max(changed, d.cm)
  redis.call('HSET', fk, 'v', v, 'um', um, 'cm', cm, 'arch', '0', 'samples', table.concat(samples, '\\n'), 'aids', table.concat(aids, '\\n'))
  addBounded(pk, d.pods, maxNames)
  addBounded(ck, d.ctrs, maxNames)
  redis.call('ZADD', P .. 'last', cm, id)
  return true
end

for _, it in ipairs(items) do
  local dup = false
  if it.once then
    for _, k in ipairs(it.once) do if redis.call('ZSCORE', P .. 'seen', k) then dup = true end end
  end
  if dup then
    skipped = skipped + 1
  else
    if it.once then for _, k in ipairs(it.once) do redis.call('ZADD', P .. 'seen', now, k) end end
    if merge(it) then touched[it.id] = true end
    applied = applied + 1
  end
end

for id in pairs(touched) do
  local dk = P .. 'd:' .. id
  for _, s in ipairs(sinks) do
    local qk = P .. 'q:' .. s.id
    if not redis.call('ZSCORE', qk, id) then
      local at = lastSentAt(redis.call('HGET', dk, s.id))
      redis.call('ZADD', qk, at and (at + s.resend) or 0, id)
    end
  end
end
redis.call('HSET', KEYS[1], replica, toSeq)
if seenTtl > 0 then redis.call('ZREMRANGEBYSCORE', P .. 'seen', '-inf', now - seenTtl) end
return {applied, skipped}
`,
)

/**
 * Lease step for one holder: acquire when free (a new fencing token), renew when held, else
 * report who holds it. Returns {1, fence} or {0, pttl}.
 * KEYS[1] lease key, KEYS[2] fence counter; ARGV: holder, ttlMs
 */
const LEASE_STEP = `
local function lease(lk, fk, holder, ttl)
  local cur = redis.call('GET', lk)
  if cur and cur ~= holder then return {0, redis.call('PTTL', lk)} end
  if not cur then
    redis.call('SET', lk, holder, 'PX', ttl)
    return {1, redis.call('INCR', fk)}
  end
  redis.call('PEXPIRE', lk, ttl)
  return {1, tonumber(redis.call('GET', fk) or '0')}
end
`

export const LEASE = script('lease', `${LEASE_STEP}\nreturn lease(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))`)

export const RELEASE = script('release', `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

/**
 * A sink's drainer: hold the sink's lease (one drainer per sink cluster-wide, so grouping and
 * pacing are those of one process), then take what is due, most overdue first.
 * KEYS: lease, fence; ARGV: prefix, sink, holder, ttlMs, nowMs, limit
 * Returns {0, pttl} when another replica drains this sink, else {1, fence, pending, nextDueAt, entries}
 * with entries {id, hash fields…, distinct pods, distinct containers}.
 */
export const TAKE = script(
  'take',
  `${LEASE_STEP}
local P, sink, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local held = lease(KEYS[1], KEYS[2], ARGV[3], tonumber(ARGV[4]))
if held[1] == 0 then return held end
local qk = P .. 'q:' .. sink
local out = {}
if limit > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', qk, '-inf', now, 'LIMIT', 0, limit)) do
    local h = redis.call('HGETALL', P .. 'f:' .. id)
    if #h == 0 then
      redis.call('ZREM', qk, id)
    else
      out[#out + 1] = {id, h, redis.call('SCARD', P .. 'fp:' .. id), redis.call('SCARD', P .. 'fc:' .. id)}
    end
  end
end
local nxt = redis.call('ZRANGEBYSCORE', qk, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {1, held[2], redis.call('ZCARD', qk), nxt[2] or '', out}
`,
)

/**
 * A sink delivered these versions: record when and at what count; a finding that changed since
 * stays queued, due after the resend interval. Returns the occurrences each delivery covered.
 * ARGV: prefix, sink, nowMs, resendMs, items JSON [[id, version], …]
 */
export const ACK = script(
  'ack',
  `
local P, sink, now, resend = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local qk = P .. 'q:' .. sink
local covered = {}
for i, it in ipairs(cjson.decode(ARGV[5])) do
  local id, ver = it[1], it[2]
  local cur = redis.call('HMGET', P .. 'f:' .. id, 'v', 'n')
  local dk = P .. 'd:' .. id
  local rec = redis.call('HGET', dk, sink)
  local before = 0
  if rec then before = tonumber(string.match(rec, '^%d+|(%d+)')) or 0 end
  local count = tonumber(cur[2] or '0')
  covered[i] = math.max(0, count - before)
  if cur[1] then
    redis.call('HSET', dk, sink, string.format('%d|%d|%d', now, count, ver))
    if tonumber(cur[1]) ~= ver then redis.call('ZADD', qk, now + resend, id) else redis.call('ZREM', qk, id) end
  else
    redis.call('ZREM', qk, id)
  end
end
return covered
`,
)

/**
 * Out of a sink's queue without delivery (dead-lettered, or not routed to it): unless the finding
 * changed since, in which case its new version is still owed.
 * ARGV: prefix, sink, items JSON [[id, version], …]
 */
export const DISCARD = script(
  'discard',
  `
local P, sink = ARGV[1], ARGV[2]
local qk = P .. 'q:' .. sink
for _, it in ipairs(cjson.decode(ARGV[3])) do
  local v = redis.call('HGET', P .. 'f:' .. it[1], 'v')
  if not v or tonumber(v) == it[2] then redis.call('ZREM', qk, it[1]) end
end
return 0
`,
)

/**
 * The window's end, cluster-wide (any replica may run it; it is idempotent): a finding idle past
 * the cutoff with nothing queued gets a last, archived version for the lifecycle sinks that
 * delivered it (Security Hub → ARCHIVED, PagerDuty → resolve); once that is delivered, or when no
 * such sink had it, it is forgotten and a repeat starts a new count.
 * ARGV: prefix, cutoffMs, nowMs, limit, sinks JSON [{id, resend, lifecycle}]
 */
export const EXPIRE = script(
  'expire',
  `${HELPERS}
local P, cutoff, now, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local sinks = cjson.decode(ARGV[5])
local removed, archived = 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'last', '-inf', cutoff, 'LIMIT', 0, limit)) do
  local queued = false
  for _, s in ipairs(sinks) do if redis.call('ZSCORE', P .. 'q:' .. s.id, id) then queued = true end end
  if not queued then
    local fk, dk = P .. 'f:' .. id, P .. 'd:' .. id
    local cur = redis.call('HMGET', fk, 'arch', 'v', 'um')
    local to = {}
    if cur[1] and cur[1] ~= '1' then
      for _, s in ipairs(sinks) do
        if s.lifecycle and redis.call('HEXISTS', dk, s.id) == 1 then to[#to + 1] = s end
      end
    end
    if #to > 0 then
      local um = math.max(now, tonumber(cur[3]) + 1)
      redis.call('HSET', fk, 'arch', '1', 'v', tonumber(cur[2]) + 1, 'um', um)
      for _, s in ipairs(to) do
        local at = lastSentAt(redis.call('HGET', dk, s.id))
        redis.call('ZADD', P .. 'q:' .. s.id, at and (at + s.resend) or 0, id)
      end
      archived = archived + 1
    else
      redis.call('DEL', fk, P .. 'fp:' .. id, P .. 'fc:' .. id, dk)
      redis.call('ZREM', P .. 'last', id)
      removed = removed + 1
    end
  end
end
return {removed, archived}
`,
)

/**
 * A token bucket shared by every replica (Security Hub's quota is per account and region, a Slack
 * webhook's per webhook), on the server's clock. Takes a token and returns 0, or returns the
 * milliseconds until one is free. KEYS[1] bucket; ARGV: perSecond, burst
 */
export const TOKEN = script(
  'token',
  `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`,
)

/**
 * Newest-wins last-seen times of sources, cluster-wide: raise each to the given time, drop those
 * older than the cutoff (forgotten), answer every known one. KEYS[1] hash; ARGV: cutoffMs,
 * identity, ms, identity, ms, …
 */
export const SIGHTINGS = script(
  'sightings',
  `
local cutoff = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < cutoff then redis.call('HDEL', KEYS[1], all[i]) else out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
end
return out
`,
)

/**
 * The audit poller's checkpoint, written only by the holder of the current fencing token: a
 * deposed leader that wakes up late cannot move it back. With it, in the same step, the audit
 * detectors' state as of that checkpoint: durable writes (first-seen baselines, aws-auth content)
 * and the 401/403 windows that moved, so a poller taking over starts from exactly what the
 * checkpoint covers. The windows' hash is dropped when it passes 100,000 keys (as one process
 * resets its counters on a flood of new keys).
 * KEYS: checkpoint, fence[, state, windows]; ARGV: token, value[, number of state fields, then
 * field/value pairs: the state's, then the windows']
 */
export const CHECKPOINT = script(
  'checkpoint',
  `
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[3] then
  local nState = tonumber(ARGV[3])
  local i = 4
  for _ = 1, nState do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]); i = i + 2 end
  if i <= #ARGV and redis.call('HLEN', KEYS[4]) > 100000 then redis.call('DEL', KEYS[4]) end
  while i <= #ARGV do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]); i = i + 2 end
end
return 1
`,
)
