"""`manage.py invalidate` and `manage.py cache_stats` on the real Redis."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from eventcache.store import keys, readthrough
from planner import cache as planner_cache

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("family", sorted(planner_cache.DOMAIN.families_by_name))
def test_invalidate_each_family(real_cache, family):
    key = {
        "recipe": planner_cache.recipe(1),
        "recipe_list": planner_cache.recipe_list(None, 1),
        "meal_plan": planner_cache.meal_plan(__import__("datetime").date(2030, 1, 7), 1),
        "shopping_lists": planner_cache.shopping_lists(1),
        "preferences": planner_cache.preferences(1),
        "identity": planner_cache.identity(1),
        "config": planner_cache.static_config("units"),
    }[family]
    bystander = planner_cache.recipe(2) if family != "recipe" else planner_cache.preferences(2)
    readthrough.read(key, lambda: {"v": 1})
    readthrough.read(bystander, lambda: {"v": 1})
    assert f"invalidated every {family} key" in run("invalidate", family)
    assert readthrough.read(key, lambda: {"v": 2}).hit is False
    assert readthrough.read(bystander, lambda: {"v": 2}).hit is True


def test_invalidate_all(real_cache):
    readthrough.read(planner_cache.recipe(1), lambda: {})
    readthrough.read(planner_cache.identity(1), lambda: {})
    run("invalidate", "all")
    assert not readthrough.read(planner_cache.recipe(1), lambda: {}).hit
    assert not readthrough.read(planner_cache.identity(1), lambda: {}).hit


def test_invalidate_rejects_unknown_families():
    with pytest.raises(CommandError):
        call_command("invalidate", "recipes")


def test_cache_stats_json_shows_app_and_redis_figures(real_cache):
    readthrough.read(planner_cache.recipe(1), lambda: {})
    readthrough.read(planner_cache.recipe(1), lambda: {})
    readthrough.read(planner_cache.recipe(2), lambda: {})
    report = json.loads(run("cache_stats", "--json"))
    recipe = report["families"]["recipe"]
    assert (recipe["hits"], recipe["misses"], recipe["hit_ratio"], recipe["computations"]) == (1, 2, 0.3333, 2)
    redis = report["redis"]
    assert redis["keys"] >= 3 and redis["used_memory"] > 0
    assert {"keyspace_hits", "keyspace_misses", "slowlog"} <= set(redis)


def test_cache_stats_table(real_cache):
    readthrough.read(planner_cache.recipe(1), lambda: {})
    text = run("cache_stats")
    assert "hit ratio" in text and "recipe" in text and "keyspace_hits=" in text and "SLOWLOG" in text


def test_start_up_log_names_the_redis_url_without_its_password(settings):
    import logging

    from eventcache.apps import startup_message

    settings.REDIS_URL = "redis://:s3cret-pw@cache.internal:6380/2"
    level, message = startup_message()
    assert level == logging.INFO
    assert message == "✅ Redis cache configured: redis://:***@cache.internal:6380/2"
    settings.REDIS_URL = ""
    level, message = startup_message()
    assert level == logging.WARNING and "REDIS_URL" in message and "local-memory" in message and "inline" in message
