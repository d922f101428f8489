"""Cached reads: `read(key, compute)` serves the stored API body, or lets exactly one caller compute it.

    read(key, compute, *, first=None) -> CacheRead(body: bytes, hit: bool)

`compute()` returns the JSON-ready payload; `body` is its compact JSON encoding, sent by the API as is.
`first` is the result of this key's read-or-lease when it was already done in a combined round trip
(read_authenticated: a logged-in caller's session, identity and value at once); it is handled exactly as
the read's own first round trip.

- Hit: one Redis round trip (ops.read_or_lease), no database; for a logged-in API read that one round
  trip also brings the session and the identity (read_authenticated, used by api.identity).
- Miss with the lease: compute, then fill only if the lease still holds (an invalidation in between voids
  it, so a value read from the database before a write can never land after that write's invalidation).
- Miss while someone else holds the lease: poll with backoff up to CACHE_LEASE_WAIT_SECONDS for their
  value (served as a hit); after that, compute without filling. One computation per miss.
- Inside a transaction that wrote to captured tables (or one managed by hand): compute from that transaction
  and neither read nor fill the cache - its rows are uncommitted (a rollback would leave a value that never
  existed cached for the TTL) and the cached value predates its own write (cacheops and cachalot refuse to
  cache in a dirty transaction too). A transaction that wrote nothing captured reads and fills as usual.
- Redis failing: log (rate-limited), count in this process, compute from the database - never a 500.
  The process is then "degraded"; the first read after Redis answers again runs the recovery callbacks
  (e.g. delivering events written during the outage) before anything is served from the cache.

Without django-redis (no REDIS_URL) the same calls work on the plain Django cache (eventcache/store/plain.py).
"""

import json
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from redis.exceptions import RedisError

from eventcache import stats
from eventcache.declare import Key
from eventcache.store import ops, plain, snapshots
from eventcache.store.ops import KEY_TTL

log = logging.getLogger("eventcache.store.readthrough")

ERROR_LOG_INTERVAL_SECONDS = 5.0  # at most one "Redis is failing" log line per interval
RECOVERY_PROBE_SECONDS = 1.0  # while degraded, probe Redis at most this often (others go to the database)
POLL_FIRST_DELAY_SECONDS = 0.002
POLL_MAX_DELAY_SECONDS = 0.05


@dataclass(frozen=True)
class CacheRead:
    body: bytes
    hit: bool


class _Health:
    """Process-wide: is Redis failing, when did we last log/probe, and what to run when it is back."""

    def __init__(self):
        self.lock = threading.RLock()  # re-entrant: a recovery callback may note a Redis error
        self.degraded = False
        self.last_log = float("-inf")
        self.last_probe = float("-inf")
        self.callbacks = []


_health = _Health()


def cache_ops():
    """The module doing the cache operations: ops (Redis) or plain (Django's local-memory cache)."""
    return ops if ops.uses_redis() else plain


def encode(payload) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def register_recovery_callback(fn) -> None:
    """Run `fn()` once each time Redis answers again after a failure, before any cached read is served."""
    with _health.lock:
        if fn not in _health.callbacks:
            _health.callbacks.append(fn)


def is_degraded() -> bool:
    return _health.degraded


def note_redis_error(exc: Exception) -> None:
    """Count a Redis failure in this process, log it (rate-limited) and mark the process degraded."""
    stats.incr_local(stats.REDIS_ERRORS)
    now = time.monotonic()
    with _health.lock:
        _health.degraded = True
        _health.last_probe = now
        should_log = now - _health.last_log >= ERROR_LOG_INTERVAL_SECONDS
        if should_log:
            _health.last_log = now
    if should_log:
        log.error("Redis is unavailable, serving reads from the database: %s: %s", type(exc).__name__, exc)


def _cache_usable() -> bool:
    """True unless Redis failed recently. After a failure one thread at a time probes it (rate-limited);
    when it answers, the recovery callbacks run, and only if they succeed is the cache used again.
    Meanwhile every other read goes to the database rather than wait."""
    if not _health.degraded:
        return True
    if not _health.lock.acquire(blocking=False):
        return False
    try:
        if not _health.degraded:
            return True
        now = time.monotonic()
        if now - _health.last_probe < RECOVERY_PROBE_SECONDS:
            return False
        _health.last_probe = now
        if not ops.ping():
            return False
        try:
            for callback in _health.callbacks:
                callback()
        except Exception:  # retried on the next probe; until then reads stay on the database
            log.exception("Redis answers again, but a recovery callback failed; staying on the database")
            return False
        _health.degraded = False
    finally:
        _health.lock.release()
    log.warning("Redis answers again; cached reads resumed")
    return True


def _own_transaction_open(conn) -> bool:
    """An atomic block of the application's is open, not only a TestCase's wrapping ones: writes made under those
    alone stand for committed rows (Django's own durable=True check tells them apart by the same flag)."""
    return any(not getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)


def in_dirty_transaction() -> bool:
    """True when a database connection of this thread is in a transaction whose uncommitted writes may show in
    a read: one that wrote to a captured table (the write watcher, eventcache.relay.watcher.notice_writes, registered
    its after-commit hook; Django forgets it on rollback, also of the savepoint it was made in), or one managed
    by hand (set_autocommit(False)), where no hook tells."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.in_atomic_block:
            from eventcache.relay import commit  # only here: the hit path outside transactions skips the import

            wrote = any(func is commit.after_commit for _, func, _ in conn.run_on_commit)
            if wrote and _own_transaction_open(conn):
                return True
        elif not conn.get_autocommit():
            return True
    return False


def compute_body(key: Key, compute) -> bytes:
    """`compute()` encoded as the API body, counted as one computation of the key's family."""
    name = stats.family_counter(key.family.name, stats.COMPUTATIONS)
    if _health.degraded:
        stats.incr_local(name)
    else:
        stats.incr(name)
    return encode(compute())


def _compute_and_fill(backend, key: Key, lease, compute) -> bytes:
    try:
        snapshot = snapshots.current() if backend is ops else None
        body = compute_body(key, compute)
    except Exception:
        try:
            backend.release(key, lease)  # so waiters need not wait out a lease nobody will fill
        except RedisError as exc:
            note_redis_error(exc)
        raise
    try:
        backend.fill(key, lease, body, snapshot=snapshot)
    except RedisError as exc:
        note_redis_error(exc)
    return body


def _wait_for_filler(backend, key: Key, compute) -> CacheRead:
    stats.incr(stats.family_counter(key.family.name, stats.LEASE_WAITS))
    deadline = time.monotonic() + settings.CACHE_LEASE_WAIT_SECONDS
    delay = POLL_FIRST_DELAY_SECONDS
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, POLL_MAX_DELAY_SECONDS)
        result = backend.read_or_lease(key, count=False)
        if result.body is not None:
            return CacheRead(result.body, True)
        if result.lease is not None:  # the holder gave up, or an invalidation voided its lease
            return CacheRead(_compute_and_fill(backend, key, result.lease, compute), False)
    stats.incr(stats.family_counter(key.family.name, stats.LEASE_WAIT_TIMEOUTS))
    return CacheRead(compute_body(key, compute), False)


def read(key: Key, compute, *, first: ops.ReadResult | None = None) -> CacheRead:
    """The cached API body of `key`, computing it with `compute()` on a miss (see the module doc). `first`:
    this key's read_or_lease result, already fetched by read_authenticated."""
    if in_dirty_transaction():
        if first is not None:
            release(key, first)
        return CacheRead(compute_body(key, compute), False)
    if first is None and (not settings.CACHE_READS_ENABLED or not _cache_usable()):
        return CacheRead(compute_body(key, compute), False)
    backend = cache_ops()
    try:
        result = first if first is not None else backend.read_or_lease(key)
        if result.body is not None:
            return CacheRead(result.body, True)
        if result.lease is not None:
            return CacheRead(_compute_and_fill(backend, key, result.lease, compute), False)
        return _wait_for_filler(backend, key, compute)
    except RedisError as exc:
        # Only Redis calls before any computation get here (compute-and-fill handles its own errors).
        note_redis_error(exc)
        return CacheRead(compute_body(key, compute), False)


def read_authenticated(
    session_name: str, user_id: int, identity_key: Key, value_key: Key | None = None
) -> ops.AuthenticatedRead | None:
    """store.read_authenticated (a caller's session, identity and value in one round trip), or None when the
    cache is not in use (no Redis, cached reads off, degraded) or Redis fails now (noted, as in read()): the
    caller then takes the separate reads, which handle those cases."""
    if not settings.CACHE_READS_ENABLED or not ops.uses_redis() or not _cache_usable():
        return None
    try:
        return ops.read_authenticated(session_name, user_id, identity_key, value_key)
    except RedisError as exc:
        note_redis_error(exc)
        return None


def release(key: Key, result: ops.ReadResult) -> None:
    """Give back the lease of a read_or_lease result that will not be used (no-op without one)."""
    if result.lease is None:
        return
    try:
        cache_ops().release(key, result.lease)
    except RedisError as exc:
        note_redis_error(exc)


def refresh(key: Key, compute, *, ttl=KEY_TTL) -> bool:
    """Replace the value of `key` under a lease, without dropping it first (readers keep getting the
    current value meanwhile). False if someone else holds the lease or an invalidation voided the fill.
    `ttl` overrides the family's TTL (seconds, None for no expiry). Redis errors propagate. Never from a dirty
    transaction (False)."""
    if in_dirty_transaction():
        return False
    backend = cache_ops()
    lease = backend.take_lease(key)
    if lease is None:
        return False
    try:
        snapshot = snapshots.current() if backend is ops else None
        body = compute_body(key, compute)
    except Exception:
        backend.release(key, lease)
        raise
    return backend.fill(key, lease, body, ttl=ttl, snapshot=snapshot)
