-- Library function (no KEYS/ARGV of its own): the parts of a stored_parts value, `{"ns":N[,"snap":"S"],"body":B}`.
--   raw  the stored bytes
-- Returns the text before the body (its length locates the body), the namespace version, and the database
-- snapshot the value was computed under (nil for a value stored without one).
local function stored_parts(raw)
  local prefix, ns, rest = string.match(raw, '^({"ns":(%d+),([%w":,]-)"body":)')
  if not prefix then return nil end
  return prefix, ns, string.match(rest, '^"snap":"([%d:,]+)",$')
end
