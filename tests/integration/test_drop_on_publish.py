"""eventcache/consume/listener.py's drop on publish, against real Redis and PostgreSQL: the worker's pub/sub listener drops
every key a write touches as soon as the event is published - before any Celery task runs - and records when in
the outbox row (dropped_at); the event is still queued for the task, which is the guarantee."""

import time

import pytest
from django.core.signals import request_finished, request_started

from eventcache import stats
from eventcache.consume import listener as monitor_module
from eventcache.models import OutboxEvent
from eventcache.store import readthrough
from planner import cache
from planner.models import Recipe
from tests.fixtures.events import queued_tasks
from tests.fixtures.worker import raw_cache_value, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DROP_SECONDS = 2.0  # a bound for a busy machine; the bench measures the real figure (scenario "lag")


@pytest.fixture
def world(family_world, outbox, broker_conn, redis_conn):
    broker_conn.flushdb()
    return family_world


@pytest.fixture
def listener(settings):
    """A running EventMonitor (the worker's listener) in a thread of this process."""

    def start(drop_keys=True):
        settings.EVENTS_DROP_ON_PUBLISH = drop_keys
        started.append(monitor_module.EventMonitor())
        started[-1].start()
        assert started[-1].subscribed.wait(5), "the listener did not subscribe"
        return started[-1]

    started = []
    yield start
    for monitor in started:
        monitor.stop()


def _keys(world):
    plan = world["plan"]
    touched = [cache.meal_plan(plan.date, plan.family_id), cache.shopping_lists(world["alice"].id)]  # her list's day
    # bob (alice's family) has no list showing the plan's day; carol is in another family
    return touched, [cache.shopping_lists(world["bob"].id), cache.shopping_lists(world["carol"].id)]


def _fill(*cache_keys):
    for key in cache_keys:
        readthrough.read(key, lambda: {"before": True})
        assert readthrough.read(key, lambda: None).hit


def _write_in_a_request(recipe):
    request_started.send(sender=None)
    try:
        Recipe.objects.filter(id=recipe.id).update(title="Leek soup")
    finally:
        request_finished.send(sender=None)  # the response is out: the relay publishes and queues


def test_the_listener_drops_every_touched_key_before_any_task_and_records_it(world, listener, redis_conn, broker_conn):
    touched, untouched = _keys(world)
    _fill(*touched, *untouched)
    listener()

    _write_in_a_request(world["soup"])

    assert wait_until(lambda: not any(raw_cache_value(redis_conn, key) for key in touched), DROP_SECONDS)
    assert all(raw_cache_value(redis_conn, key) is not None for key in untouched)
    assert wait_until(lambda: OutboxEvent.objects.get().dropped_at is not None, DROP_SECONDS)
    row = OutboxEvent.objects.get()
    assert row.created_at <= row.dropped_at and row.processed_at is None  # no worker ran: only the listener
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [row.id]  # still queued: the task applies it again from the outbox


def test_with_drop_on_publish_off_the_listener_only_observes(world, listener, redis_conn):
    touched, _ = _keys(world)
    _fill(*touched)
    seen_before = stats.snapshot().get(stats.EVENTS_SEEN, 0)
    listener(drop_keys=False)

    _write_in_a_request(world["soup"])

    assert wait_until(lambda: stats.snapshot().get(stats.EVENTS_SEEN, 0) > seen_before, DROP_SECONDS)
    assert all(raw_cache_value(redis_conn, key) for key in touched)  # left to the worker's task
    assert OutboxEvent.objects.get().dropped_at is None


def test_a_failed_drop_is_logged_and_counted_and_never_raises(world, settings, redis_down):
    settings.EVENTS_DROP_ON_PUBLISH = True
    Recipe.objects.filter(id=world["soup"].id).update(title="Leek soup")  # outside a request: flush() (Redis down)
    row = OutboxEvent.objects.get()
    event = monitor_module.EventMonitor().handle(
        f'{{"v":1,"id":{row.id},"kind":"recipe.changed","at":1,"data":{{"recipe_id":{world["soup"].id}}}}}'
    )

    assert monitor_module.EventMonitor().drop([event]) == 0
    assert stats.snapshot()[monitor_module.DROP_FAILURES] == 1
    row.refresh_from_db()
    assert row.dropped_at is None


def test_messages_waiting_together_are_dropped_as_one_batch(world, redis_conn, monkeypatch):
    """Two writes published back to back reach one drop (one look-up, one Redis round trip)."""
    from eventcache import events as schema

    batches = []
    monitor = monitor_module.EventMonitor()
    monkeypatch.setattr(monitor, "drop", lambda events: batches.append(events) or len(events))
    messages = [
        {"type": "message", "data": schema.encode(cache.RecipeChanged(id=i, at=1.0, recipe_id=world["soup"].id))}
        for i in (1, 2)
    ]

    class Waiting:  # what redis-py's PubSub.get_message(timeout=0) returns while messages are waiting
        def get_message(self, timeout):
            return messages.pop(0) if messages else None

    monitor._receive(Waiting(), {"type": "subscribe", "data": 1})
    assert [[e.id for e in batch] for batch in batches] == [[1, 2]]


def test_dropped_at_is_written_after_the_drop_with_the_time_of_the_drop(world, settings):
    """The listener keeps the times and writes them in one statement while the channel is quiet (or when many
    are waiting), so the bookkeeping never delays the next drop."""
    settings.EVENTS_DROP_ON_PUBLISH = True
    Recipe.objects.filter(id=world["soup"].id).update(title="Leek soup")
    row = OutboxEvent.objects.get()
    monitor = monitor_module.EventMonitor()
    event = monitor.handle(
        f'{{"v":1,"id":{row.id},"kind":"recipe.changed","at":1,"data":{{"recipe_id":{world["soup"].id}}}}}'
    )

    before = time.time()
    assert monitor.drop([event]) == 1
    after = time.time()
    row.refresh_from_db()
    assert row.dropped_at is None  # not written yet

    monitor.mark_dropped()
    row.refresh_from_db()
    assert before <= row.dropped_at.timestamp() <= after
    monitor.drop([event])  # dropped again (a re-send): the first time stays
    monitor.mark_dropped()
    row.refresh_from_db()
    assert row.dropped_at.timestamp() <= after


def test_a_row_a_task_holds_is_never_waited_for_and_gets_its_dropped_at_later(world, settings):
    """Waiting for a batch's row lock could deadlock with that batch's claim: the mark skips the row and the
    listener tries it again at its next quiet moment, with the time of the drop."""
    from tests.fixtures.events import outbox_row_locked_elsewhere

    settings.EVENTS_DROP_ON_PUBLISH = True
    Recipe.objects.filter(id=world["soup"].id).update(title="Leek soup")
    row = OutboxEvent.objects.get()
    monitor = monitor_module.EventMonitor()
    event = monitor.handle(
        f'{{"v":1,"id":{row.id},"kind":"recipe.changed","at":1,"data":{{"recipe_id":{world["soup"].id}}}}}'
    )
    monitor.drop([event])
    dropped = time.time()

    with outbox_row_locked_elsewhere(row.id):
        started = time.monotonic()
        monitor.mark_dropped()
        assert time.monotonic() - started < 1.0  # not waited for
        row.refresh_from_db()
        assert row.dropped_at is None

    monitor.mark_dropped()
    row.refresh_from_db()
    assert row.dropped_at is not None and row.dropped_at.timestamp() <= dropped
