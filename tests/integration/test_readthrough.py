"""Read-through on the real Redis and PostgreSQL: JSON values under the prefix, hits without queries."""

import json

import pytest

from eventcache.store import ops, readthrough
from planner import cache
from tests.factories import RecipeFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def soup(db):
    return RecipeFactory(author__username="cook", title="Soup", servings=2, tags=["warm"])


def test_first_read_queries_the_database_and_the_second_none(real_cache, soup, django_assert_num_queries):
    from planner import payloads

    key = cache.recipe(soup.id)
    with django_assert_num_queries(3):
        first = readthrough.read(key, lambda: payloads.recipe_detail(soup.id))
    with django_assert_num_queries(0):
        second = readthrough.read(key, lambda: payloads.recipe_detail(soup.id))
    assert (first.hit, second.hit) == (False, True)
    assert second.body == first.body and json.loads(second.body)["title"] == "Soup"


def test_the_stored_value_is_readable_json_under_the_prefix(real_cache, soup):
    readthrough.read(cache.recipe(soup.id), lambda: {"id": soup.id, "title": soup.title})
    raw = real_cache.get(f"recipe_planner:1:{{recipe:{soup.id}}}")
    value = json.loads(raw)  # JSON, not pickle
    assert value["body"] == {"id": soup.id, "title": "Soup"}
    assert str(value["ns"]) == real_cache.get("recipe_planner:1:ns:{recipe}").decode()
    assert 0 < real_cache.ttl(f"recipe_planner:1:{{recipe:{soup.id}}}") <= 30 * 60


def test_a_hit_is_one_round_trip(real_cache, redis_commands):
    key = cache.preferences(9)
    readthrough.read(key, lambda: {"diet": "vegan"})
    with redis_commands() as seen:
        assert readthrough.read(key, lambda: {"diet": "omnivore"}).hit
    assert len(seen) == 1 and seen[0].startswith("EVALSHA")


def test_hot_readers_are_tracked_in_the_read(real_cache):
    from eventcache.store import hotness

    for user_id, reads in ((11, 1), (12, 3)):
        for _ in range(reads):
            readthrough.read(cache.shopping_lists(user_id), lambda: {"results": []})
    assert hotness.hottest(cache.SHOPPING_LISTS, 1) == [cache.shopping_lists(12)]
    assert hotness.hottest(cache.SHOPPING_LISTS, 5) == [cache.shopping_lists(12), cache.shopping_lists(11)]


def test_redis_down_falls_through_to_the_database_and_recovers(real_cache, redis_down, soup):
    from planner import payloads

    key = cache.recipe(soup.id)
    assert readthrough.read(key, lambda: payloads.recipe_detail(soup.id)).hit is False
    assert readthrough.read(key, lambda: payloads.recipe_detail(soup.id)).hit is False
    assert readthrough.is_degraded()
    assert ops.ping() is False
    redis_down()  # Redis is back
    readthrough._health.last_probe = float("-inf")  # the next read probes now instead of in a second
    readthrough.read(key, lambda: payloads.recipe_detail(soup.id))
    assert not readthrough.is_degraded()
    assert readthrough.read(key, lambda: payloads.recipe_detail(soup.id)).hit is True
