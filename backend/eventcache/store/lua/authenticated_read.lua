-- uses: current_ns, record_hot, stored_parts, read_or_lease
-- A logged-in caller's cached read in one round trip (ops.read_authenticated): the cached_db session, the
-- caller's identity and the value. Each read is read_or_lease, so leases, hit/miss counts and hotness are
-- exactly those of separate reads.
-- KEYS[1]      the session
-- KEYS[2..5]   the identity key's k (read_or_lease.lua)
-- KEYS[6..]    the value key's k, 4 or 6 keys (absent: no value asked for)
-- ARGV[1]      the user id the caller expects, decimal
-- ARGV[2..6]   the identity key's a
-- ARGV[7..]    the value key's a, 5 or 10 args
-- Returns {session} when the session is missing or does not name that user (nothing else was read);
-- {session, identity} when no value was asked for, or the identity is not a current hit that is active and
-- carries the session's auth hash (the value was not read); else {session, identity, value}.
-- The two checks only keep the script from reading (counting, leasing, recording hotness of) keys of a user
-- the session does not belong to; the caller verifies everything itself before serving anything.
local function slice(t, from, to)
  local out = {}
  for i = from, to do out[#out + 1] = t[i] end
  return out
end
local session = redis.call('GET', KEYS[1])
if not session then
  return {false}
end
local ok, data = pcall(cjson.decode, session)
if not ok or type(data) ~= 'table' or data['_auth_user_id'] ~= ARGV[1] then
  return {session}
end
local identity = read_or_lease(slice(KEYS, 2, 5), slice(ARGV, 2, 6))
if #KEYS == 5 or identity[1] ~= 1 then
  return {session, identity}
end
local ok_who, who = pcall(cjson.decode, identity[2])
if not ok_who or type(who) ~= 'table' or who['is_active'] ~= true or type(who['session_hash']) ~= 'string'
    or who['session_hash'] ~= data['_auth_user_hash'] then
  return {session, identity}
end
return {session, identity, read_or_lease(slice(KEYS, 6, #KEYS), slice(ARGV, 7, #ARGV))}
