"""eventcache/tasks.py (and the worker's small helpers): argument checks, rejection counting, retries.

Fast: the cache is fakeredis (tests.fixtures.caching.fake_redis), tasks run in this process through Celery's
`apply()` (same code, arguments and retry policy as in the worker). The real worker is tested in
tests/integration/test_worker.py and tests/faults/.
"""

import time

import pytest
from celery import signals
from redis.exceptions import RedisError

from config.celery import app
from eventcache import stats, tasks
from eventcache.models import OutboxEvent
from eventcache.store import ops
from planner import cache as planner_cache


def recipe_event(recipe_id, event_id=1, at=None):
    return {"v": 1, "id": event_id, "kind": "recipe.changed", "at": at or time.time(), "data": {"recipe_id": recipe_id}}


@pytest.mark.parametrize(
    "events, outbox_ids",
    [("not a list", []), ({"v": 1}, [1]), (None, None), ([], "1,2"), ([], [0]), ([], [True]), ([], [1.5])],
)
def test_malformed_arguments_are_counted_and_dropped(fake_redis, events, outbox_ids):
    result = tasks.process_events.apply(args=[events, outbox_ids])

    assert result.successful()  # not a failure, so never retried
    assert result.get() == {"events": 0, "rejected": 1}
    assert stats.snapshot().get(stats.EVENTS_REJECTED) == 1


def test_a_batch_applies_its_valid_events_and_counts_the_others(db, fake_redis):
    from tests.factories import RecipeFactory

    recipe = RecipeFactory(author__username="cook", title="Soup")
    row = OutboxEvent.objects.filter(kind="recipe.changed").latest("id")
    fake_redis.set(ops.full_name(planner_cache.recipe(recipe.id).name), b'{"ns":"1","body":{}}')
    garbage = [
        {"v": 2, "kind": "recipe.changed"},
        {"v": 1, "id": 5, "kind": "no.such.kind", "at": 1.0, "data": {}},
        "x",
    ]

    summary = tasks.process_events.apply(args=[[recipe_event(recipe.id, row.id), *garbage], [row.id]]).get()

    assert summary["events"] == 4 and summary["rejected"] == 3 and summary["keys_dropped"] >= 1
    assert fake_redis.get(ops.full_name(planner_cache.recipe(recipe.id).name)) is None
    assert stats.snapshot()[stats.EVENTS_REJECTED] == 3
    row.refresh_from_db()
    assert row.processed_at is not None


def test_redis_errors_are_retried_then_fail_loudly_leaving_the_rows_for_the_sweep(db, fake_redis):
    from tests.factories import RecipeFactory

    recipe = RecipeFactory(author__username="cook", title="Soup")
    row = OutboxEvent.objects.filter(kind="recipe.changed").latest("id")
    fake_redis.connection_pool.connection_kwargs["server"].connected = False  # Redis is down
    retries = []

    def on_retry(**kwargs):
        retries.append(kwargs["request"].retries)

    signals.task_retry.connect(on_retry, weak=False)
    try:
        result = tasks.process_events.apply(args=[[recipe_event(recipe.id, row.id)], [row.id]])
    finally:
        signals.task_retry.disconnect(on_retry)

    assert result.failed() and isinstance(result.result, RedisError)
    assert len(retries) == tasks.MAX_RETRIES
    assert stats.snapshot().get("task_failures") == 1  # counted in-process while Redis is down
    row.refresh_from_db()
    assert row.processed_at is None  # the sweep re-sends it


def test_retry_policy_fits_the_broker_visibility_timeout():
    task = tasks.process_events
    assert task.acks_late and app.conf.task_reject_on_worker_lost
    assert task.retry_backoff and task.retry_jitter and task.retry_backoff_max == 60
    # A retry waits in the broker for its countdown; it must come back before kombu would redeliver it.
    assert task.retry_backoff_max < app.conf.broker_transport_options["visibility_timeout"]
    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"
