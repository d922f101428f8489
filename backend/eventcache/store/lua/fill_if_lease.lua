-- uses: all_visible, lease_marks
-- Store a computed value only while the caller's lease still holds, then release the lease (ops.fill).
-- KEYS[1] value   KEYS[2] lease
-- ARGV[1] token   ARGV[2] the stored value   ARGV[3] ttl ms ('0': no expiry)
-- ARGV[4] the database snapshot the value was computed under ('' when unknown)
-- A lease marked by invalidations (lease_marks.lua) still holds only if the snapshot saw every marked write.
-- Returns 1 when stored, 0 when the lease was voided (an invalidation) or taken over (expired).
local marks = lease_marks(redis.call('GET', KEYS[2]), ARGV[1])
if not marks then
  return 0
end
if #marks > 0 and not all_visible(ARGV[4], marks) then
  redis.call('DEL', KEYS[2])
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
return 1
