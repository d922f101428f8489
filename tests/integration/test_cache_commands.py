"""`manage.py invalidate` and `manage.py cache_stats` on the real Redis."""

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from eventcache.store import readthrough
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
        "meal_plan": planner_cache.meal_plan(dt.date(2030, 1, 7), 1),
        "shopping_lists": planner_cache.shopping_lists(1),
        "preferences": planner_cache.preferences(1),
        "identity": planner_cache.identity(1),
        "config": planner_cache.static_config("units"),
    }[family]
    bystander = planner_cache.recipe(2) if family != "recipe" else planner_cache.preferences(2)
    readthrough.read(key, lambda: {"v": 1})
    readthrough.read(bystander, lambda: {"v": 1})
    said = run("invalidate", family)
    where = "Redis Cluster" if settings.REDIS_CLUSTER_URL else "Redis"
    assert (
        f"invalidated every {family} key ({planner_cache.DOMAIN.families_by_name[family].pattern}) in {where} at "
        "redis://127.0.0.1:" in said
    )
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
    settings.REDIS_CLUSTER_URL = ""
    level, message = startup_message()
    assert level == logging.INFO
    assert message == "✅ Redis cache configured: redis://:***@cache.internal:6380/2"
    settings.REDIS_CLUSTER_URL = "redis://app:s3cret@node-a:7000,node-b:7001"
    assert startup_message() == (
        logging.INFO,
        "✅ Redis Cluster cache configured: redis://app:***@node-a:7000,node-b:7001",
    )
    settings.REDIS_CLUSTER_URL = ""
    settings.REDIS_URL = ""
    level, message = startup_message()
    assert level == logging.WARNING and "REDIS_URL" in message and "local-memory" in message and "inline" in message


# --- Not Redis, or a Redis that does not answer: exit 1 with one line naming the cache, never a silent success ---

MANAGE = Path(__file__).resolve().parents[2] / "backend" / "manage.py"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage_without_the_tests_redis(*args, redis_url):
    """manage.py as a developer runs it, with REDIS_URL unset (None) or pointing where nothing answers."""
    gone = {"REDIS_URL", "TEST_REDIS_URL", "REDIS_CLUSTER_URL", "TEST_REDIS_CLUSTER_URL", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in gone}
    env.update(DEBUG="1", DATABASE_URL="", **({"REDIS_URL": redis_url} if redis_url else {}))
    return subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [("invalidate", "recipe"), ("cache_stats",), ("cache_stats", "--json")])
@pytest.mark.parametrize("redis", ["unset", "not answering"])
def test_commands_fail_loudly_naming_the_cache_they_would_use(command, redis, real_cache):
    port = _free_port()
    redis_url = None if redis == "unset" else f"redis://127.0.0.1:{port}/0"
    real_cache.set("recipe_planner:1:ns:{recipe}", 7)  # the tests' own Redis: it must not be the one touched

    result = _manage_without_the_tests_redis(*command, redis_url=redis_url)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    if redis == "unset":
        assert last.startswith("CommandError: nothing done: the cache is this process's local-memory cache"), last
    else:
        assert last == (
            f"CommandError: nothing done: Redis at redis://127.0.0.1:{port}/0 does not answer "
            "(is REDIS_URL right, is Redis up?)"
        )
    assert real_cache.get("recipe_planner:1:ns:{recipe}") == b"7"


def test_cache_stats_counts_dependents_look_ups_by_whom(real_cache):
    """A worker's batch looks its events' dependents up once each: counted as the task's (the listener's and the
    writer's are counted the same way; tests/integration/test_many_workers.py counts them with real workers)."""
    from eventcache.consume import apply as consume
    from eventcache.models import OutboxEvent
    from tests.factories import RecipeFactory

    RecipeFactory()
    rows = list(OutboxEvent.objects.filter(processed_at__isnull=True).values_list("id", flat=True))
    assert rows

    consume.apply_message([], rows)

    counters = json.loads(run("cache_stats", "--json"))["counters"]
    assert counters["dependents_lookups:task"] == len(rows)
    assert "dependents_lookups:listener" not in counters
