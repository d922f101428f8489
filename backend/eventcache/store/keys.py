"""Every bookkeeping key the engine keeps in Redis beside the cached values; nothing else builds one.

Cached values are named by their families (eventcache.declare.Family.key, declared by the domain), each name a hash
tag (`{recipe:42}`). All names are unprefixed here (`lease:{recipe:42}`); django-redis adds `{KEY_PREFIX}:1:`, so
`redis-cli` shows `recipe_planner:1:lease:{recipe:42}`.

Hash tags (`{...}`) decide the Redis Cluster slot: a value and its lease share one (a script touches both); a family's
namespace version and its bumped-xids set share another, its hot set and epoch another. Every script touches one slot
(tests/unit/test_cluster_slots.py checks every call); on one Redis the braces are just characters.
"""

from eventcache.declare import Family, Key

STATS = "stats:cache"  # hash of counters: hits/misses per family, computations, rejected events, ...


def lease(key: Key) -> str:
    """The fill lease of a key (Facebook-style): a fill lands only while its token is still here."""
    return f"lease:{key.name}"


def namespace(family: Family) -> str:
    """The family's namespace version; bumping it invalidates every key of the family at once."""
    return f"ns:{{{family.name}}}"


def bumped_xids(family: Family) -> str:
    """Sorted set of the newest write transaction ids the family's namespace was bumped for (lua/invalidate_seen.lua):
    the later passes of the same write do not bump it again."""
    return f"ns:{{{family.name}}}:xids"


def hot_set(family: Family) -> str:
    """Sorted set of a hot family: key member (Family.member) -> decaying read score, trimmed to a bound."""
    return f"hot:{{{family.name}}}"


def hot_epoch(family: Family) -> str:
    """The forward-decay epoch (Unix seconds) of the family's hot set."""
    return f"hot:{{{family.name}}}:epoch"


def session(session_store) -> str:
    """A cached_db session's cache key, as Django names it (`django.contrib.sessions.cached_db` + the session
    key). Django reads and writes it; the hit path of a logged-in read fetches it in the same round trip as
    the identity and the value (ops.read_authenticated). Only for a store that has a session key."""
    return session_store.cache_key
