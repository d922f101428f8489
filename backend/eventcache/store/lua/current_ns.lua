-- Library function (no KEYS/ARGV of its own): the family's namespace version, created from `fresh` when missing.
--   ns_key  the family's `ns:{family}` key
--   fresh   a microsecond timestamp: a re-created version is never one an older value was stored under
local function current_ns(ns_key, fresh)
  local ns = redis.call('GET', ns_key)
  if not ns then
    ns = fresh
    redis.call('SET', ns_key, ns)
  end
  return ns
end
