-- uses: stored_parts
-- On a Redis Cluster, the per-key half of a cached read (store/cluster.py): read_or_lease.lua with the namespace
-- version passed in (read first by family_read.lua, in another slot) instead of read here.
-- KEYS[1] value   KEYS[2] lease
-- ARGV[1] token   ARGV[2] lease ms   ARGV[3] the family's namespace version
-- Returns {1, body} on a hit, {2, ns} when the caller got the lease, {3} while someone else holds it.
local raw = redis.call('GET', KEYS[1])
if raw then
  local prefix, stored_ns = stored_parts(raw)
  if stored_ns == ARGV[3] then
    return {1, string.sub(raw, #prefix + 1, -2)}
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2, ARGV[3]}
end
return {3}
