-- Store a computed value only while the caller's lease still holds, then release the lease (ops.fill).
-- KEYS[1] value   KEYS[2] lease
-- ARGV[1] token   ARGV[2] the stored value   ARGV[3] ttl ms ('0': no expiry)
-- Returns 1 when stored, 0 when the lease was voided (an invalidation) or taken over (expired).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
return 1
