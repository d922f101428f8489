"""Issue 12 item 12 for the task: hostile events in a process_events message are rejected and counted, the
message's outbox rows are applied anyway, and the task never fails after applying (a failure after the apply
would retry a batch that is done, and count a failure that is not one). Real PostgreSQL outbox; the cache on
fakeredis (tests/unit/test_tasks.py's set-up)."""

import json
import time

import pytest

from eventcache import stats, tasks
from eventcache.models import OutboxEvent
from eventcache.store import ops
from planner import cache as planner_cache


def recipe_event(recipe_id, event_id, at):
    return {"v": 1, "id": event_id, "kind": "recipe.changed", "at": at, "data": {"recipe_id": recipe_id}}


@pytest.mark.parametrize(
    "at",
    [float("nan"), float("inf"), float("-inf"), 1, 1e308, -1e308, 10**400],
    ids=["nan", "inf", "-inf", "one", "1e308", "-1e308", "huge-int"],
)
@pytest.mark.parametrize("with_outbox_ids", [True, False], ids=["outbox-ids", "events-only"])
def test_a_hostile_at_never_fails_the_task(db, fake_redis, django_user_model, at, with_outbox_ids):
    from planner.models import Recipe

    recipe = Recipe.objects.create(author=django_user_model.objects.create_user("cook"), title="Soup")
    row = OutboxEvent.objects.filter(kind="recipe.changed").latest("id")
    name = ops.full_name(planner_cache.recipe(recipe.id).name)
    fake_redis.set(name, b'{"ns":"1","body":{}}')
    hostile = recipe_event(recipe.id, row.id, at)

    result = tasks.process_events.apply(args=[[hostile], [row.id] if with_outbox_ids else []])

    assert result.successful(), result.traceback
    summary = result.get()
    assert isinstance(summary["lag_ms"], int) and 0 <= summary["lag_ms"] < 86_400_000
    json.dumps(summary, allow_nan=False)  # the result is plain JSON (a result backend must be able to store it)
    if with_outbox_ids:  # the rows are the source: the write's key is dropped and the row closed
        assert fake_redis.get(name) is None
        row.refresh_from_db()
        assert row.processed_at is not None
    accepted = at in (1, 1e308)  # finite and not negative: a real event, only kept out of the lag
    assert summary["rejected"] == (0 if accepted else 1)
    assert stats.snapshot().get(stats.EVENTS_REJECTED, 0) == summary["rejected"]


def test_an_outbox_id_beyond_bigint_is_rejected_not_a_database_error(db, fake_redis):
    result = tasks.process_events.apply(args=[[recipe_event(1, 1, time.time())], [2**63]])

    assert result.successful(), result.traceback
    assert result.get() == {"events": 0, "rejected": 1}
