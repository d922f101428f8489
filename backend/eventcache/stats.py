"""Counters of the cache layer, shared by every process through one Redis hash (keys.STATS).

Names are flat strings: per key family `"{family}:{what}"` (hits, misses, computations, lease_waits,
lease_wait_timeouts), and global ones such as `redis_errors`, `events_seen`, `events_rejected`.
Hits and misses are counted inside the read script itself (same round trip as the read).

When Redis cannot be reached the count is kept in this process instead (that is how `redis_errors` is
counted), and `snapshot()` adds the in-process counts to the shared ones.

`memory_warnings()` says what an operator must act on in Redis's memory figures (`manage.py cache_stats`).
"""

import threading
from collections import Counter

from django.dispatch import Signal
from redis.exceptions import RedisError

from eventcache.store import keys

HITS = "hits"
MISSES = "misses"
COMPUTATIONS = "computations"
LEASE_WAITS = "lease_waits"
LEASE_WAIT_TIMEOUTS = "lease_wait_timeouts"
REDIS_ERRORS = "redis_errors"
EVENTS_SEEN = "events_seen"
EVENTS_REJECTED = "events_rejected"
# Events whose dependents were looked up (rules.resolve), per caller: "listener" (the drop on publish), "task" (a
# worker's batch, backlog included), "writer" (the web process applying the outbox inline after a Redis outage).
# With K workers the listener's count stays at one per event (consume/lease.py); the task's is one per outbox row.
LOOKUPS_PREFIX = "dependents_lookups:"
LOOKUP_BY = ("listener", "task", "writer")

NO_EVICTION = "noeviction"

_local: Counter[str] = Counter()
_local_lock = threading.Lock()

# Sent with (name, n) for each count kept in this process (Redis did not answer, or is not configured), so an
# observer (observe.metrics) can export what no shared hash holds. Receivers must not raise.
counted_locally = Signal()


def family_counter(family_name: str, what: str) -> str:
    return f"{family_name}:{what}"


def lookups(by: str) -> str:
    """The counter of events whose dependents `by` looked up."""
    return f"{LOOKUPS_PREFIX}{by}"


def incr_local(name: str, n: int = 1) -> None:
    with _local_lock:
        _local[name] += n
    counted_locally.send(sender=None, name=name, n=n)


def incr(name: str, n: int = 1) -> None:
    """Count `n` more of `name` in the shared hash; in this process only when Redis is unavailable."""
    from eventcache.store import ops  # store imports keys only; imported here to keep this module import-light

    if not ops.uses_redis():
        incr_local(name, n)
        return
    try:
        ops.connection().hincrby(ops.full_name(keys.STATS), name, n)
    except RedisError:
        incr_local(name, n)


def incr_many(counts: dict[str, int]) -> None:
    """incr for several counters in one round trip (the listener counts on its hot path)."""
    from eventcache.store import ops

    if not ops.uses_redis():
        for name, n in counts.items():
            incr_local(name, n)
        return
    try:
        pipe = ops.connection().pipeline(transaction=False)
        stats_key = ops.full_name(keys.STATS)
        for name, n in counts.items():
            pipe.hincrby(stats_key, name, n)
        pipe.execute()
    except RedisError:
        for name, n in counts.items():
            incr_local(name, n)


def snapshot() -> dict[str, int]:
    """Every counter: the shared ones from Redis (if it answers) plus this process's own."""
    from eventcache.store import ops

    counts: Counter[str] = Counter()
    if ops.uses_redis():
        try:
            shared = ops.connection().hgetall(ops.full_name(keys.STATS))
            counts.update({_text(name): int(value) for name, value in shared.items()})
        except RedisError:
            pass
    with _local_lock:
        counts.update(_local)
    return dict(counts)


def per_family(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """{"recipe": {"hits": 3, "misses": 1, ...}, ...} for every family the domain declares."""
    from eventcache import declare

    result = {}
    for name in declare.domain().families_by_name:
        prefix = f"{name}:"
        result[name] = {k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix)}
    return result


def reset_local() -> None:
    """Forget this process's own counts (tests)."""
    with _local_lock:
        _local.clear()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def memory_warnings(used: int, maxmemory: int, policy: str, ratio: float, *, holds_broker: bool) -> list[str]:
    """What is wrong with Redis's memory, one sentence each: used memory at `ratio` of maxmemory or more (under
    noeviction Redis is about to refuse writes: every read a miss, logins 503), or a maxmemory-policy that may
    evict keys the cache's correctness needs (namespace versions, leases, the hot set; the broker's queue when
    it shares the server). Nothing when maxmemory is 0 (unlimited: the policy never applies)."""
    if not maxmemory:
        return []
    warnings = []
    if used >= ratio * maxmemory:
        warnings.append(
            f"used_memory is {used / maxmemory:.0%} of maxmemory ({used} of {maxmemory} bytes, warned from "
            f"{ratio:.0%}): under noeviction Redis is about to refuse writes; raise maxmemory or find what grew"
        )
    if policy != NO_EVICTION:
        held = "the cache's bookkeeping (namespace versions, leases, hot sets)"
        if holds_broker:
            held += " and the Celery broker's queue"
        warnings.append(f"maxmemory-policy {policy} can evict {held}; this project needs {NO_EVICTION} (README)")
    return warnings
