"""The API views on fakeredis (fast, no server): the whole django-redis cache (values, sessions, login
counters) talks to an in-process fake, so these run anywhere. The integration tests repeat the caching
proofs against the real Redis."""

import copy
import datetime as dt
import json

import fakeredis
import pytest

from planner import cache as planner_cache
from tests.fixtures.api import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_cache(settings, cache_state):
    """django-redis keeps its connection pools in a process-wide dict keyed by URL, so the fake pool is made
    for this test alone: any real pool of the URL is set aside first and put back afterwards (else this
    test would use real Redis, or every later test would talk to the fake)."""
    from django_redis import get_redis_connection
    from django_redis.pool import ConnectionFactory

    caches = copy.deepcopy(settings.CACHES)
    assert caches["default"]["BACKEND"].startswith("django_redis."), "the test settings use django-redis"
    caches["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"] = {
        "connection_class": fakeredis.FakeRedisConnection,
        "server": fakeredis.FakeServer(),
    }
    location = caches["default"]["LOCATION"]
    urls = [location] if isinstance(location, str) else list(location)
    real_pools = {url: ConnectionFactory._pools.pop(url) for url in urls if url in ConnectionFactory._pools}
    settings.CACHES = caches
    yield get_redis_connection("default")
    for url in urls:
        ConnectionFactory._pools.pop(url, None)
    ConnectionFactory._pools.update(real_pools)


@pytest.fixture
def ann(fake_cache, household):
    client = ApiClient()
    client.login("ann")
    return client


def test_every_cached_get_misses_then_hits_with_no_query(
    ann, household, make_recipe, plan_meal, django_assert_num_queries
):
    recipe = make_recipe(household["ann"], tags=["soup"])
    plan_meal(household["family"], dt.date(2026, 1, 5), recipe)
    ann.get("/api/me/")
    for path, query in [
        (f"/api/recipes/{recipe.id}/", {}),
        ("/api/recipes/", {"tag": "soup"}),
        ("/api/meal-plans/2026-01-05/", {}),
        ("/api/shopping-lists/", {}),
        ("/api/preferences/", {}),
    ]:
        first = ann.get(path, **query)
        assert (first.status_code, first["X-Cache"]) == (200, "MISS"), path
        with django_assert_num_queries(0):
            second = ann.get(path, **query)
        assert (second.status_code, second["X-Cache"], second.content) == (200, "HIT", first.content), path


def test_the_value_stored_is_json_wrapping_the_exact_body(ann, household, make_recipe, fake_cache):
    from eventcache.store import ops

    recipe = make_recipe(household["ann"], "Stored as JSON")
    body = ann.get(f"/api/recipes/{recipe.id}/").content
    stored = json.loads(fake_cache.get(ops.full_name(planner_cache.recipe(recipe.id).name)))
    assert json.dumps(stored["body"], separators=(",", ":")).encode() == body


def test_login_throttle_counts_in_the_cache(fake_cache, household, settings):
    settings.LOGIN_RATE_LIMIT = "2/m"
    client = ApiClient()
    for _ in range(2):
        assert client.post("/api/auth/login/", {"username": "ann", "password": "bad"}, csrf=False).status_code == 401
    assert client.post("/api/auth/login/", {"username": "ann", "password": "bad"}, csrf=False).status_code == 429
