-- uses: lease_marks
-- Give a lease back (the computation failed), so waiters need not wait it out (ops.release).
-- KEYS[1] lease
-- ARGV[1] token
-- Returns 1 when the lease was the caller's and is gone, else 0.
if lease_marks(redis.call('GET', KEYS[1]), ARGV[1]) then
  return redis.call('DEL', KEYS[1])
end
return 0
