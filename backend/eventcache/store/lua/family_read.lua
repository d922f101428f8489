-- uses: current_ns, record_hot
-- On a Redis Cluster, the family-wide half of a cached read (store/cluster.py): the namespace version, and the read
-- counted in the family's hot set. These keys share the family's hash tag (`ns:{recipe}`, `hot:{recipe}`), so they
-- are one slot, apart from the value's.
-- KEYS[1] namespace   [KEYS[2] hot set   KEYS[3] hot epoch]  (only for a counted read of a hot family's key)
-- ARGV[1] fresh ns    [ARGV[2..6] record_hot's member, now, half-life, bound, renormalise-after]  (with KEYS[2..3])
-- Returns the namespace version.
if KEYS[2] then
  record_hot(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
end
return current_ns(KEYS[1], ARGV[1])
