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


# --- With the writes' transaction ids (eventcache/store/lua/all_visible.lua) -----------------------------------
# The invalidation now spares a value or fill computed under a database snapshot that saw the write. These prove
# that a fill whose snapshot did NOT see it is still voided: before the commit, and while the write was in progress
# (its xid then lies below the snapshot's xmax but in its xip: a check against xmax alone would keep the stale fill).


def outbox_events_since(last_id):
    from eventcache.models import OutboxEvent
    from eventcache.relay import dedup, outbox

    events, _ = dedup.deduplicate(outbox.rows_of(OutboxEvent.objects.filter(id__gt=last_id).order_by("id")))
    assert events and all(event.xids for event in events), "the outbox rows carry the writing transactions' ids"
    return events


def last_outbox_id():
    from eventcache.models import OutboxEvent

    return OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def every_pass(events):
    """The writer's drop, the pub/sub listener's and the worker task's, in the order they run."""
    invalidation.drop_primary_keys(events)
    invalidation.drop_touched(events)
    invalidation.apply_events(events)


def write_in_progress(recipe):
    """A thread holding an uncommitted write of the recipe's title, until the returned event is set. Another
    transaction then commits, so the write's xid lies below every later snapshot's xmax, in its xip."""
    from django.db import transaction

    from planner.models import Recipe

    written, commit, xid = threading.Event(), threading.Event(), []

    def writer():
        try:
            with transaction.atomic():
                Recipe.objects.filter(pk=recipe.pk).update(title="New title")
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                    xid.append(cursor.fetchone()[0])
                written.set()
                assert commit.wait(WAIT)
        finally:
            connection.close()

    writing = threading.Thread(target=writer, daemon=True)
    writing.start()
    assert written.wait(WAIT)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")  # a later transaction, committed at once
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        assert xid[0] < cursor.fetchone()[0]
    return writing, commit


def test_a_fill_whose_snapshot_predates_the_commit_is_voided_by_the_writes_xid(real_cache, recipe):
    since = last_outbox_id()
    holder = {}

    def invalidate(key):
        holder["events"] = outbox_events_since(since)
        every_pass(holder["events"])

    key, reader = run_race(
        recipe, real_cache, lambda compute: readthrough.read(planner_cache.recipe(recipe.id), compute), invalidate
    )
    assert json.loads(reader.result.body)["title"] == "Old title"
    assert cached_title(real_cache, key) in (None, "New title")


def test_a_fill_whose_snapshot_saw_the_write_in_progress_is_voided(real_cache, recipe):
    from planner import payloads

    since = last_outbox_id()

    writing, commit = write_in_progress(recipe)
    key = planner_cache.recipe(recipe.id)
    reader = PausedReader(lambda compute: readthrough.read(key, compute), lambda: payloads.recipe_detail(recipe.id))
    reader.start()  # its snapshot lists the write as in progress; it reads the old row
    assert reader.has_read.wait(WAIT)
    commit.set()
    writing.join(WAIT)
    every_pass(outbox_events_since(since))
    reader.resume.set()
    reader.join(WAIT)
    assert reader.error is None and json.loads(reader.result.body)["title"] == "Old title"
    assert cached_title(real_cache, key) in (None, "New title")


def test_a_stored_value_whose_snapshot_saw_the_write_in_progress_is_deleted(real_cache, recipe):
    from planner import payloads

    key = planner_cache.recipe(recipe.id)
    since = last_outbox_id()

    writing, commit = write_in_progress(recipe)
    # A read while the write is in progress fills the old row, under a snapshot listing the write in its xip.
    assert readthrough.read(key, lambda: payloads.recipe_detail(recipe.id)).hit is False
    assert cached_title(real_cache, key) == "Old title"
    commit.set()
    writing.join(WAIT)
    every_pass(outbox_events_since(since))
    assert cached_title(real_cache, key) is None
    assert json.loads(readthrough.read(key, lambda: payloads.recipe_detail(recipe.id)).body)["title"] == "New title"


def test_an_event_merging_two_transactions_voids_a_fill_that_saw_only_the_first(real_cache, recipe):
    """Equal rows of two transactions become one event naming both xids (relay/dedup.py): a fill whose snapshot saw
    the first write but not the second must still be voided by it."""
    from eventcache.relay import watcher
    from planner import payloads
    from planner.models import Recipe

    since = last_outbox_id()
    # Without the write watcher the commits deliver nothing themselves (a flush here would apply the rows inline and
    # take the reader's lease over): the passes below are the only invalidations.
    connection.execute_wrappers.remove(watcher.notice_writes)
    try:
        Recipe.objects.filter(pk=recipe.pk).update(title="First title")  # transaction 1, committed
        key = planner_cache.recipe(recipe.id)
        reader = PausedReader(lambda compute: readthrough.read(key, compute), lambda: payloads.recipe_detail(recipe.id))
        reader.start()  # its snapshot sees transaction 1 only
        assert reader.has_read.wait(WAIT)
        Recipe.objects.filter(pk=recipe.pk).update(title="Second title")  # transaction 2, committed
    finally:
        connection.execute_wrappers.insert(0, watcher.notice_writes)
    events = outbox_events_since(since)
    assert len(events) == 1 and len(events[0].xids) == 2, "the two rows are one event naming both transactions"
    every_pass(events)
    reader.resume.set()
    reader.join(WAIT)
    assert reader.error is None and json.loads(reader.result.body)["title"] == "First title"
    assert cached_title(real_cache, key) in (None, "Second title")


def test_a_batch_spares_a_key_only_for_the_writes_that_touch_it(real_cache, recipe):
    """With per-key xids (invalidation.xids_by_target) a batch of two writes keeps the detail of recipe A filled after
    A's write, though its snapshot missed B's; but the meal plan using B, a dependent that B's batched look-up
    returns, is voided though its snapshot saw A's write."""
    import datetime as dt

    from eventcache.relay import watcher
    from planner import payloads
    from planner.models import Recipe
    from tests.factories import MealPlanFactory

    other = RecipeFactory(author=recipe.author, title="Other old title")
    day = dt.date(2030, 1, 7)
    plan = MealPlanFactory(date=day, entries=[(other, 2)])
    since = last_outbox_id()
    detail, plan_key = planner_cache.recipe(recipe.id), planner_cache.meal_plan(day, plan.family_id)
    connection.execute_wrappers.remove(watcher.notice_writes)  # the passes below are the only invalidations
    try:
        Recipe.objects.filter(pk=recipe.pk).update(title="New title")  # write A, committed
        assert readthrough.read(detail, lambda: payloads.recipe_detail(recipe.id)).hit is False  # saw A
        reader = PausedReader(
            lambda compute: readthrough.read(plan_key, compute), lambda: payloads.meal_plan(plan.family_id, day)
        )
        reader.start()  # the plan's fill sees A, not B
        assert reader.has_read.wait(WAIT)
        Recipe.objects.filter(pk=other.pk).update(title="Other new title")  # write B, committed
    finally:
        connection.execute_wrappers.insert(0, watcher.notice_writes)
    events = outbox_events_since(since)
    assert len({xid for event in events for xid in event.xids}) == 2
    invalidation.drop_touched(events)  # the listener's pass over the batch of both
    reader.resume.set()
    reader.join(WAIT)
    assert reader.error is None
    assert cached_title(real_cache, detail) == "New title"  # A's fresh value survives B's write
    raw = real_cache.get(ops.full_name(plan_key.name))
    assert raw is None or b"Other new title" in raw  # the plan using B is never stored from before B
