-- Library function (needs current_ns, record_hot, stored_parts): the read of one key, shared by read.lua and
-- authenticated_read.lua. Its k and a are a script's KEYS and ARGV for that key:
--   k[1] value       k[2] lease       k[3] namespace      k[4] stats hash
--   [k[5] hot set    k[6] hot epoch]  (only for a counted read of a hot family's key)
--   a[1] token       a[2] lease ms    a[3] fresh ns       a[4] family name
--   a[5] count: '1' counts the hit or miss (and hotness); polls pass '0'
--   [a[6..10] record_hot's member, now, half-life, bound, renormalise-after]  (with k[5], k[6])
-- Returns {1, body} on a hit, {2, ns} when the caller got the lease, {3} while someone else holds it.
local function read_or_lease(k, a)
  local ns = current_ns(k[3], a[3])
  local counting = a[5] == '1'
  if counting and k[5] then
    record_hot(k[5], k[6], a[6], a[7], a[8], a[9], a[10])
  end
  local raw = redis.call('GET', k[1])
  if raw then
    local prefix, stored_ns = stored_parts(raw)
    if stored_ns == ns then
      if counting then redis.call('HINCRBY', k[4], a[4] .. ':hits', 1) end
      return {1, string.sub(raw, #prefix + 1, -2)}
    end
  end
  if counting then redis.call('HINCRBY', k[4], a[4] .. ':misses', 1) end
  if redis.call('SET', k[2], a[1], 'NX', 'PX', a[2]) then
    return {2, ns}
  end
  return {3}
end
