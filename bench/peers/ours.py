"""Ours, as the peers comparison sees it: the ONE module of bench/peers/ that imports the engine (eventcache.*)
and the recipe domain's declaration (planner.cache). When they move, only the imports below change.

Every function takes plain values (ids, dates, key names) so the rest of bench/peers/ stays engine-agnostic.
"""

import json
import time

from eventcache.models import OutboxEvent
from eventcache.relay import publish, watcher
from eventcache.store import invalidation, readthrough
from eventcache.store import ops as store
from planner import cache as keys

NAME = "ours"


def recipe_key(recipe_id: int):
    return keys.recipe(recipe_id)


def meal_plan_key(day, family_id: int):
    return keys.meal_plan(day, family_id)


def recipe_list_key(tag, page: int):
    return keys.recipe_list(tag, page)


def redis_name(key) -> str:
    """The Redis key a cache key is stored under (django-redis prefix and version included)."""
    return store.full_name(key.name if hasattr(key, "name") else key)


def read(key, compute) -> dict:
    """A read through our read-through cache; the body is the API's JSON, decoded for comparison."""
    return json.loads(readthrough.read(key, compute).body)


def invalidate_recipe(recipe_id: int) -> None:
    """What the worker does for one `recipe.changed` event: dependents from the database, one Redis round trip."""
    invalidation.apply_events([keys.RecipeChanged(id=1, at=time.time(), recipe_id=recipe_id)])


def settle(timeout: float = 15.0) -> None:
    """Wait until every outbox row is applied by the worker: send what no web process sent (a psql write,
    say), then poll. Ours invalidates after commit, asynchronously; a read checked after settle() is exact."""
    deadline = time.monotonic() + timeout
    while True:
        pending = OutboxEvent.objects.filter(processed_at__isnull=True)
        if not pending.exists():
            return
        if pending.filter(sent_at__isnull=True).exists():
            publish.flush()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{pending.count()} outbox rows still unapplied after {timeout:.0f} s (is a worker running?)"
            )
        time.sleep(0.02)


def silence_relay() -> None:
    """In a peer's process: our triggers still write outbox rows (they live in the shared database), but this
    process does not send them, so a peer's writes cost it nothing of ours."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.disconnect(dispatch_uid="events.write_watcher")
    for connection in connections.all(initialized_only=True):
        if watcher.notice_writes in connection.execute_wrappers:
            connection.execute_wrappers.remove(watcher.notice_writes)


def bookkeeping_kind(redis_key: bytes) -> str:
    """'value' for a stored cached read, else 'bookkeeping' (leases, namespace versions, stats, hot lists)."""
    name = redis_key.decode()
    bare = name[len(store.full_name("")) :] if name.startswith(store.full_name("")) else name
    if bare.startswith(("lease:", "ns:", "stats:", "hot:")):
        return "bookkeeping"
    return "value"
