"""Every place this app reaches into the cache engine and the domain, in one module, so a move of the engine
(caching/ + events/ -> eventcache/) re-points only these lines."""

from caching import hotness, stats  # noqa: F401 - re-exported: stats.snapshot(), stats.per_family(), hotness.hottest()
from events.models import OutboxEvent  # noqa: F401 - the outbox table (label "events" survives the move)

# The Celery task whose batches the worker metrics describe (its summary dict: events, rejected, coalesced,
# already_applied, lag_ms); worker/tasks.py today, eventcache/tasks.py after the move.
PROCESS_EVENTS_TASK = "worker.tasks.process_events"

__all__ = ["PROCESS_EVENTS_TASK", "OutboxEvent", "hotness", "stats"]
