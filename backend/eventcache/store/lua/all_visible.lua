-- Library function (no KEYS/ARGV of its own): PostgreSQL's visibility of committed write transactions in the
-- database snapshot a value or a fill was computed under (pg_visible_in_snapshot's rule).
--   snapshot  pg_current_snapshot() as text, 'xmin:xmax:xip1,xip2,...' (xid8 values; exact in Lua's doubles
--             below 2^53, i.e. for any epoch below 2^21)
--   xids      the committed writes' transaction ids, as strings
-- Returns true only when every xid is visible: xid < xmin, or xid < xmax and not in progress (not in xip).
-- A missing or unreadable snapshot sees nothing, so the caller voids as it always did.
local function all_visible(snapshot, xids)
  if not snapshot then return false end
  local xmin_text, xmax_text, xip_text = string.match(snapshot, '^(%d+):(%d+):([%d,]*)$')
  if not xmin_text then return false end
  local xmin, xmax = tonumber(xmin_text), tonumber(xmax_text)
  local in_progress = nil
  for _, xid_text in ipairs(xids) do
    local xid = tonumber(xid_text)
    if not xid then return false end
    if xid >= xmin then
      if xid >= xmax then return false end
      if not in_progress then
        in_progress = {}
        for running in string.gmatch(xip_text, '%d+') do in_progress[tonumber(running)] = true end
      end
      if in_progress[xid] then return false end
    end
  end
  return true
end
