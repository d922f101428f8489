-- Give a role lease up (a clean stop), so a stand-by takes the role at its next try instead of after the term.
-- KEYS[1] the role's lease key
-- ARGV[1] the holder's token
-- Returns 1 when the caller held it and it is gone, else 0 (another holder's lease is left alone).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
