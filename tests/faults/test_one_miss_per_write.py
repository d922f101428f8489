"""One miss per write (issue 13 item 2): a value filled after a write committed survives that write's later
invalidation passes (the writer's drop, the pub/sub listener's, the worker task's), so each dependent key is
computed once per write, however many readers there are. Real Redis and PostgreSQL; the passes are the engine's
own functions, run in the order the processes run them, with bursts of concurrent readers between them."""

import dataclasses
import json
import threading

import pytest

from eventcache import stats
from eventcache.models import OutboxEvent
from eventcache.relay import dedup, outbox
from eventcache.store import invalidation, readthrough
from planner import cache as planner_cache
from planner import payloads

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WRITES = 10
READERS = 4


def computations(family):
    return stats.snapshot().get(stats.family_counter(family.name, stats.COMPUTATIONS), 0)


def burst(keys):
    """READERS threads each reading every key twice at once."""

    def read_all():
        from django.db import connection

        try:
            for _ in range(2):
                for key, compute in keys:
                    readthrough.read(key, compute)
        finally:
            connection.close()

    threads = [threading.Thread(target=read_all) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def run_writes(recipe, *, strip_xids=False):
    """Computations per write per dependent key after WRITES writes, each followed by its three passes."""
    from planner.models import Recipe

    keys = [(planner_cache.recipe(recipe.id), lambda: payloads.recipe_detail(recipe.id))]
    burst(keys)
    before = computations(planner_cache.RECIPE)
    for n in range(WRITES):
        since = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        Recipe.objects.filter(pk=recipe.pk).update(title=f"Title {n}")
        events, _ = dedup.deduplicate(outbox.rows_of(OutboxEvent.objects.filter(id__gt=since).order_by("id")))
        assert events and all(event.xids for event in events)
        if strip_xids:
            events = [dataclasses.replace(event, xids=()) for event in events]
        for invalidate in (invalidation.drop_primary_keys, invalidation.drop_touched, invalidation.apply_events):
            invalidate(events)
            burst(keys)
        value = readthrough.read(*keys[0])
        assert value.hit and f'"title":"Title {n}"' in value.body.decode()
    return (computations(planner_cache.RECIPE) - before) / WRITES


@pytest.fixture
def recipe(transactional_db):
    from django.contrib.auth.models import User

    from planner.models import Recipe

    return Recipe.objects.create(author=User.objects.create_user("cook"), title="Old title")


def test_each_write_costs_each_dependent_key_one_computation(real_cache, recipe):
    assert run_writes(recipe) == 1.0


def test_without_the_writes_xids_every_pass_voids_the_fresh_value(real_cache, recipe):
    """The control: what every write cost before (one computation per pass)."""
    assert run_writes(recipe, strip_xids=True) == 3.0


def test_a_batch_merging_writes_of_several_transactions_costs_the_key_one_computation(real_cache, recipe):
    """The worker's batch (and a flush outside a request) merges equal rows of several transactions into one event
    naming every xid (relay/dedup.py); a value filled after the last of them survives that event's passes."""
    from planner.models import Recipe

    keys = [(planner_cache.recipe(recipe.id), lambda: payloads.recipe_detail(recipe.id))]
    burst(keys)
    since = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for n in range(3):  # three transactions, each followed by its writer's own drop
        Recipe.objects.filter(pk=recipe.pk).update(title=f"Title {n}")
        row = outbox.rows_of(OutboxEvent.objects.filter(id__gt=since).order_by("-id")[:1])
        invalidation.drop_primary_keys(dedup.deduplicate(row)[0])
    before = computations(planner_cache.RECIPE)
    burst(keys)  # filled after every commit
    events, covered = dedup.deduplicate(outbox.rows_of(OutboxEvent.objects.filter(id__gt=since).order_by("id")))
    assert len(events) == 1 and len(events[0].xids) == 3 and len(covered[events[0].id]) == 3
    for invalidate in (invalidation.drop_touched, invalidation.apply_events):
        invalidate(events)
        burst(keys)
    assert computations(planner_cache.RECIPE) - before == 1
    assert readthrough.read(*keys[0]).hit


@pytest.mark.worker
def test_over_http_with_a_real_worker_each_write_costs_the_recipe_one_computation(
    world, worker_thread, redis_conn, settings
):
    """PATCHes over the Django test client while 4 threads GET the recipe without pause; the writer's drop runs at
    commit in the request, the worker's task applies the batch. Each write costs its key one computation."""
    import time

    from django.test import Client

    from tests.fixtures.worker import outbox_drained, patch_recipe, wait_until

    assert wait_until(outbox_drained, 10), "the set-up's own events were not processed"
    recipe = world.recipe
    url = f"/api/recipes/{recipe.id}/"
    stop, errors = threading.Event(), []

    def logged_in():
        client = Client()
        client.force_login(recipe.author)
        return client

    def reader():
        from django.db import connection

        client = logged_in()
        try:
            while not stop.is_set():
                response = client.get(url)
                if response.status_code != 200:
                    errors.append(response.status_code)
        finally:
            connection.close()

    assert logged_in().get(url).status_code == 200  # warm
    before = computations(planner_cache.RECIPE)
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    try:
        for n in range(5):
            patch_recipe(recipe, {"title": f"Title {n}"})
            assert wait_until(outbox_drained, 10), "the worker did not apply the write"
            time.sleep(0.2)  # reads keep hitting the value filled after the commit
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors
    assert (computations(planner_cache.RECIPE) - before) / 5 == 1.0
    assert json.loads(logged_in().get(url).content)["title"] == "Title 4"
