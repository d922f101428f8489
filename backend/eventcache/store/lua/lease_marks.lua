-- Library function (no KEYS/ARGV of its own): a lease is its holder's token, followed by one '|xid,xid,...'
-- mark per invalidation that found it in flight with write transaction ids; a drop without them deletes it.
--   lease  the lease key's value
--   token  the holder's token
-- Returns nil when the lease is not the holder's, else the list of marked xids (possibly empty).
local function lease_marks(lease, token)
  if not lease or string.sub(lease, 1, #token) ~= token then return nil end
  local rest = string.sub(lease, #token + 1)
  if rest ~= '' and string.sub(rest, 1, 1) ~= '|' then return nil end
  local xids = {}
  for xid in string.gmatch(rest, '%d+') do xids[#xids + 1] = xid end
  return xids
end
