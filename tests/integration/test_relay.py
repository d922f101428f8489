"""eventcache/relay/ after a real commit: the events reach pub/sub and the `cache` queue of the real
broker as JSON, once per transaction and de-duplicated, and the writer has already dropped the primary
keys when the write returns (read-your-writes). Nothing is sent for a rolled-back transaction."""

import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from psycopg.sql import SQL

from eventcache import declare
from eventcache import events as schema
from eventcache.models import OutboxEvent
from eventcache.relay import commit, publish, watcher
from eventcache.relay import outbox as outbox_sql
from eventcache.store import readthrough
from planner import cache as planner_cache
from planner.models import MealPlanEntry, Recipe, RecipeIngredient
from tests.fixtures.events import queued_tasks

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(family_world, outbox, broker_conn, redis_conn):
    """family_world's setup writes were flushed as they happened; start each test with an empty outbox,
    an empty queue and an empty cache."""
    broker_conn.flushdb()
    return family_world


def test_a_committed_write_is_published_and_queued_as_json(world, event_subscriber, broker_conn):
    soup = world["soup"]

    with transaction.atomic():
        Recipe.objects.filter(id=soup.id).update(title="Leek soup")
        row = OutboxEvent.objects.get()

    (published,) = event_subscriber(expected=1)
    assert published["kind"] == "recipe.changed" and published["data"] == {"recipe_id": soup.id}
    assert schema.from_dict(published).id == row.id

    (message,) = queued_tasks(broker_conn)
    envelope, (events, outbox_ids) = message
    assert envelope["content-type"] == "application/json"
    assert envelope["headers"]["task"] == "eventcache.tasks.process_events"
    assert envelope["properties"]["delivery_info"]["routing_key"] == "cache"
    assert events == [published]
    assert outbox_ids == [row.id]

    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1 and row.processed_at is None


def test_the_writer_drops_the_primary_key_before_the_write_returns(world):
    soup = world["soup"]
    key = planner_cache.recipe(soup.id)

    def compute():
        return {"id": soup.id, "title": Recipe.objects.get(id=soup.id).title}

    readthrough.read(key, compute)
    assert readthrough.read(key, compute).hit

    with transaction.atomic():
        Recipe.objects.filter(id=soup.id).update(title="Leek soup")

    after = readthrough.read(key, compute)
    assert not after.hit
    assert json.loads(after.body)["title"] == "Leek soup"


def test_an_autocommit_write_is_flushed_right_after_the_statement(world, event_subscriber, broker_conn):
    assert connection.get_autocommit() and not connection.in_atomic_block
    salad = world["salad"]

    Recipe.objects.filter(id=salad.id).update(servings=2)

    assert [e["data"] for e in event_subscriber(expected=1)] == [{"recipe_id": salad.id}]
    assert len(queued_tasks(broker_conn)) == 1
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_a_rolled_back_transaction_sends_nothing(world, outbox, event_subscriber, broker_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        Recipe.objects.filter(id=world["soup"].id).update(title="never")
        RecipeIngredient.objects.create(recipe=world["soup"], ingredient="salt", quantity=1, unit="g")
        assert len(outbox()) == 2  # the triggers did write, inside the transaction
        raise RuntimeError("roll back")

    assert outbox() == []
    # A flush runs synchronously on commit, so anything it published would already be here.
    assert event_subscriber(wait=0.3) == []
    assert broker_conn.llen("cache") == 0


def test_many_changes_in_one_transaction_make_one_flush_of_distinct_events(world, event_subscriber, broker_conn):
    soup, salad, plan = world["soup"], world["salad"], world["plan"]

    with transaction.atomic():
        for title in ("a", "b", "c"):
            Recipe.objects.filter(id=soup.id).update(title=title)
        for ingredient in ("leek", "potato", "cream"):
            RecipeIngredient.objects.create(recipe=soup, ingredient=ingredient, quantity=1, unit="piece")
        MealPlanEntry.objects.create(meal_plan=plan, meal="lunch", recipe=salad)
        MealPlanEntry.objects.create(meal_plan=plan, meal="snack", recipe=salad)
        registered = [func for _, func, _ in connection.run_on_commit if func is commit.after_commit]
        row_ids = list(OutboxEvent.objects.values_list("id", flat=True))

    assert len(registered) == 1
    assert len(row_ids) == 8
    published = event_subscriber(expected=2)
    assert sorted((e["kind"], json.dumps(e["data"], sort_keys=True)) for e in published) == [
        ("meal_plan.changed", json.dumps({"date": plan.date.isoformat(), "family_id": plan.family_id}, sort_keys=True)),
        ("recipe.changed", json.dumps({"recipe_id": soup.id})),
    ]
    (message,) = queued_tasks(broker_conn)
    _, (events, outbox_ids) = message
    assert events == published
    assert sorted(outbox_ids) == sorted(row_ids)  # the survivors cover every row
    assert OutboxEvent.objects.filter(sent_at__isnull=False).count() == 8


def test_batches_follow_the_batch_size(world, settings, broker_conn):
    settings.EVENT_BATCH_SIZE = 2
    recipes = Recipe.objects.bulk_create(Recipe(author=world["alice"], title=f"r{i}") for i in range(5))

    messages = queued_tasks(broker_conn)

    assert [len(events) for _, (events, _) in messages] == [2, 2, 1]
    assert sorted(e["data"]["recipe_id"] for _, (events, _) in messages for e in events) == [r.id for r in recipes]


def test_reads_and_unrelated_writes_register_nothing(world):
    with transaction.atomic():
        list(Recipe.objects.all())
        OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": world["soup"].id})
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM planner_recipe")
            cursor.execute("UPDATE django_session SET expire_date = expire_date")
        assert not [func for _, func, _ in connection.run_on_commit if func is commit.after_commit]

        with connection.cursor() as cursor:
            cursor.execute("  update PLANNER_RECIPE set servings = servings")
        assert [func for _, func, _ in connection.run_on_commit if func is commit.after_commit]


def test_a_write_in_a_rolled_back_savepoint_does_not_lose_the_outer_flush(world, event_subscriber):
    soup, salad = world["soup"], world["salad"]

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="never")  # registers flush inside the savepoint
            raise RuntimeError("roll back the savepoint")
        Recipe.objects.filter(id=salad.id).update(title="Green salad")  # registers again for the outer block

    assert [e["data"] for e in event_subscriber(expected=1)] == [{"recipe_id": salad.id}]


def test_without_a_broker_events_are_applied_inline(world, settings, broker_conn):
    """CELERY_TASK_ALWAYS_EAGER (no REDIS_URL): publish applies the batch itself and marks it processed."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    soup = world["soup"]
    key = planner_cache.recipe(soup.id)
    readthrough.read(key, lambda: {"title": "old"})

    Recipe.objects.filter(id=soup.id).update(title="Leek soup")

    assert broker_conn.llen("cache") == 0
    assert not OutboxEvent.objects.filter(processed_at__isnull=True).exists()
    assert not readthrough.read(key, lambda: {"title": "new"}).hit


def test_the_write_watcher_recognises_writes_to_captured_tables_only():
    from eventcache.capture.triggers import captured_tables

    for table in captured_tables():
        for sql in (
            f'INSERT INTO "{table}" ("a") VALUES (%s)',
            f'UPDATE "{table}" SET "a" = 1',
            f"\n delete from {table}",
        ):
            assert watcher.captured_write(declare.domain()).match(sql), sql
    for sql in (
        'SELECT * FROM "planner_recipe"',
        'INSERT INTO "events_outbox" ("kind", "data") VALUES (%s, %s)',
        'UPDATE "django_session" SET "expire_date" = %s',
        'UPDATE "planner_recipe_archive" SET "a" = 1',
        'DELETE FROM "auth_user_groups" WHERE "user_id" = %s',
    ):
        assert not watcher.captured_write(declare.domain()).match(sql), sql


def test_in_a_request_the_key_is_dropped_at_commit_and_the_rest_waits_for_the_response(
    world, event_subscriber, broker_conn
):
    """What the WSGI handler does around a view: request_started, the view's commit, the response goes out,
    request_finished. Until then the row is unsent and nothing is queued; only the writer's key is gone."""
    soup = world["soup"]
    key = planner_cache.recipe(soup.id)
    compute = lambda: {"title": Recipe.objects.get(id=soup.id).title}  # noqa: E731
    readthrough.read(key, compute)

    request_started.send(sender=None)
    try:
        Recipe.objects.filter(id=soup.id).update(title="Leek soup")  # autocommit: committed here
        assert json.loads(readthrough.read(key, compute).body)["title"] == "Leek soup"  # read-your-writes
        assert OutboxEvent.objects.get().sent_at is None
        assert queued_tasks(broker_conn) == []
    finally:
        request_finished.send(sender=None)

    assert [e["data"] for e in event_subscriber(expected=1)] == [{"recipe_id": soup.id}]
    assert len(queued_tasks(broker_conn)) == 1
    assert OutboxEvent.objects.get().sent_at is not None


def test_a_request_that_writes_nothing_delivers_nothing(world, broker_conn):
    OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": world["soup"].id})  # someone else's row
    request_started.send(sender=None)
    request_finished.send(sender=None)
    assert queued_tasks(broker_conn) == []
    assert OutboxEvent.objects.get().sent_at is None  # left to its writer or the sweep


def test_an_api_write_is_delivered_by_the_time_the_client_has_the_response(
    ann_api, household, make_recipe, broker_conn, outbox
):
    """Through Django's request handling (the test client closes the response, as gunicorn does)."""
    recipe = make_recipe(household["ann"])
    broker_conn.flushdb()
    OutboxEvent.objects.all().delete()

    response = ann_api.patch(f"/api/recipes/{recipe.id}/", {"title": "Leek soup"})

    assert response.status_code == 200
    row = OutboxEvent.objects.get(kind="recipe.changed")
    assert row.sent_at is not None
    ((_, (events, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [row.id] and events[0]["data"] == {"recipe_id": recipe.id}


def test_the_relay_bookkeeping_commits_without_waiting_for_the_wal_flush():
    """Only inside the relay's own transactions; the application's writes keep synchronous commit."""

    def setting():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(outbox_sql.relaxed(SQL("SELECT 1")))
            assert cursor.fetchall() == [(1,)]  # the statement's own result, not the SET's
        assert setting() == "off"
    assert setting() == "on"


def test_a_request_sends_only_the_rows_its_own_connection_wrote(world, broker_conn):
    """writer_pid (the backend pid, set by the database) keeps concurrent writers from sending each other's rows."""
    soup, salad = world["soup"], world["salad"]
    import threading

    def other_process_write():
        try:  # autocommit on another connection, outside any request: it would flush at once, so write raw SQL
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO events_outbox (kind, data) VALUES ('recipe.changed', %s)",
                    [json.dumps({"recipe_id": salad.id})],
                )
        finally:
            connection.close()

    thread = threading.Thread(target=other_process_write)
    thread.start()
    thread.join()
    theirs = OutboxEvent.objects.get()
    assert theirs.writer_pid is not None

    request_started.send(sender=None)
    Recipe.objects.filter(id=soup.id).update(title="Leek soup")
    request_finished.send(sender=None)

    ((_, (events, outbox_ids)),) = queued_tasks(broker_conn)
    mine = OutboxEvent.objects.exclude(id=theirs.id).get()
    assert outbox_ids == [mine.id] and mine.writer_pid != theirs.writer_pid
    theirs.refresh_from_db()
    assert theirs.sent_at is None  # left to its writer, or the sweep


def test_the_web_process_sends_with_the_projects_one_app(world, broker_conn):
    """config/__init__.py loads config.celery's app, so the task the relay sends is bound to it (no second app)."""
    import config
    from eventcache import tasks

    assert tasks.process_events.app is config.celery_app
    for n in range(3):
        publish.publish([planner_cache.RecipeChanged(id=n + 1, at=1.0, recipe_id=world["soup"].id)])
    assert len(queued_tasks(broker_conn)) == 3
