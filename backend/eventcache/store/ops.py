"""The Redis side of the cache: read-or-lease and fill-if-lease (Lua scripts in lua/*.lua, run by name through
scripts.py), and one-round-trip invalidation. See docs/ARCHITECTURE.md, "Cache values" and "Reads: leases".

A stored value is `{"ns":N,"body":<the API JSON>}` (JSON, never pickle). `N` is the family's namespace
version (`ns:{family}`) when the value was computed; bumping the version invalidates the whole family
in constant time, because the read script serves a value only when its `N` equals the current version.
The body is cut out of the stored bytes, never parsed, so a hit is one round trip and no re-encoding.

A logged-in caller's cached read fetches its session, its identity and the value in that same one round
trip (read_authenticated: lua/authenticated_read.lua runs lua/read_or_lease.lua's function twice, after the session).

A missing namespace key is created with a microsecond timestamp rather than 0, by a read and by a bump alike,
so if it is ever lost (eviction, a flush of that key) values written under an old version can never match the
new one.

Every function here raises redis.exceptions.RedisError when Redis fails; readthrough.py decides what
to do about it. Value keys come from the domain's families, bookkeeping keys from eventcache.store.keys;
django-redis's prefix is added by `full_name`.
"""

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from redis.exceptions import RedisError

from eventcache.declare import Family, Key
from eventcache.store import cluster, hotness, keys, scripts

KEY_TTL = object()  # `fill(..., ttl=KEY_TTL)`: use the key family's TTL
BUMPED_XIDS_KEPT = 10_000  # per family: far more writes than can be in their invalidation passes at once
XID_GROUPS_MAX = 64  # EVALSHAs per invalidation with per-key xids; beyond it, one under the union of their xids


@dataclass(frozen=True)
class Lease:
    """The right to fill one key: the token in `lease:{key}` and the namespace version it was taken under."""

    token: str
    ns: str


@dataclass(frozen=True)
class ReadResult:
    """Exactly one of: `body` (a hit), `lease` (the caller computes and fills), neither (someone else is filling)."""

    body: bytes | None = None
    lease: Lease | None = None


def uses_redis() -> bool:
    """False when the default cache is not django-redis (no REDIS_URL: local memory, one process)."""
    return settings.CACHES["default"]["BACKEND"].startswith("django_redis.")


def connection():
    """The raw redis-py client of the default cache (django-redis's connection pool); a RedisCluster with
    REDIS_CLUSTER_URL (store/cluster_client.py), on which this module's multi-slot operations go through
    store/cluster.py."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def full_name(name: str) -> str:
    """`recipe:42` -> `recipe_planner:1:recipe:42`, as redis-cli shows it."""
    return str(cache.make_key(name))


def full_names(*names: str) -> list[str]:
    """full_name of each name, looking the cache backend up once (the hit path names up to 11 keys)."""
    make_key = caches["default"].make_key
    return [str(make_key(name)) for name in names]


def run_script(name: str, script_keys: list, args: list, client=None):
    """Run the Lua script lua/{name}.lua (EVALSHA, loading it on first use) on `client` or the default connection."""
    return scripts.run(name, script_keys, args, connection() if client is None else client)


def ping() -> bool:
    """True when Redis answers."""
    try:
        return bool(connection().ping())
    except RedisError:
        return False


def wrap(ns, body: bytes, snapshot: str | None = None) -> bytes:
    """The stored form of a value: valid JSON, the body bytes kept exactly; with the database snapshot it was
    computed under when known (snapshots.py), which an invalidation compares with the write's transaction id."""
    snap = b"" if not snapshot else b'"snap":"' + snapshot.encode() + b'",'
    return b'{"ns":' + str(ns).encode() + b"," + snap + b'"body":' + body + b"}"


def _fresh_ns() -> str:
    return str(time.time_ns() // 1000)


def _lease_ms() -> int:
    return max(1, int(settings.CACHE_LEASE_SECONDS * 1000))


def _ttl_ms(key: Key, ttl) -> int:
    seconds = key.ttl if ttl is KEY_TTL else ttl
    return 0 if seconds is None else max(1, int(seconds * 1000))


def _read_parts(key: Key, count: bool) -> tuple[list, list]:
    """read_or_lease's keys and args for `key` (the Lua function's k and a)."""
    family = key.family
    names = [key.name, keys.lease(key), keys.namespace(family), keys.STATS]
    args = [secrets.token_hex(8), _lease_ms(), _fresh_ns(), family.name, "1" if count else "0"]
    if count and family.hot:
        names += hotness.script_key_names(family)
        args += hotness.script_args(family.member(key))
    return full_names(*names), args


def _read_result(reply, token: str) -> ReadResult:
    status = int(reply[0])
    if status == 1:
        return ReadResult(body=bytes(reply[1]))
    if status == 2:
        return ReadResult(lease=Lease(token=token, ns=_text(reply[1])))
    return ReadResult()


def read_or_lease(key: Key, *, count: bool = True) -> ReadResult:
    """One round trip: the body if the value is current, else a lease if nobody holds one. `count`: count the
    hit or miss (and the read, for a hot family); polls do not."""
    client = connection()
    if cluster.on_cluster(client):
        return cluster.read_or_lease(key, count=count)
    script_keys, args = _read_parts(key, count)
    return _read_result(run_script("read", script_keys, args, client), args[0])


@dataclass(frozen=True)
class AuthenticatedRead:
    """What read_authenticated fetched. None means "not read" (see lua/authenticated_read.lua for when)."""

    session: bytes | None  # the cached_db session as stored (django-redis's encoding); None: not in Redis
    identity: ReadResult | None  # read_or_lease of the user's identity key
    value: ReadResult | None  # read_or_lease of the value key


def read_authenticated(
    session_name: str, user_id: int, identity_key: Key, value_key: Key | None = None
) -> AuthenticatedRead:
    """One round trip (lua/authenticated_read.lua): the raw session `session_name` (an unprefixed cache key), then
    read_or_lease of `identity_key` if the session names `user_id`, then read_or_lease of `value_key` if the
    identity is a current hit, active, with the session's auth hash. Nothing here is verified for the caller:
    the caller checks the session and the identity itself before using the value."""
    client = connection()
    if cluster.on_cluster(client):
        return cluster.read_authenticated(session_name, user_id, identity_key, value_key)
    identity_keys, identity_args = _read_parts(identity_key, True)
    script_keys, args = [full_name(session_name), *identity_keys], [str(user_id), *identity_args]
    value_token = ""
    if value_key is not None:
        value_keys, value_args = _read_parts(value_key, True)
        script_keys += value_keys
        args += value_args
        value_token = value_args[0]
    reply = run_script("authenticated_read", script_keys, args, client)
    return AuthenticatedRead(
        session=None if reply[0] is None else bytes(reply[0]),
        identity=_read_result(reply[1], identity_args[0]) if len(reply) > 1 else None,
        value=_read_result(reply[2], value_token) if len(reply) > 2 else None,
    )


def _fill_args(key: Key, lease: Lease, body: bytes, ttl, snapshot: str | None) -> tuple[list, list]:
    return (
        [full_name(key.name), full_name(keys.lease(key))],
        [lease.token, wrap(lease.ns, body, snapshot), _ttl_ms(key, ttl), snapshot or ""],
    )


def fill(key: Key, lease: Lease, body: bytes, *, ttl=KEY_TTL, snapshot: str | None = None) -> bool:
    """Store `body` only if `lease` still holds, and release the lease. False when the fill was voided (an
    invalidation deleted the lease meanwhile, or marked it with a write `snapshot` - the database snapshot the body
    was computed under - did not see; or it expired and someone else took it)."""
    return bool(run_script("fill_if_lease", *_fill_args(key, lease, body, ttl, snapshot)))


def fill_many(fills: Iterable[tuple[Key, Lease, bytes]], *, ttl=KEY_TTL, snapshot: str | None = None) -> int:
    """Several fills in one round trip (scripts.run_each); returns how many landed."""
    client = connection()
    if cluster.on_cluster(client):
        return cluster.fill_many([_fill_args(key, lease, body, ttl, snapshot) for key, lease, body in fills])
    calls = [_fill_args(key, lease, body, ttl, snapshot) for key, lease, body in fills]
    return sum(1 for landed in scripts.run_each("fill_if_lease", calls, client) if landed)


def take_lease(key: Key) -> Lease | None:
    """A lease on `key` without dropping its value (refresh ahead of expiry); None if someone holds one."""
    token = secrets.token_hex(8)
    if cluster.on_cluster(connection()):
        ns = cluster.take_lease(key, token)
        return None if ns is None else Lease(token=token, ns=ns)
    ns = run_script(
        "take_lease",
        [full_name(keys.lease(key)), full_name(keys.namespace(key.family))],
        [token, _lease_ms(), _fresh_ns()],
    )
    return None if ns is None else Lease(token=token, ns=_text(ns))


def release(key: Key, lease: Lease) -> None:
    run_script("release", [full_name(keys.lease(key))], [lease.token])


def invalidate(
    keys_to_drop: Iterable[Key],
    bump_families: Iterable[Family] = (),
    *,
    then_publish=(),
    xids: Sequence[int] | Mapping = (),
) -> None:
    """One round trip for a batch: one DEL of every key and its lease (voiding in-flight fills), and an
    INCR of the namespace version of every bumped family; then PUBLISH each (channel, message) of
    `then_publish` in the same round trip (the relay's events: subscribers hear of them only once the keys
    are gone). With `xids` (the committed writes' transaction ids), see invalidate_and_lease."""
    invalidate_and_lease(keys_to_drop, (), bump_families, then_publish=then_publish, xids=xids)


def invalidate_and_lease(
    keys_to_drop: Iterable[Key],
    lease_keys: Iterable[Key],
    bump_families: Iterable[Family] = (),
    *,
    then_publish=(),
    xids: Sequence[int] | Mapping = (),
) -> dict[Key, Lease]:
    """`invalidate`, and in the same atomic round trip a fresh lease on each of `lease_keys` (also
    dropped), so their readers wait for the caller's warm value instead of computing it themselves.

    With `xids`, the transaction ids of the committed writes being invalidated, a value or an in-flight fill
    computed under a database snapshot that saw all of them is kept (and such a lease key is not leased again),
    and a family already bumped for all of them is not bumped again: lua/invalidate_seen.lua, one EVALSHA.
    `xids` may instead map each key and family to the xids of the writes that touch it (invalidation.xids_by_target):
    then one EVALSHA per distinct set (scripts.run_each: a pipeline when there are several), the publishing last;
    a target it maps to none is dropped as without xids (one more round trip, before those)."""
    lease_keys = list(dict.fromkeys(lease_keys))
    bump_families = list(dict.fromkeys(bump_families))
    if cluster.on_cluster(connection()):
        drop_keys = list(dict.fromkeys(keys_to_drop))
        return cluster.invalidate_and_lease(drop_keys, lease_keys, bump_families, list(then_publish), xids)
    if isinstance(xids, Mapping):
        return _invalidate_by_target(list(dict.fromkeys(keys_to_drop)), lease_keys, bump_families, then_publish, xids)
    if xids:
        return _invalidate_seen(list(dict.fromkeys(keys_to_drop)), lease_keys, bump_families, then_publish, xids)
    drop = list(dict.fromkeys([*keys_to_drop, *lease_keys]))
    then_publish = list(then_publish)
    if not drop and not bump_families and not then_publish:
        return {}
    # Dropping (one DEL of every key and its lease) and bumping need no MULTI/EXEC: each command is atomic and
    # either order is a valid invalidation. Taking leases does: no reader may see the key gone before its lease
    # is set, and so does a bump: nothing may delete the version between its SET NX and its INCR. Without leases
    # this round trip is also the one every write pays before its response.
    pipe = connection().pipeline(transaction=bool(lease_keys or bump_families))
    if drop:
        pipe.delete(*[full_name(name) for key in drop for name in (key.name, keys.lease(key))])
    for family in bump_families:
        # A lost version is re-created from the clock, as a read does, before the INCR: a bare INCR would start
        # it at 1, a version older values may still be stored under.
        pipe.set(full_name(keys.namespace(family)), _fresh_ns(), nx=True)
        pipe.incr(full_name(keys.namespace(family)))
    tokens = {key: secrets.token_hex(8) for key in lease_keys}
    for key, token in tokens.items():
        pipe.set(full_name(keys.lease(key)), token, px=_lease_ms())
    lease_families = list(dict.fromkeys(key.family for key in lease_keys))
    for family in lease_families:
        pipe.set(full_name(keys.namespace(family)), _fresh_ns(), nx=True)
        pipe.get(full_name(keys.namespace(family)))
    for channel, message in then_publish:
        pipe.publish(channel, message)
    replies = pipe.execute()
    if then_publish:
        replies = replies[: len(replies) - len(then_publish)]
    # The last 2 replies per lease family are (SET NX, GET): take the GETs.
    ns_replies = replies[len(replies) - 2 * len(lease_families) :][1::2]
    namespaces = dict(zip(lease_families, ns_replies, strict=True))
    return {key: Lease(token=token, ns=_text(namespaces[key.family])) for key, token in tokens.items()}


def _invalidate_by_target(
    drop: list, lease_keys: list, bump_families: list, then_publish, xids_for: Mapping
) -> dict[Key, Lease]:
    groups: dict[tuple[int, ...], tuple[list, list, list]] = {}
    for part, targets in enumerate((drop, lease_keys, bump_families)):
        for target in targets:
            groups.setdefault(tuple(sorted(xids_for.get(target, ()))), ([], [], []))[part].append(target)
    unknown = groups.pop((), None)
    if len(groups) > XID_GROUPS_MAX:  # every target under the union of the xids: more is voided, never less
        union = tuple(sorted({xid for xids in groups for xid in xids}))
        merged: tuple[list, list, list] = ([], [], [])
        for group in groups.values():
            for part in range(3):
                merged[part].extend(group[part])
        groups = {union: merged}
    leases: dict[Key, Lease] = {}
    if unknown:
        leases.update(
            invalidate_and_lease(unknown[0], unknown[1], unknown[2], then_publish=() if groups else then_publish)
        )
    if not groups:
        return leases
    calls, finishers = [], []
    for n, (xids, (group_drop, group_lease, group_bump)) in enumerate(groups.items()):
        publish = then_publish if n == len(groups) - 1 else ()
        script_keys, args, finish = _seen_script(group_drop, group_lease, group_bump, publish, xids)
        calls.append((script_keys, args))
        finishers.append(finish)
    for reply, finish in zip(scripts.run_each("invalidate_seen", calls, connection()), finishers, strict=True):
        leases.update(finish(reply))
    return leases


def _invalidate_seen(drop: list, lease_keys: list, bump_families: list, then_publish, xids) -> dict[Key, Lease]:
    script_keys, args, finish = _seen_script(drop, lease_keys, bump_families, then_publish, xids)
    return finish(run_script("invalidate_seen", script_keys, args))


def _seen_script(
    drop: list, lease_keys: list, bump_families: list, then_publish, xids
) -> tuple[list, list, Callable[[list], dict[Key, Lease]]]:
    """lua/invalidate_seen.lua's KEYS and ARGV, and the function turning its reply into the leases taken."""
    leasing = set(lease_keys)
    drop = [key for key in drop if key not in leasing]
    script_keys = full_names(*[name for key in drop for name in (key.name, keys.lease(key))])
    script_keys += full_names(*[name for f in bump_families for name in (keys.namespace(f), keys.bumped_xids(f))])
    script_keys += full_names(
        *[name for key in lease_keys for name in (key.name, keys.lease(key), keys.namespace(key.family))]
    )
    tokens = [secrets.token_hex(8) for _ in lease_keys]
    args = [len(drop), len(bump_families), len(lease_keys), ",".join(str(int(xid)) for xid in xids)]
    args += [_fresh_ns(), _lease_ms(), BUMPED_XIDS_KEPT, *tokens]
    args += [part for channel, message in then_publish for part in (channel, message)]

    def finish(leased: list) -> dict[Key, Lease]:
        return {
            key: Lease(token=token, ns=_text(ns))
            for key, token, ns in zip(lease_keys, tokens, leased, strict=True)
            if ns is not None
        }

    return script_keys, args, finish


def bump_namespace(family: Family) -> None:
    """Invalidate every key of `family` at once (constant time)."""
    invalidate((), (family,))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
