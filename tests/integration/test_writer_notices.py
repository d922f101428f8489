"""eventcache/relay/notices.py on real PostgreSQL: a request's commit learns its outbox rows from the notices in its
writes' own responses, so it runs no look-up, and takes exactly the rows a SELECT would have found. Where the notices
cannot be trusted (turned off, too many, a transaction that rolled back) the commit looks the rows up as before.

Counting, as the cache tests do: the statements a request's write sends to PostgreSQL, with and without notices."""

import json

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from eventcache.capture.triggers import NOTICE_MESSAGE, NOTICE_SETTING
from eventcache.models import OutboxEvent
from eventcache.relay import notices
from eventcache.relay import outbox as outbox_sql
from eventcache.store import readthrough
from planner import cache as planner_cache
from planner.models import Recipe
from tests.fixtures.events import queued_tasks

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the notices are PostgreSQL's")


@pytest.fixture
def world(family_world, outbox, broker_conn, redis_conn):
    broker_conn.flushdb()
    return family_world


def _set_notices(on: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [NOTICE_SETTING, "on" if on else "off"])


def _write_in_a_request(recipe_id: int, title: str, key, compute) -> list[str]:
    """The write as a view makes it (autocommit, between the request signals); the SQL it sent; read-your-writes."""
    request_started.send(sender=None)
    try:
        with CaptureQueriesContext(connection) as queries:
            Recipe.objects.filter(id=recipe_id).update(title=title)
        assert json.loads(readthrough.read(key, compute).body)["title"] == title  # the writer's key was dropped
    finally:
        request_finished.send(sender=None)
    return [q["sql"] for q in queries.captured_queries]


def _outbox_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if "events_outbox" in s]


def test_a_requests_commit_takes_its_rows_from_the_notices_without_a_look_up(world, broker_conn):
    soup = world["soup"]
    key = planner_cache.recipe(soup.id)
    compute = lambda: {"title": Recipe.objects.get(id=soup.id).title}  # noqa: E731
    readthrough.read(key, compute)

    statements = _write_in_a_request(soup.id, "Leek soup", key, compute)

    assert _outbox_statements(statements) == []  # the UPDATE only: no SELECT of the connection's rows
    row = OutboxEvent.objects.get()
    ((_, (events, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [row.id] and events[0]["data"] == {"recipe_id": soup.id}
    assert row.sent_at is not None


def test_without_the_notices_the_commit_looks_its_rows_up(world, broker_conn):
    """The contrast, and the fallback: a session that turned them off pays one SELECT and loses nothing."""
    soup = world["soup"]
    key = planner_cache.recipe(soup.id)
    compute = lambda: {"title": Recipe.objects.get(id=soup.id).title}  # noqa: E731
    readthrough.read(key, compute)
    _set_notices(False)
    try:
        statements = _write_in_a_request(soup.id, "Leek soup", key, compute)
    finally:
        _set_notices(True)

    assert len(_outbox_statements(statements)) == 1 and "SELECT" in _outbox_statements(statements)[0]
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [OutboxEvent.objects.get().id]


def test_the_noticed_rows_are_the_rows_a_look_up_finds(world):
    """Same ids, kinds, data text (what de-duplication compares), creation times and xids, in the same order."""
    soup, salad, entry = world["soup"], world["salad"], world["entry"]
    notices.forget(connection)
    with transaction.atomic():
        Recipe.objects.filter(id__in=[soup.id, salad.id]).update(title="Renamed")
        entry.servings = 5
        entry.save()
        noticed = notices.take(connection)
        looked_up = outbox_sql.own_unsent_rows(connection.connection.info.backend_pid)
    assert len(noticed) >= 3
    assert noticed == looked_up


def test_rows_of_a_rolled_back_transaction_are_not_taken(world, broker_conn, event_subscriber):
    soup, salad = world["soup"], world["salad"]
    request_started.send(sender=None)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="Never")
            raise RuntimeError("rolled back")
        with CaptureQueriesContext(connection) as queries:
            Recipe.objects.filter(id=salad.id).update(title="Green salad")
    finally:
        request_finished.send(sender=None)

    assert _outbox_statements([q["sql"] for q in queries.captured_queries]) == []
    row = OutboxEvent.objects.get()
    assert row.data == {"recipe_id": salad.id}
    assert [e["data"] for e in event_subscriber(expected=1)] == [{"recipe_id": salad.id}]
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [row.id]


def test_more_rows_than_one_claim_holds_are_looked_up(world, broker_conn, monkeypatch):
    monkeypatch.setattr(notices, "CLAIM_LIMIT", 1)
    soup, salad = world["soup"], world["salad"]
    request_started.send(sender=None)
    try:
        with CaptureQueriesContext(connection) as queries:
            Recipe.objects.filter(id__in=[soup.id, salad.id]).update(title="Both")
    finally:
        request_finished.send(sender=None)

    assert len(_outbox_statements([q["sql"] for q in queries.captured_queries])) == 1  # the look-up
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert sorted(outbox_ids) == sorted(OutboxEvent.objects.values_list("id", flat=True)) and len(outbox_ids) == 2


def test_other_clients_get_no_notice(world):
    """psql, the worker, any program that did not ask: the trigger's WHEN clause keeps the notices to the relay."""
    received = []
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.add_notice_handler(lambda notice: received.append(notice.message_primary))  # read it now
        other.execute("UPDATE planner_recipe SET title = 'Elsewhere' WHERE id = %s", [world["soup"].id])
        assert OutboxEvent.objects.filter(kind="recipe.changed").exists()
        other.execute("SELECT set_config(%s, 'on', false)", [NOTICE_SETTING])
        other.execute("UPDATE planner_recipe SET title = 'Asked for' WHERE id = %s", [world["soup"].id])
    assert received == [NOTICE_MESSAGE]


def _savepoint_request(first, rolled_back, then):
    """In a request, one transaction: `first()` (or nothing), a savepoint running `rolled_back()` that rolls back,
    then `then()`; committed."""
    request_started.send(sender=None)
    try:
        with transaction.atomic():
            if first:
                first()
            with pytest.raises(RuntimeError), transaction.atomic():
                rolled_back()
                raise RuntimeError("roll back the savepoint")
            then()
    finally:
        request_finished.send(sender=None)


def test_a_rolled_back_savepoint_before_the_first_kept_write_is_forgotten(world, broker_conn):
    """Its hook went with the savepoint, so the next write starts the transaction's capture afresh."""
    soup, salad = world["soup"], world["salad"]
    soup_key = planner_cache.recipe(soup.id)
    readthrough.read(soup_key, lambda: {"title": "Soup"})

    _savepoint_request(
        None,
        lambda: Recipe.objects.filter(id=soup.id).update(title="Never"),
        lambda: Recipe.objects.filter(id=salad.id).update(title="Green salad"),
    )

    assert readthrough.read(soup_key, lambda: {"title": "Soup"}).hit is True  # nothing dropped for the phantom
    row = OutboxEvent.objects.get()
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert outbox_ids == [row.id] and row.data == {"recipe_id": salad.id}


def test_a_rolled_back_savepoint_after_a_kept_write_costs_only_an_extra_drop(world, broker_conn):
    """Its row was noticed but never committed: its keys are dropped for nothing, and the queued message naming its
    id applies only the rows that exist (the outbox is the worker's source)."""
    from eventcache.consume import apply as consume

    soup, salad = world["soup"], world["salad"]
    soup_key = planner_cache.recipe(soup.id)
    readthrough.read(soup_key, lambda: {"title": "Soup"})

    _savepoint_request(
        lambda: Recipe.objects.filter(id=salad.id).update(title="Green salad"),
        lambda: Recipe.objects.filter(id=soup.id).update(title="Never"),
        lambda: None,
    )

    assert readthrough.read(soup_key, lambda: {"title": "Soup"}).hit is False  # dropped for nothing
    row = OutboxEvent.objects.get()
    assert row.data == {"recipe_id": salad.id} and row.sent_at is not None
    ((_, (_, outbox_ids)),) = queued_tasks(broker_conn)
    assert row.id in outbox_ids and len(outbox_ids) == 2  # the phantom's id too
    consumed = consume.apply_message([], outbox_ids)
    assert [event.recipe_id for event in consumed.events] == [salad.id]
    row.refresh_from_db()
    assert row.processed_at is not None


def test_a_commit_that_wrote_no_outbox_row_takes_nothing_from_an_earlier_rolled_back_transaction(world, broker_conn):
    """The same connection serves the next request (CONN_MAX_AGE): its commit must not deliver the rows a rolled-back
    transaction of the request before left in the notices."""
    soup = world["soup"]
    request_started.send(sender=None)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="Never")
            raise RuntimeError("rolled back")
    finally:
        request_finished.send(sender=None)

    request_started.send(sender=None)
    try:
        with transaction.atomic():
            Recipe.objects.filter(id=-1).update(title="Nobody")  # a write to a captured table that inserts no row
    finally:
        request_finished.send(sender=None)

    assert OutboxEvent.objects.count() == 0
    assert queued_tasks(broker_conn) == []  # nothing sent for the rolled-back row
