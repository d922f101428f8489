-- Take a role lease if it is free, or keep it for another term if it is the caller's (consume/lease.py: the one
-- listener that drops on publish, the one beat).
-- KEYS[1] the role's lease key
-- ARGV[1] the caller's token
-- ARGV[2] the term in milliseconds
-- Returns 1 when the caller holds the role until now + term, else 0 (another holder's lease is left alone).
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
