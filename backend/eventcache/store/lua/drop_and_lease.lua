-- uses: all_visible, stored_parts
-- On a Redis Cluster, the re-fill lease of one key in an invalidation (store/cluster.py): what the lease part of
-- ops.invalidate_and_lease does for the key, with its family's namespace version passed in (read after the bumps,
-- in another slot). Dropping the value and setting the lease are one step: no reader sees the key gone unleased.
-- KEYS[1] value   KEYS[2] lease
-- ARGV[1] token   ARGV[2] lease ms   ARGV[3] the namespace version the lease is taken under
-- ARGV[4] the writes' xids, comma-separated ('' : none known, always drop)
-- Returns the namespace version when leased, false when the value already saw every xid (kept, not leased).
if ARGV[4] ~= '' then
  local raw = redis.call('GET', KEYS[1])
  if raw then
    local xids = {}
    for xid in string.gmatch(ARGV[4], '%d+') do xids[#xids + 1] = xid end
    local _, _, snapshot = stored_parts(raw)
    if all_visible(snapshot, xids) then return false end
  end
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return ARGV[3]
