"""Bounded, decaying popularity of the keys of a hot family (Family(hot=True)): one sorted set per family,
key member (Family.member, e.g. the user id of a user's shopping lists) -> score.

Forward decay (Cormode et al.): instead of shrinking every score as time passes, each read adds
2 ** ((now - epoch) / half_life), so a read counts twice as much as one a half-life older and the
ranking is the decayed ranking. The increments grow with time, so once they pass 2 ** RENORMALISE_AFTER
every score is divided by the same power of two and the epoch moves forward (ranks unchanged, no overflow).
Each set is trimmed to HOT_LISTS_TRACKED_MAX members (the coldest go), so memory is bounded.

The recording is lua/record_hot.lua, run inside the read script (lua/read_or_lease.lua), in the same round trip
as the read of a hot family's key.
"""

import time

from django.conf import settings

from eventcache.declare import Family, Key
from eventcache.store import keys

RENORMALISE_AFTER = 32  # half-lives; 2**32 keeps scores far below a double's limit (2**1024)


def script_key_names(family: Family) -> tuple[str, str]:
    """record_hot's keys, unprefixed."""
    return keys.hot_set(family), keys.hot_epoch(family)


def script_args(member: str, now: float | None = None) -> list:
    """record_hot's arguments: member, now, half-life, bound, renormalise-after."""
    return [
        member,
        repr(time.time() if now is None else now),
        repr(float(settings.HOT_LISTS_HALF_LIFE_SECONDS)),
        str(settings.HOT_LISTS_TRACKED_MAX),
        str(RENORMALISE_AFTER),
    ]


def record(key: Key, *, now: float | None = None) -> None:
    """Count one read of `key` outside a cached read (the read script does it for cached reads)."""
    from eventcache.store import ops

    names = ops.full_names(*script_key_names(key.family))
    ops.run_script("record_hot_read", names, script_args(key.family.member(key), now))


def hottest(family: Family, n: int) -> list[Key]:
    """The family's `n` most read keys (decayed), hottest first."""
    from eventcache.store import ops

    if n <= 0 or not ops.uses_redis():
        return []
    members = ops.connection().zrevrange(ops.full_name(keys.hot_set(family)), 0, n - 1)
    return [family.from_member(member.decode()) for member in members]
