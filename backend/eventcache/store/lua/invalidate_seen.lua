-- uses: all_visible, stored_parts
-- The invalidation of a batch of committed writes whose transaction ids are known (ops.invalidate_and_lease with
-- xids): a value or an in-flight fill computed under a database snapshot that already saw every one of them is
-- kept, so the several passes of one write (the writer's, the listener's, the worker's) cost each key one miss.
-- KEYS[1 .. 2n]            value, lease of each key to drop
-- KEYS[2n+1 .. 2n+2m]      namespace, bumped-xids set of each family to bump
-- KEYS[2n+2m+1 .. +3p]     value, lease, namespace of each key to lease for a re-fill
-- ARGV[1] n   ARGV[2] m   ARGV[3] p
-- ARGV[4] the writes' xids, comma-separated   ARGV[5] fresh ns   ARGV[6] lease ms   ARGV[7] bumped-xids kept
-- ARGV[8 .. 7+p]           the token of each lease
-- ARGV[8+p ..]             channel, message pairs to PUBLISH after the drop
-- A value is deleted unless its snapshot saw every xid; a lease is marked with the xids (its fill decides).
-- A family is bumped unless every xid was already bumped for it (the set keeps the newest ARGV[7] xids).
-- Returns, per re-fill key, the namespace it is leased under, or false when its value is current (not leased).
local n, m, p = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local xids = {}
for xid in string.gmatch(ARGV[4], '%d+') do xids[#xids + 1] = xid end
local mark = '|' .. ARGV[4]

local function current(value_key)
  local raw = redis.call('GET', value_key)
  if not raw then return false end
  local _, _, snapshot = stored_parts(raw)
  return all_visible(snapshot, xids)
end

for i = 1, n do
  local value_key, lease_key = KEYS[2 * i - 1], KEYS[2 * i]
  if not current(value_key) then redis.call('DEL', value_key) end
  if redis.call('EXISTS', lease_key) == 1 then redis.call('APPEND', lease_key, mark) end
end

for i = 1, m do
  local ns_key, bumped_key = KEYS[2 * n + 2 * i - 1], KEYS[2 * n + 2 * i]
  local new = false
  for _, xid in ipairs(xids) do
    if not redis.call('ZSCORE', bumped_key, xid) then new = true end
  end
  if new then
    redis.call('SET', ns_key, ARGV[5], 'NX')
    redis.call('INCR', ns_key)
    for _, xid in ipairs(xids) do redis.call('ZADD', bumped_key, xid, xid) end
    redis.call('ZREMRANGEBYRANK', bumped_key, 0, -tonumber(ARGV[7]) - 1)
  end
end

local leased = {}
local base = 2 * n + 2 * m
for i = 1, p do
  local value_key, lease_key, ns_key = KEYS[base + 3 * i - 2], KEYS[base + 3 * i - 1], KEYS[base + 3 * i]
  if current(value_key) then
    leased[i] = false
  else
    redis.call('DEL', value_key)
    redis.call('SET', lease_key, ARGV[7 + i], 'PX', ARGV[6])
    redis.call('SET', ns_key, ARGV[5], 'NX')
    leased[i] = redis.call('GET', ns_key)
  end
end

for i = 8 + p, #ARGV - 1, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return leased
