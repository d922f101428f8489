-- uses: current_ns
-- A lease on a key without touching its value, for a refresh ahead of expiry (ops.take_lease).
-- KEYS[1] lease   KEYS[2] namespace
-- ARGV[1] token   ARGV[2] lease ms   ARGV[3] fresh ns
-- Returns the namespace version when the lease is the caller's, nil when someone else holds it.
local ns = current_ns(KEYS[2], ARGV[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return ns
end
return false
