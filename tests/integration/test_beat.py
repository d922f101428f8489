"""Beat's schedule and its three periodic tasks, each run against the real Redis and database.

The tasks run in this process through Celery (`.apply()`: the same task code, arguments and retry policy
the worker uses); what they write is read back raw from Redis.
"""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from config.celery import app
from eventcache import tasks
from eventcache.models import OutboxEvent
from eventcache.store import hotness, ops
from planner import cache
from planner.models import UserPreferences
from tests.fixtures.events import queued_tasks
from tests.fixtures.worker import raw_cache_value

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_schedule_has_the_outbox_sweep_hot_list_refresh_and_preference_refresh():
    scheduled = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert set(scheduled) == {
        "eventcache.tasks.sweep_outbox",
        "eventcache.tasks.refresh_hot_lists",
        "eventcache.tasks.refresh_preferences",
    }
    assert all(name in app.tasks for name in scheduled)  # beat sends names the worker knows
    # Preferences live 24 h: refreshing hourly keeps every active user's entry warm long before it expires.
    assert (
        dt.timedelta(seconds=0) < _as_delta(scheduled["eventcache.tasks.refresh_preferences"]) < dt.timedelta(hours=24)
    )
    assert _as_delta(scheduled["eventcache.tasks.refresh_hot_lists"]) < dt.timedelta(seconds=cache.SHOPPING_LISTS.ttl)
    assert _as_delta(scheduled["eventcache.tasks.sweep_outbox"]) <= dt.timedelta(
        seconds=settings.OUTBOX_RESEND_AFTER_SECONDS
    )


def _as_delta(schedule) -> dt.timedelta:
    return schedule if isinstance(schedule, dt.timedelta) else dt.timedelta(seconds=schedule)


def test_refresh_preferences_caches_active_users_with_a_jittered_24_hour_ttl(redis_conn):
    users = get_user_model().objects
    active = [users.create_user(f"active{i}", last_login=timezone.now()) for i in range(5)]
    for user in active:
        UserPreferences.objects.create(user=user, diet="vegan", default_servings=3)
    idle = users.create_user(
        "idle", last_login=timezone.now() - dt.timedelta(days=settings.PREFERENCES_ACTIVE_DAYS + 1)
    )
    redis_conn.flushdb()  # drop whatever the set-up's own events left

    tasks.refresh_preferences.apply().get()

    for user in active:
        key = cache.preferences(user.id)
        assert b'"vegan"' in raw_cache_value(redis_conn, key)
        ttl = redis_conn.ttl(ops.full_name(key.name))
        assert cache.PREFERENCES.ttl - settings.PREFERENCES_TTL_JITTER_SECONDS <= ttl <= cache.PREFERENCES.ttl
    assert raw_cache_value(redis_conn, cache.preferences(idle.id)) is None


def test_refresh_hot_lists_refills_the_hottest_lists(world, redis_conn):
    from django.test import Client

    hot, cold = world.members[0], world.members[1]
    client = Client()
    client.force_login(hot)
    assert client.get("/api/shopping-lists/").status_code == 200
    assert cache.shopping_lists(hot.id) in hotness.hottest(cache.SHOPPING_LISTS, settings.HOT_LISTS_TOP_N)
    assert cache.shopping_lists(cold.id) not in hotness.hottest(cache.SHOPPING_LISTS, settings.HOT_LISTS_TOP_N)
    redis_conn.delete(ops.full_name(cache.shopping_lists(hot.id).name))

    tasks.refresh_hot_lists.apply().get()

    value = raw_cache_value(redis_conn, cache.shopping_lists(hot.id))
    assert value is not None and b'"flour"' in value
    assert 0 < redis_conn.ttl(ops.full_name(cache.shopping_lists(hot.id).name)) <= cache.SHOPPING_LISTS.ttl
    assert raw_cache_value(redis_conn, cache.shopping_lists(cold.id)) is None


def test_sweep_outbox_sends_rows_nobody_sent(world, broker_conn, settings):
    settings.OUTBOX_UNSENT_GRACE_SECONDS = 0
    broker_conn.flushdb()  # the set-up's own batches
    OutboxEvent.objects.update(processed_at=timezone.now())
    lost = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": world.recipe.id})  # a writer that died

    tasks.sweep_outbox.apply().get()

    lost.refresh_from_db()
    assert lost.sent_at is not None
    ((envelope, (events, outbox_ids)),) = queued_tasks(broker_conn)
    assert envelope["headers"]["task"] == "eventcache.tasks.process_events"
    assert outbox_ids == [lost.id] and events[0]["data"] == {"recipe_id": world.recipe.id}
