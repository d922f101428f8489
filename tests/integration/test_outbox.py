"""The outbox's life cycle (eventcache/relay/): the sweep delivers what a dead writer left unsent and re-sends
what no worker confirmed, the worker's confirmation marks rows processed, old processed rows are pruned,
a Redis outage keeps rows unsent without failing the write, and recovery applies them inline."""

import datetime as dt
import logging
import os
import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone

from eventcache.models import OutboxEvent
from eventcache.relay import outbox as outbox_sql
from eventcache.relay import publish, recovery, sweep
from eventcache.store import readthrough
from planner import cache as planner_cache
from planner.models import Recipe
from tests.fixtures.events import outbox_row_locked_elsewhere, queued_tasks

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(family_world, outbox, broker_conn, redis_conn):
    broker_conn.flushdb()
    return family_world


def left_by_a_dead_writer(recipe, *, age_seconds):
    """An outbox row as the triggers leave it when the writer dies before its flush: committed, unsent.
    (Rows written straight into the outbox are not a captured write, so nothing flushes them.)"""
    row = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": recipe.id})
    OutboxEvent.objects.filter(id=row.id).update(created_at=timezone.now() - dt.timedelta(seconds=age_seconds))
    return row


def aged(row, **fields):
    OutboxEvent.objects.filter(id=row.id).update(**fields)
    row.refresh_from_db()
    return row


def test_sweep_delivers_rows_left_unsent_after_the_grace_period(world, settings, broker_conn):
    settings.OUTBOX_UNSENT_GRACE_SECONDS = 5
    old = left_by_a_dead_writer(world["soup"], age_seconds=6)
    young = left_by_a_dead_writer(world["salad"], age_seconds=0)  # its writer may still be flushing

    counts = sweep.sweep()

    assert counts == {"sent": 1, "resent": 0, "pruned": 0}
    ((_, (events, outbox_ids)),) = queued_tasks(broker_conn)
    assert [e["data"] for e in events] == [{"recipe_id": world["soup"].id}]
    assert outbox_ids == [old.id]
    old.refresh_from_db(), young.refresh_from_db()
    assert old.sent_at is not None and old.attempts == 1
    assert young.sent_at is None


def test_sweep_resends_rows_no_worker_confirmed(world, settings, broker_conn):
    settings.OUTBOX_RESEND_AFTER_SECONDS = 30
    now = timezone.now()
    lost = aged(
        left_by_a_dead_writer(world["soup"], age_seconds=60), sent_at=now - dt.timedelta(seconds=31), attempts=1
    )
    in_flight = aged(left_by_a_dead_writer(world["salad"], age_seconds=60), sent_at=now, attempts=1)

    assert sweep.sweep() == {"sent": 0, "resent": 1, "pruned": 0}

    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [lost.id]
    lost.refresh_from_db(), in_flight.refresh_from_db()
    assert lost.attempts == 2 and lost.sent_at > now
    assert in_flight.attempts == 1


def test_mark_processed_is_idempotent_and_processed_rows_are_never_resent(world, settings, broker_conn):
    row = left_by_a_dead_writer(world["soup"], age_seconds=3600)

    assert outbox_sql.mark_processed([row.id]) == 1
    first = OutboxEvent.objects.get(id=row.id).processed_at
    assert outbox_sql.mark_processed([row.id]) == 0  # a redelivered batch confirms again: harmless
    assert OutboxEvent.objects.get(id=row.id).processed_at == first

    assert sweep.sweep()["sent"] == sweep.sweep()["resent"] == 0
    assert publish.flush() == 0
    assert broker_conn.llen("cache") == 0


def test_sweep_prunes_old_processed_rows_in_chunks(world, settings, monkeypatch):
    settings.OUTBOX_RETENTION_SECONDS = 3600
    monkeypatch.setattr(outbox_sql, "ID_CHUNK", 3)
    now = timezone.now()
    old = OutboxEvent.objects.bulk_create(
        OutboxEvent(kind="recipe.changed", data={"recipe_id": world["soup"].id}) for _ in range(7)
    )
    OutboxEvent.objects.filter(id__in=[r.id for r in old]).update(
        sent_at=now - dt.timedelta(hours=2), processed_at=now - dt.timedelta(hours=2)
    )
    recent = aged(left_by_a_dead_writer(world["soup"], age_seconds=0), sent_at=now, processed_at=now)
    pending = left_by_a_dead_writer(world["salad"], age_seconds=0)

    assert sweep.sweep()["pruned"] == 7
    assert set(OutboxEvent.objects.values_list("id", flat=True)) == {recent.id, pending.id}


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql", "pgsql"),
    reason="VACUUM is PostgreSQL's",
)
def _vacuum_count():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'events_outbox'")
        return cursor.fetchone()[0]


def _vacuumed_since(before) -> bool:
    """The statistics collector reports with a short delay; wait for it, bounded."""
    from django.db import connection

    for _ in range(50):
        connection.close()
        if _vacuum_count() > before:
            return True
        threading.Event().wait(0.1)
    return False


def test_a_large_prune_vacuums_the_outbox_so_its_space_is_reused(world, settings, monkeypatch):
    settings.OUTBOX_RETENTION_SECONDS = 3600
    monkeypatch.setattr(sweep, "VACUUM_AFTER_PRUNED", 5)
    monkeypatch.setattr(sweep, "_last_vacuum", time.monotonic())  # the periodic vacuum is not due
    old = timezone.now() - dt.timedelta(hours=2)
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(kind="recipe.changed", data={"recipe_id": world["soup"].id}) for _ in range(6)
    )
    OutboxEvent.objects.filter(id__in=[r.id for r in rows]).update(sent_at=old, processed_at=old)
    before = _vacuum_count()

    assert sweep.sweep()["pruned"] == 6
    assert _vacuumed_since(before)


def test_the_sweep_vacuums_the_outbox_periodically_and_not_on_every_run(world, monkeypatch):
    """Dead row versions (every row is updated when sent and when processed) must not pile up in the indexes
    when autovacuum is off or behind."""
    monkeypatch.setattr(sweep, "_last_vacuum", float("-inf"))
    before = _vacuum_count()
    sweep.sweep()  # nothing to prune, but the interval has passed
    assert _vacuumed_since(before)

    after_first = _vacuum_count()
    sweep.sweep()  # within the interval: no second vacuum
    threading.Event().wait(0.7)
    assert _vacuum_count() == after_first


def test_a_redis_outage_keeps_the_rows_and_the_write(world, settings, caplog, monkeypatch):
    monkeypatch.setattr(readthrough, "_health", readthrough._Health())  # this test's outage stays in this test
    readthrough.register_recovery_callback(recovery.recover_after_outage)
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": dead}}
    settings.CELERY_BROKER_URL = dead
    soup = world["soup"]

    with caplog.at_level(logging.WARNING, logger="eventcache.relay"), transaction.atomic():
        Recipe.objects.filter(id=soup.id).update(title="Written while Redis was down")

    assert Recipe.objects.get(id=soup.id).title == "Written while Redis was down"
    row = OutboxEvent.objects.get()
    assert row.sent_at is None and row.attempts == 0
    assert "kept in the outbox" in caplog.text
    assert readthrough.is_degraded()  # so the first read after Redis returns runs the recovery first


def test_recovery_applies_pending_events_inline_and_marks_them(world, redis_conn):
    soup, salad = world["soup"], world["salad"]
    for recipe in (soup, salad):
        readthrough.read(planner_cache.recipe(recipe.id), lambda: {"title": "cached before the outage"})
    rows = [left_by_a_dead_writer(soup, age_seconds=0), left_by_a_dead_writer(soup, age_seconds=0)]

    assert recovery.recover_after_outage() == 2

    assert not readthrough.read(planner_cache.recipe(soup.id), lambda: {"title": "new"}).hit
    assert readthrough.read(planner_cache.recipe(salad.id), lambda: {"title": "new"}).hit  # untouched
    assert OutboxEvent.objects.filter(id__in=[r.id for r in rows], processed_at__isnull=False).count() == 2
    assert recovery.recover_after_outage() == 0


def test_claimed_rows_are_skipped_by_a_concurrent_flush(world, broker_conn):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite has one writer")
    row = left_by_a_dead_writer(world["soup"], age_seconds=0)
    with outbox_row_locked_elsewhere(row.id):  # another relay claimed it
        assert publish.flush() == 0  # SKIP LOCKED: neither blocks nor sends the row twice
    assert broker_conn.llen("cache") == 0
    assert publish.flush() == 1


def test_a_row_that_is_not_a_valid_event_is_logged_and_closed_not_resent(world, broker_conn, caplog):
    bad = OutboxEvent.objects.create(kind="recipe.exploded", data={"recipe_id": world["soup"].id})
    good = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": world["soup"].id})

    with caplog.at_level(logging.ERROR, logger="eventcache.relay"):
        assert publish.flush() == 2

    assert f"outbox row {bad.id} is not a valid event" in caplog.text
    ((_, (events, outbox_ids)),) = queued_tasks(broker_conn)
    assert [e["kind"] for e in events] == ["recipe.changed"] and outbox_ids == [good.id]
    bad.refresh_from_db()
    assert bad.processed_at is not None  # closed: the sweep will never re-send it
