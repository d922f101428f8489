"""A web process killed between its commit and its publish loses no invalidation (issue 4, item 1).

The web app runs in a subprocess on tests/faults/crash_settings.py, whose test-only app (tests/faults/crash_app.py)
SIGKILLs the process from a receiver of the relay's `delivering` signal: after the write committed (the trigger's
outbox row with it) and before anything reached Redis.
An invalidation held only in memory would be gone; the outbox row is not, and the sweep delivers it to a
real worker, which drops or rebuilds every dependent key within the 10-second bound.
"""

import http.client
import os
import signal
import time
import urllib.error

import pytest

from eventcache.models import OutboxEvent
from eventcache.relay import sweep
from planner import cache
from planner.models import Recipe
from tests.fixtures.worker import CHANGE, OLD_TITLE, REPO_DIR, outbox_drained, raw_cache_value, stale_keys, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BOUND_SECONDS = 10  # from the crash to every dependent key invalidated
PASSWORD = "pw-123456789"  # tests/fixtures/worker.py's users


def test_a_write_whose_process_dies_before_publishing_is_delivered_by_the_sweep(
    warm_world, start_worker_process, start_web_process, redis_conn
):
    recipe = warm_world.recipe
    recipe_key = cache.recipe(recipe.id)
    worker = start_worker_process()  # up before the crash: the bound measures the recovery, not a cold start
    web = start_web_process(
        DJANGO_SETTINGS_MODULE="tests.faults.crash_settings",
        PYTHONPATH=os.pathsep.join([str(REPO_DIR / "backend"), str(REPO_DIR)]),  # `tests` for the settings module
    )
    client = web.session()
    client.login(recipe.author.username, PASSWORD)
    status, headers, body = client.request("GET", f"/api/recipes/{recipe.id}/")
    assert status == 200 and body["title"] == OLD_TITLE
    assert OLD_TITLE.encode() in raw_cache_value(redis_conn, recipe_key)

    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        client.request("PATCH", f"/api/recipes/{recipe.id}/", CHANGE)
    assert web.proc.wait(10) == -signal.SIGKILL, web.log()
    crashed_at = time.monotonic()

    # The write committed with its event, but nothing was published: every dependent key is still stale.
    assert Recipe.objects.get(id=recipe.id).title == CHANGE["title"]
    assert OutboxEvent.objects.filter(
        kind="recipe.changed", data={"recipe_id": recipe.id}, sent_at__isnull=True
    ).exists()
    assert sorted(stale_keys(redis_conn, warm_world)) == sorted(k.name for k in warm_world.related_keys())
    assert OLD_TITLE.encode() in raw_cache_value(redis_conn, recipe_key)

    def delivered():
        sweep.sweep()  # what beat runs every OUTBOX_SWEEP_SECONDS
        value = raw_cache_value(redis_conn, recipe_key)
        return not stale_keys(redis_conn, warm_world) and (value is None or OLD_TITLE.encode() not in value)

    assert wait_until(delivered, BOUND_SECONDS - (time.monotonic() - crashed_at), interval=0.2), worker.log()
    assert wait_until(outbox_drained, 5), worker.log()
    for key in warm_world.unrelated_keys():
        assert raw_cache_value(redis_conn, key) is not None  # exact: nothing else was dropped
