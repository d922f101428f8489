"""eventcache/consume/listener.py, the worker's pub/sub monitor: what it counts for each message (fakeredis counters).

The monitor running inside a real worker is exercised by tests/faults/test_bad_messages.py."""

import time

from eventcache import events as schema
from eventcache import stats
from planner import cache


def test_monitor_counts_rejected_and_seen_events_with_their_lag(fake_redis):
    from eventcache.consume.listener import EventMonitor

    monitor = EventMonitor(redis_url="redis://127.0.0.1:6379/0", channel="unused")

    assert monitor.handle(b"not json") is None
    assert monitor.handle(b'{"v":1,"id":1,"kind":"recipe.changed","at":1,"data":{}}') is None
    event = monitor.handle(schema.encode(cache.RecipeChanged(id=3, at=time.time() - 0.25, recipe_id=9)))

    assert isinstance(event, cache.RecipeChanged)
    assert monitor.last_lag_ms >= 250
    counts = stats.snapshot()
    assert counts[stats.EVENTS_REJECTED] == 2 and counts[stats.EVENTS_SEEN] == 1
    assert counts["events_lag_ms_total"] >= 250
