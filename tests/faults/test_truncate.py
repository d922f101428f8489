"""Issue 12 item 11: TRUNCATE of a captured table (raw SQL from another connection, or `manage.py flush`) reaches the
cache. Statement-level AFTER TRUNCATE triggers write a "table.truncated" outbox event; its rule bumps every family's
namespace. Real PostgreSQL, real Redis, a real worker subprocess applying the queue; the outbox rows are delivered
as the beat's sweep delivers rows nobody sent (relay.sweep.sweep), since no Django write noticed the TRUNCATE."""

import datetime as dt

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from eventcache.models import OutboxEvent
from eventcache.relay import sweep
from eventcache.store import readthrough
from planner import cache, payloads
from tests.fixtures.worker import outbox_drained, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DAY = dt.date(2031, 1, 6)
APPLY_SECONDS = 20  # a bound for a busy machine, never slept


@pytest.fixture
def warm(transactional_db, broker_conn, redis_conn):
    """A recipe on a family's plan; its detail, the recipe list and the plan cached; no work pending."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from planner.models import Family, MealPlan, MealPlanEntry, Recipe

    soup = Recipe.objects.create(author=User.objects.create_user("cook"), title="Soup", servings=2)
    family = Family.objects.create(name="Smiths")
    MealPlanEntry.objects.create(
        meal_plan=MealPlan.objects.create(family=family, date=DAY), meal="dinner", recipe=soup, servings=2
    )
    broker_conn.flushdb()
    OutboxEvent.objects.update(processed_at=timezone.now(), sent_at=timezone.now())
    reads = reads_of(soup.id, family.id)
    for key, compute in reads.values():
        readthrough.read(key, compute)
        assert readthrough.read(key, compute).hit
    return reads


def reads_of(recipe_id, family_id):
    return {
        "recipe": (cache.recipe(recipe_id), lambda: payloads.recipe_detail(recipe_id)),
        "recipe list": (cache.recipe_list(None, 1), lambda: payloads.recipe_list(None, 1)),
        "meal plan": (cache.meal_plan(DAY, family_id), lambda: payloads.meal_plan(family_id, DAY)),
    }


def truncate_from_another_connection():
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or "postgres",
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        other.execute("TRUNCATE planner_recipe CASCADE")  # and every table referencing it (entries, tags, lines)


def manage_py_flush():
    call_command("flush", interactive=False, verbosity=0)


@pytest.mark.parametrize("truncate", [truncate_from_another_connection, manage_py_flush], ids=["raw SQL", "flush"])
def test_a_truncate_reaches_every_cached_read(truncate, warm, start_worker_process, settings):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (Django's flush on SQLite deletes rows: the row triggers see it)")
    start_worker_process()

    truncate()

    settings.OUTBOX_UNSENT_GRACE_SECONDS = 0
    sweep.sweep()  # what beat's sweep does a moment later
    assert wait_until(outbox_drained, APPLY_SECONDS), "the worker did not apply the truncation"
    recipe_key, recipe_compute = warm["recipe"]
    assert not readthrough.read(recipe_key, lambda: {"gone": True}).hit
    for name in ("recipe list", "meal plan"):
        key, compute = warm[name]
        read = readthrough.read(key, compute)
        assert not read.hit, name
        assert b"Soup" not in read.body, name
    assert OutboxEvent.objects.filter(kind="table.truncated", processed_at__isnull=False).exists()


def test_one_event_per_truncated_table_and_none_from_a_rollback(transactional_db):
    from django.db import transaction

    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    OutboxEvent.objects.all().delete()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE planner_tag CASCADE")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert not OutboxEvent.objects.exists()

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE planner_shoppinglist, planner_shoppinglistitem")

    rows = OutboxEvent.objects.order_by("id")
    assert sorted(row.data["table"] for row in rows) == ["planner_shoppinglist", "planner_shoppinglistitem"]
    assert {row.kind for row in rows} == {"table.truncated"}
