"""eventcache/store/hotness.py on fakeredis: forward-decayed read scores, bounded size, no overflow."""

import math

import pytest

from eventcache.store import hotness, keys, ops
from planner import cache

pytestmark = pytest.mark.usefixtures("fake_redis")

T0 = 1_700_000_000.0


@pytest.fixture
def half_life(settings):
    settings.HOT_LISTS_HALF_LIFE_SECONDS = 100.0
    return 100.0


def scores(fake_redis):
    """user id -> score of the users' first pages (the member is "user_id:size:page")."""
    return {
        int(m.split(b":")[0]): s
        for m, s in fake_redis.zrange(ops.full_name(keys.hot_set(cache.SHOPPING_LISTS)), 0, -1, withscores=True)
    }


def test_hottest_orders_by_read_count(half_life):
    for user_id, reads in ((1, 1), (2, 3), (3, 2)):
        for _ in range(reads):
            hotness.record(cache.shopping_lists(user_id), now=T0)
    assert hotness.hottest(cache.SHOPPING_LISTS, 2) == [cache.shopping_lists(2), cache.shopping_lists(3)]
    assert hotness.hottest(cache.SHOPPING_LISTS, 10) == [
        cache.shopping_lists(2),
        cache.shopping_lists(3),
        cache.shopping_lists(1),
    ]
    assert hotness.hottest(cache.SHOPPING_LISTS, 0) == []


def test_a_read_one_half_life_later_counts_twice(fake_redis, half_life):
    hotness.record(cache.shopping_lists(1), now=T0)
    hotness.record(cache.shopping_lists(1), now=T0)
    hotness.record(cache.shopping_lists(2), now=T0 + half_life)
    assert scores(fake_redis) == pytest.approx({1: 2.0, 2: 2.0})
    hotness.record(cache.shopping_lists(2), now=T0 + half_life)
    assert hotness.hottest(cache.SHOPPING_LISTS, 1) == [cache.shopping_lists(2)]  # recent reads win over older ones


def test_the_set_is_trimmed_to_the_bound_dropping_the_coldest(fake_redis, half_life, settings):
    settings.HOT_LISTS_TRACKED_MAX = 3
    for _ in range(3):
        hotness.record(cache.shopping_lists(1), now=T0)  # 3 old reads outweigh one read a half-life later (2.0)
    for user_id in (2, 3, 4, 5):
        hotness.record(cache.shopping_lists(user_id), now=T0 + half_life)
    assert len(scores(fake_redis)) == 3
    assert 1 in scores(fake_redis)


def test_scores_are_renormalised_before_they_can_overflow(fake_redis, half_life):
    hotness.record(cache.shopping_lists(1), now=T0)
    hotness.record(cache.shopping_lists(2), now=T0 + 10 * half_life)
    far = T0 + 5000 * half_life  # 2**5000 would overflow a double
    hotness.record(cache.shopping_lists(3), now=far)
    hotness.record(cache.shopping_lists(3), now=far)
    current = scores(fake_redis)
    assert all(math.isfinite(score) for score in current.values())
    assert hotness.hottest(cache.SHOPPING_LISTS, 3) == [
        cache.shopping_lists(3),
        cache.shopping_lists(2),
        cache.shopping_lists(1),
    ]
    epoch = float(fake_redis.get(ops.full_name(keys.hot_epoch(cache.SHOPPING_LISTS))))
    assert (far - epoch) / half_life <= hotness.RENORMALISE_AFTER


def test_hottest_is_empty_without_reads():
    assert hotness.hottest(cache.SHOPPING_LISTS, 5) == []
