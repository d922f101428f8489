"""The Redis side of the cache: Lua scripts for read-or-lease and fill-if-lease, and one-round-trip
invalidation. See docs/ARCHITECTURE.md, "Cache values" and "Reads: leases".

(Over the ~300-line budget only because the Lua scripts are still Python strings here; they move to lua/*.lua.)

A stored value is `{"ns":N,"body":<the API JSON>}` (JSON, never pickle). `N` is the family's namespace
version (`ns:{family}`) when the value was computed; bumping the version invalidates the whole family
in constant time, because the read script serves a value only when its `N` equals the current version.
The body is cut out of the stored bytes, never parsed, so a hit is one round trip and no re-encoding.

A logged-in caller's cached read fetches its session, its identity and the value in that same one round
trip (read_authenticated: the read-or-lease function run twice in one script, after the session).

A missing namespace key is created with a microsecond timestamp rather than 0, so if it is ever lost
(eviction, a flush of that key) values written under the old version can never match the new one.

Every function here raises redis.exceptions.RedisError when Redis fails; readthrough.py decides what
to do about it. Value keys come from the domain's families, bookkeeping keys from eventcache.store.keys;
django-redis's prefix is added by `full_name`.
"""

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from redis.exceptions import RedisError

from eventcache.declare import Family, Key
from eventcache.store import hotness, keys

KEY_TTL = object()  # `fill(..., ttl=KEY_TTL)`: use the key family's TTL


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


_CURRENT_NS_LUA = """
local function current_ns(ns_key, fresh)
  local ns = redis.call('GET', ns_key)
  if not ns then
    ns = fresh
    redis.call('SET', ns_key, ns)
  end
  return ns
end
"""

# The read of one key, as a Lua function so that scripts can compose it (READ_OR_LEASE_LUA runs it alone,
# AUTHENTICATED_READ_LUA after the session and the identity).
# k: data, lease, namespace, stats [, hot set, hot epoch]
# a: token, lease ms, fresh ns, family name, count ('1' counts hits/misses and hotness; polls pass '0')
#    (the hot set's keys and args are passed for a counted read of a hot family's key)
#    [, hot member, now, half-life, hot set bound]
# Returns {1, body} on a hit, {2, ns} when the caller got the lease, {3} while someone else holds it.
_READ_OR_LEASE_FN = (
    _CURRENT_NS_LUA
    + hotness.RECORD_LUA
    + """
local function read_or_lease(k, a)
  local ns = current_ns(k[3], a[3])
  local counting = a[5] == '1'
  if counting and k[5] then
    record_hot(k[5], k[6], a[6], a[7], a[8], a[9])
  end
  local raw = redis.call('GET', k[1])
  if raw then
    local prefix, stored_ns = string.match(raw, '^({"ns":(%d+),"body":)')
    if stored_ns == ns then
      if counting then redis.call('HINCRBY', k[4], a[4] .. ':hits', 1) end
      return {1, string.sub(raw, #prefix + 1, -2)}
    end
  end
  if counting then redis.call('HINCRBY', k[4], a[4] .. ':misses', 1) end
  if redis.call('SET', k[2], a[1], 'NX', 'PX', a[2]) then
    return {2, ns}
  end
  return {3}
end
"""
)

# KEYS and ARGV: as read_or_lease's k and a above.
READ_OR_LEASE_LUA = _READ_OR_LEASE_FN + "return read_or_lease(KEYS, ARGV)\n"

# A cached read of a logged-in caller in one round trip: the cached_db session, the caller's identity and the
# value (see read_authenticated). Each read is read_or_lease, so leases, hit/miss counts and hotness are
# exactly those of separate reads.
# KEYS: session, identity's 4 keys (read_or_lease's k) [, the value's 4 or 6 keys]
# ARGV: user id (decimal), identity's 5 args [, the value's 5 or 9 args]
# Returns {session} when the session is missing or does not name that user (nothing else was read);
# {session, identity} when no value was asked for, or the identity is not a current hit that is active and
# carries the session's auth hash (the value was not read); else {session, identity, value}.
# The two checks only keep the script from reading (counting, leasing, recording hotness of) keys of a user
# the session does not belong to; the caller verifies everything itself before serving anything.
AUTHENTICATED_READ_LUA = (
    _READ_OR_LEASE_FN
    + """
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
"""
)

# KEYS: data, lease. ARGV: token, value, ttl ms ('0' = no expiry). Writes only while the lease is ours.
FILL_IF_LEASE_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: lease, namespace. ARGV: token, lease ms, fresh ns. A lease without touching the value (refresh).
TAKE_LEASE_LUA = (
    _CURRENT_NS_LUA
    + """
local ns = current_ns(KEYS[2], ARGV[3])
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return ns
end
return false
"""
)

# KEYS: lease. ARGV: token. Gives a lease back (the computation failed) so waiters need not wait it out.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_scripts = {}


def uses_redis() -> bool:
    """False when the default cache is not django-redis (no REDIS_URL: local memory, one process)."""
    return settings.CACHES["default"]["BACKEND"].startswith("django_redis.")


def connection():
    """The raw redis-py client of the default cache (django-redis's connection pool)."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def full_name(name: str) -> str:
    """`recipe:42` -> `recipe_planner:1:recipe:42`, as redis-cli shows it."""
    return str(cache.make_key(name))


def full_names(*names: str) -> list[str]:
    """full_name of each name, looking the cache backend up once (the hit path names up to 11 keys)."""
    make_key = caches["default"].make_key
    return [str(make_key(name)) for name in names]


def run_script(source: str, script_keys: list, args: list, client=None):
    """Run a Lua script by its SHA (EVALSHA, loading it on first use) on `client` or the default connection."""
    conn = connection() if client is None else client
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = conn.register_script(source)
    return script(keys=script_keys, args=args, client=conn)


def ping() -> bool:
    """True when Redis answers."""
    try:
        return bool(connection().ping())
    except RedisError:
        return False


def wrap(ns, body: bytes) -> bytes:
    """The stored form of a value: valid JSON, the body bytes kept exactly."""
    return b'{"ns":' + str(ns).encode() + b',"body":' + body + b"}"


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
    script_keys, args = _read_parts(key, count)
    return _read_result(run_script(READ_OR_LEASE_LUA, script_keys, args), args[0])


@dataclass(frozen=True)
class AuthenticatedRead:
    """What read_authenticated fetched. None means "not read" (see AUTHENTICATED_READ_LUA for when)."""

    session: bytes | None  # the cached_db session as stored (django-redis's encoding); None: not in Redis
    identity: ReadResult | None  # read_or_lease of the user's identity key
    value: ReadResult | None  # read_or_lease of the value key


def read_authenticated(
    session_name: str, user_id: int, identity_key: Key, value_key: Key | None = None
) -> AuthenticatedRead:
    """One round trip (AUTHENTICATED_READ_LUA): the raw session `session_name` (an unprefixed cache key), then
    read_or_lease of `identity_key` if the session names `user_id`, then read_or_lease of `value_key` if the
    identity is a current hit, active, with the session's auth hash. Nothing here is verified for the caller:
    the caller checks the session and the identity itself before using the value."""
    identity_keys, identity_args = _read_parts(identity_key, True)
    script_keys, args = [full_name(session_name), *identity_keys], [str(user_id), *identity_args]
    value_token = None
    if value_key is not None:
        value_keys, value_args = _read_parts(value_key, True)
        script_keys += value_keys
        args += value_args
        value_token = value_args[0]
    reply = run_script(AUTHENTICATED_READ_LUA, script_keys, args)
    return AuthenticatedRead(
        session=None if reply[0] is None else bytes(reply[0]),
        identity=_read_result(reply[1], identity_args[0]) if len(reply) > 1 else None,
        value=_read_result(reply[2], value_token) if len(reply) > 2 else None,
    )


def _fill_args(key: Key, lease: Lease, body: bytes, ttl) -> tuple[list, list]:
    return (
        [full_name(key.name), full_name(keys.lease(key))],
        [lease.token, wrap(lease.ns, body), _ttl_ms(key, ttl)],
    )


def fill(key: Key, lease: Lease, body: bytes, *, ttl=KEY_TTL) -> bool:
    """Store `body` only if `lease` still holds, and release the lease. False when the fill was voided
    (an invalidation deleted the lease meanwhile, or it expired and someone else took it)."""
    return bool(run_script(FILL_IF_LEASE_LUA, *_fill_args(key, lease, body, ttl)))


def fill_many(fills: Iterable[tuple[Key, Lease, bytes]], *, ttl=KEY_TTL) -> int:
    """Several fills in one pipeline; returns how many landed."""
    pipe = connection().pipeline(transaction=False)
    queued = 0
    for key, lease, body in fills:
        run_script(FILL_IF_LEASE_LUA, *_fill_args(key, lease, body, ttl), client=pipe)
        queued += 1
    return sum(1 for landed in pipe.execute() if landed) if queued else 0


def take_lease(key: Key) -> Lease | None:
    """A lease on `key` without dropping its value (refresh ahead of expiry); None if someone holds one."""
    token = secrets.token_hex(8)
    ns = run_script(
        TAKE_LEASE_LUA,
        [full_name(keys.lease(key)), full_name(keys.namespace(key.family))],
        [token, _lease_ms(), _fresh_ns()],
    )
    return None if ns is None else Lease(token=token, ns=_text(ns))


def release(key: Key, lease: Lease) -> None:
    run_script(RELEASE_LUA, [full_name(keys.lease(key))], [lease.token])


def invalidate(keys_to_drop: Iterable[Key], bump_families: Iterable[Family] = (), *, then_publish=()) -> None:
    """One round trip for a batch: one DEL of every key and its lease (voiding in-flight fills), and an
    INCR of the namespace version of every bumped family; then PUBLISH each (channel, message) of
    `then_publish` in the same round trip (the relay's events: subscribers hear of them only once the keys
    are gone)."""
    invalidate_and_lease(keys_to_drop, (), bump_families, then_publish=then_publish)


def invalidate_and_lease(
    keys_to_drop: Iterable[Key], lease_keys: Iterable[Key], bump_families: Iterable[Family] = (), *, then_publish=()
) -> dict[Key, Lease]:
    """`invalidate`, and in the same atomic round trip a fresh lease on each of `lease_keys` (also
    dropped), so their readers wait for the caller's warm value instead of computing it themselves."""
    lease_keys = list(dict.fromkeys(lease_keys))
    drop = list(dict.fromkeys([*keys_to_drop, *lease_keys]))
    bump_families = list(dict.fromkeys(bump_families))
    then_publish = list(then_publish)
    if not drop and not bump_families and not then_publish:
        return {}
    # Dropping (one DEL of every key and its lease) and bumping need no MULTI/EXEC: each command is atomic and
    # either order is a valid invalidation. Taking leases does: no reader may see the key gone before its lease
    # is set. Without leases this round trip is also the one every write pays before its response.
    pipe = connection().pipeline(transaction=bool(lease_keys))
    if drop:
        pipe.delete(*[full_name(name) for key in drop for name in (key.name, keys.lease(key))])
    for family in bump_families:
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


def bump_namespace(family: Family) -> None:
    """Invalidate every key of `family` at once (constant time)."""
    invalidate((), (family,))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
