"""eventcache/stats.py: counters shared through Redis, kept in-process when Redis fails."""

from eventcache import stats
from eventcache.store import ops


def test_incr_and_snapshot_share_counts_through_redis(fake_redis):
    stats.incr(stats.EVENTS_SEEN)
    stats.incr(stats.EVENTS_SEEN, 4)
    stats.incr(stats.family_counter("recipe", stats.COMPUTATIONS))
    assert fake_redis.hget(ops.full_name("stats:cache"), "events_seen") == b"5"
    assert stats.snapshot() == {"events_seen": 5, "recipe:computations": 1}


def test_counts_stay_in_process_when_redis_fails(redis_down):
    stats.incr(stats.EVENTS_REJECTED, 2)
    stats.incr_local(stats.REDIS_ERRORS)
    assert stats.snapshot() == {"events_rejected": 2, "redis_errors": 1}


def test_snapshot_adds_in_process_counts_to_shared_ones(fake_redis):
    stats.incr(stats.REDIS_ERRORS)
    stats.incr_local(stats.REDIS_ERRORS, 2)
    assert stats.snapshot()[stats.REDIS_ERRORS] == 3


def test_per_family_groups_counters():
    grouped = stats.per_family({"recipe:hits": 3, "recipe:misses": 1, "meal_plan:hits": 2, "events_seen": 9})
    assert grouped["recipe"] == {"hits": 3, "misses": 1}
    assert grouped["meal_plan"] == {"hits": 2}
    assert grouped["preferences"] == {}
    assert "events_seen" not in grouped


def test_without_redis_counts_are_in_process(plain_cache):
    stats.incr(stats.EVENTS_SEEN)
    assert stats.snapshot() == {"events_seen": 1}
