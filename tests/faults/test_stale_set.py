"""No stale sets: a fill that read the database before a write cannot land after that write's invalidation.

Deterministic: the reader's compute reads the database, then blocks on an Event; meanwhile the test commits
a change and runs the invalidation; then the reader resumes and tries to fill. Real Redis and PostgreSQL."""

import json
import threading

import pytest
from django.db import connection

from eventcache.store import invalidation, ops, readthrough
from planner import cache as planner_cache
from tests.factories import RecipeFactory

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WAIT = 10  # seconds; only a bound for a broken test, never slept


class PausedReader(threading.Thread):
    """Runs `action(compute)` in a thread; `compute` reads with `read_db` and then waits for `resume`."""

    def __init__(self, action, read_db):
        super().__init__(daemon=True)
        self.action, self.read_db = action, read_db
        self.has_read, self.resume = threading.Event(), threading.Event()
        self.result = self.error = None

    def compute(self):
        payload = self.read_db()
        self.has_read.set()
        assert self.resume.wait(WAIT)
        return payload

    def run(self):
        try:
            self.result = self.action(self.compute)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def recipe(transactional_db):
    return RecipeFactory(author__username="cook", title="Old title")


def cached_title(conn, key):
    raw = conn.get(ops.full_name(key.name))
    return None if raw is None else json.loads(raw)["body"]["title"]


def run_race(recipe, conn, action, invalidate):
    from planner import payloads
    from planner.models import Recipe

    key = planner_cache.recipe(recipe.id)
    reader = PausedReader(action, lambda: payloads.recipe_detail(recipe.id))
    reader.start()
    assert reader.has_read.wait(WAIT)  # the reader holds the OLD row, not yet written to the cache

    Recipe.objects.filter(pk=recipe.pk).update(title="New title")  # autocommit: committed here
    invalidate(key)

    reader.resume.set()
    reader.join(WAIT)
    assert not reader.is_alive() and reader.error is None
    return key, reader


def test_a_paused_read_through_fill_never_lands_after_the_invalidation(real_cache, recipe):
    def invalidate(key):
        invalidation.apply_events([planner_cache.RecipeChanged(id=1, at=0.0, recipe_id=recipe.id)])

    key, reader = run_race(
        recipe, real_cache, lambda compute: readthrough.read(planner_cache.recipe(recipe.id), compute), invalidate
    )

    assert reader.result.hit is False and json.loads(reader.result.body)["title"] == "Old title"  # served once
    assert cached_title(real_cache, key) in (None, "New title")  # but never stored
    from planner import payloads

    assert json.loads(readthrough.read(key, lambda: payloads.recipe_detail(recipe.id)).body)["title"] == "New title"


def test_a_paused_refresh_never_lands_after_the_invalidation(real_cache, recipe):
    readthrough.read(planner_cache.recipe(recipe.id), lambda: {"title": "Old title"})

    def refresh(compute):
        return readthrough.refresh(planner_cache.recipe(recipe.id), compute)

    key, reader = run_race(recipe, real_cache, refresh, lambda key: ops.invalidate([key]))

    assert reader.result is False
    assert cached_title(real_cache, key) in (None, "New title")


def test_a_namespace_bump_during_the_computation_also_voids_the_value(real_cache, recipe):
    listing = planner_cache.recipe_list(None, 1)

    def read_listing(compute):
        return readthrough.read(listing, compute)

    def bump(key):
        invalidation.invalidate_family("recipe_list")

    from planner import payloads

    reader = PausedReader(read_listing, lambda: payloads.recipe_list(None, 1))
    reader.start()
    assert reader.has_read.wait(WAIT)
    type(recipe).objects.filter(pk=recipe.pk).update(title="New title")
    bump(listing)
    reader.resume.set()
    reader.join(WAIT)
    assert reader.error is None
    fresh = readthrough.read(listing, lambda: payloads.recipe_list(None, 1))
    assert json.loads(fresh.body)["results"][0]["title"] == "New title"
