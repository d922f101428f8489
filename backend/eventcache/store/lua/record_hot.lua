-- Library function (no KEYS/ARGV of its own): count one read of a hot family's key, forward-decayed
-- (eventcache/store/hotness.py explains the arithmetic).
--   hot_set, hot_epoch  the family's sorted set and its epoch key
--   member              the key's member in the set
--   now_text            now, Unix seconds
--   half_life_text      the decay's half-life, seconds
--   max_text            how many members the set keeps (the coldest go)
--   renormalise_text    after how many half-lives every score is scaled down and the epoch moved
local function record_hot(hot_set, hot_epoch, member, now_text, half_life_text, max_text, renormalise_text)
  local now = tonumber(now_text)
  local half_life = tonumber(half_life_text)
  local epoch = tonumber(redis.call('GET', hot_epoch))
  if not epoch then
    epoch = now
    redis.call('SET', hot_epoch, now_text)
  end
  local exponent = (now - epoch) / half_life
  if exponent > tonumber(renormalise_text) then
    local shift = math.floor(exponent)
    redis.call('ZUNIONSTORE', hot_set, 1, hot_set, 'WEIGHTS', 2 ^ -shift)
    epoch = epoch + shift * half_life
    redis.call('SET', hot_epoch, string.format('%.3f', epoch))
    exponent = exponent - shift
  end
  redis.call('ZINCRBY', hot_set, 2 ^ exponent, member)
  local extra = redis.call('ZCARD', hot_set) - tonumber(max_text)
  if extra > 0 then
    redis.call('ZREMRANGEBYRANK', hot_set, 0, extra - 1)
  end
end
