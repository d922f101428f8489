"""Bounded, decaying popularity of the keys of a hot family (Family(hot=True)): one sorted set per family,
key member (Family.member, e.g. the user id of a user's shopping lists) -> score.

Forward decay (Cormode et al.): instead of shrinking every score as time passes, each read adds
2 ** ((now - epoch) / half_life), so a read counts twice as much as one a half-life older and the
ranking is the decayed ranking. The increments grow with time, so once they pass 2 ** RENORMALISE_AFTER
every score is divided by the same power of two and the epoch moves forward (ranks unchanged, no overflow).
Each set is trimmed to HOT_LISTS_TRACKED_MAX members (the coldest go), so memory is bounded.

The recording runs inside the read script (ops.py), in the same round trip as the read of a hot family's key.
"""

import time

from django.conf import settings

from eventcache.declare import Family, Key
from eventcache.store import keys

RENORMALISE_AFTER = 32  # half-lives; 2**32 keeps scores far below a double's limit (2**1024)

# Lua, included in the read script. KEYS[hot_set], KEYS[hot_epoch]; ARGV member, now, half-life, max size.
RECORD_LUA = """
local function record_hot(hot_set, hot_epoch, member, now_text, half_life_text, max_text)
  local now = tonumber(now_text)
  local half_life = tonumber(half_life_text)
  local epoch = tonumber(redis.call('GET', hot_epoch))
  if not epoch then
    epoch = now
    redis.call('SET', hot_epoch, now_text)
  end
  local exponent = (now - epoch) / half_life
  if exponent > %(renormalise_after)d then
    local shift = math.floor(exponent)
    redis.call('ZUNIONSTORE', hot_set, 1, hot_set, 'WEIGHTS', 2 ^ -shift)
    epoch = epoch + shift * half_life
    redis.call('SET', hot_epoch, string.format('%%.3f', epoch))
    exponent = exponent - shift
  end
  redis.call('ZINCRBY', hot_set, 2 ^ exponent, member)
  local extra = redis.call('ZCARD', hot_set) - tonumber(max_text)
  if extra > 0 then
    redis.call('ZREMRANGEBYRANK', hot_set, 0, extra - 1)
  end
end
""" % {"renormalise_after": RENORMALISE_AFTER}  # noqa: UP031 (Lua braces make str.format awkward)

_RECORD_SCRIPT = RECORD_LUA + "record_hot(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\nreturn 1\n"


def script_key_names(family: Family) -> tuple[str, str]:
    """record_hot's keys, unprefixed."""
    return keys.hot_set(family), keys.hot_epoch(family)


def script_args(member: str, now: float | None = None) -> list:
    """ARGV for record_hot: member, now, half-life, bound."""
    return [
        member,
        repr(time.time() if now is None else now),
        repr(float(settings.HOT_LISTS_HALF_LIFE_SECONDS)),
        str(settings.HOT_LISTS_TRACKED_MAX),
    ]


def record(key: Key, *, now: float | None = None) -> None:
    """Count one read of `key` outside a cached read (the read script does it for cached reads)."""
    from eventcache.store import ops

    names = ops.full_names(*script_key_names(key.family))
    ops.run_script(_RECORD_SCRIPT, names, script_args(key.family.member(key), now))


def hottest(family: Family, n: int) -> list[Key]:
    """The family's `n` most read keys (decayed), hottest first."""
    from eventcache.store import ops

    if n <= 0 or not ops.uses_redis():
        return []
    members = ops.connection().zrevrange(ops.full_name(keys.hot_set(family)), 0, n - 1)
    return [family.from_member(member.decode()) for member in members]
