"""Every place this app reaches into the cache engine and the domain, in one module, so a move of the engine
(caching/ + events/ -> eventcache/) re-points only these lines."""

from caching import hotness, stats  # noqa: F401 - re-exported: stats.snapshot(), stats.per_family(), hotness.hottest()
from events.models import OutboxEvent  # noqa: F401 - the outbox table (label "events" survives the move)

__all__ = ["OutboxEvent", "hotness", "stats"]
