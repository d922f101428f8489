"""Every place this app reaches into the cache engine (eventcache) and the worker, in one module, so a move of
either re-points only these lines."""

from eventcache import declare, stats
from eventcache.models import OutboxEvent
from eventcache.store import cluster, hotness
from eventcache.tasks import process_events

# The Celery task whose batches the worker metrics and batch log lines describe (its summary dict: events,
# rejected, coalesced, already_applied, keys_dropped, lag_ms).
PROCESS_EVENTS_TASK = process_events.name


def hot_keys(n: int) -> list:
    """The `n` most read keys of every family the domain counts reads of (hot=True), hottest first."""
    return [key for family in declare.domain().families if family.hot for key in hotness.hottest(family, n)]


__all__ = ["PROCESS_EVENTS_TASK", "OutboxEvent", "cluster", "hot_keys", "stats"]
