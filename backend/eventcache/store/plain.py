"""The store's operations on the plain Django cache API, for when there is no Redis (no REDIS_URL: a
local-memory cache in one process, events processed inline). Same functions and results as ops.py;
leases are not needed within one process, so every miss gets one and every fill lands.
"""

import re
import time
from collections.abc import Iterable

from django.core.cache import cache

from eventcache import stats
from eventcache.declare import Family, Key
from eventcache.store import keys
from eventcache.store.ops import KEY_TTL, Lease, ReadResult, wrap

_STORED = re.compile(rb'^\{"ns":(\d+),"body":(.*)\}$', re.DOTALL)


def _current_ns(family: Family) -> str:
    name = keys.namespace(family)
    cache.add(name, time.time_ns() // 1000, timeout=None)
    return str(cache.get(name))


def read_or_lease(key: Key, *, count: bool = True) -> ReadResult:
    ns = _current_ns(key.family)
    match = _STORED.match(cache.get(key.name) or b"")
    if match and match.group(1).decode() == ns:
        if count:
            stats.incr(stats.family_counter(key.family.name, stats.HITS))
        return ReadResult(body=match.group(2))
    if count:
        stats.incr(stats.family_counter(key.family.name, stats.MISSES))
    return ReadResult(lease=Lease(token="", ns=ns))


def fill(key: Key, lease: Lease, body: bytes, *, ttl=KEY_TTL, snapshot: str | None = None) -> bool:
    cache.set(key.name, wrap(lease.ns, body), timeout=key.ttl if ttl is KEY_TTL else ttl)
    return True


def fill_many(fills: Iterable[tuple[Key, Lease, bytes]], *, ttl=KEY_TTL, snapshot: str | None = None) -> int:
    return sum(fill(key, lease, body, ttl=ttl) for key, lease, body in fills)


def take_lease(key: Key) -> Lease:
    return Lease(token="", ns=_current_ns(key.family))


def release(key: Key, lease: Lease) -> None:
    pass


def invalidate(keys_to_drop: Iterable[Key], bump_families: Iterable[Family] = (), *, then_publish=(), xids=()) -> None:
    # then_publish is ops.invalidate's: without Redis there is no pub/sub to publish on (the relay has none either).
    # Without leases every invalidation drops everything (xids and snapshots are not needed in one process).
    invalidate_and_lease(keys_to_drop, (), bump_families)


def invalidate_and_lease(
    keys_to_drop: Iterable[Key], lease_keys: Iterable[Key], bump_families: Iterable[Family] = (), *, xids=()
) -> dict[Key, Lease]:
    lease_keys = list(lease_keys)
    cache.delete_many([key.name for key in [*keys_to_drop, *lease_keys]])
    for family in set(bump_families):
        _current_ns(family)
        cache.incr(keys.namespace(family))
    return {key: take_lease(key) for key in lease_keys}


def bump_namespace(family: Family) -> None:
    invalidate((), (family,))


def ping() -> bool:
    return True
