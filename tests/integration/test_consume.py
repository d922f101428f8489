"""eventcache/consume/apply.py against PostgreSQL and the real Redis: a message is applied together with every other
delivered row, the messages covered that way are skipped, rows another worker holds are left to it, and
unsent rows are left to the relay."""

import pytest
from django.utils import timezone

from eventcache import events as schema
from eventcache.consume import apply as consume
from eventcache.models import OutboxEvent
from eventcache.store import ops
from planner import cache
from tests.fixtures.events import outbox_row_locked_elsewhere

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(family_world, outbox, redis_conn, broker_conn):
    broker_conn.flushdb()
    return family_world


def delivered_row(recipe_id) -> OutboxEvent:
    """An outbox row as the relay leaves it: sent, not yet applied."""
    return OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": recipe_id}, sent_at=timezone.now())


def event_of(row: OutboxEvent):
    return schema.from_dict(
        {"v": 1, "id": row.id, "kind": row.kind, "at": row.created_at.timestamp(), "data": row.data}
    )


def cache_recipe(redis_conn, recipe_id):
    redis_conn.set(ops.full_name(cache.recipe(recipe_id).name), b'{"ns":1,"body":{}}')


def is_cached(redis_conn, recipe_id) -> bool:
    return redis_conn.exists(ops.full_name(cache.recipe(recipe_id).name)) == 1


def test_the_first_message_applies_every_delivered_row_and_the_later_message_is_skipped(world, redis_conn):
    soup, salad = world["soup"], world["salad"]
    first, second = delivered_row(soup.id), delivered_row(salad.id)
    cache_recipe(redis_conn, soup.id)
    cache_recipe(redis_conn, salad.id)

    done = consume.apply_message([event_of(first)], [first.id])

    assert not done.already_applied and done.coalesced_rows == 1
    assert sorted(e.recipe_id for e in done.events) == sorted([soup.id, salad.id])
    assert not is_cached(redis_conn, soup.id) and not is_cached(redis_conn, salad.id)  # the second row's key too
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0

    cache_recipe(redis_conn, salad.id)  # filled again after the write
    later = consume.apply_message([event_of(second)], [second.id])

    assert later.already_applied and later.events == []
    assert is_cached(redis_conn, salad.id)  # nothing dropped twice


def test_rows_another_worker_holds_are_left_to_it(world, redis_conn):
    soup, salad = world["soup"], world["salad"]
    mine, held = delivered_row(soup.id), delivered_row(salad.id)
    cache_recipe(redis_conn, salad.id)
    with outbox_row_locked_elsewhere(held.id):  # another worker is applying it
        done = consume.apply_message([event_of(mine)], [mine.id])  # SKIP LOCKED: does not wait for it

    assert done.coalesced_rows == 0
    assert is_cached(redis_conn, salad.id)
    held.refresh_from_db()
    assert held.processed_at is None


def test_unsent_rows_are_left_to_the_relay(world, redis_conn):
    soup, salad = world["soup"], world["salad"]
    mine = delivered_row(soup.id)
    unsent = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": salad.id})

    done = consume.apply_message([event_of(mine)], [mine.id])

    assert done.coalesced_rows == 0
    unsent.refresh_from_db()
    assert unsent.processed_at is None


def test_coalescing_can_be_switched_off(world, redis_conn, settings):
    settings.WORKER_COALESCE_MAX_ROWS = 0
    soup, salad = world["soup"], world["salad"]
    mine, other = delivered_row(soup.id), delivered_row(salad.id)

    done = consume.apply_message([event_of(mine)], [mine.id])

    assert done.coalesced_rows == 0 and len(done.events) == 1
    other.refresh_from_db()
    assert other.processed_at is None


def test_a_message_without_outbox_ids_is_applied_as_it_is(world, redis_conn):
    soup = world["soup"]
    cache_recipe(redis_conn, soup.id)
    event = cache.RecipeChanged(id=1, at=0.0, recipe_id=soup.id)

    done = consume.apply_message([event], [])

    assert not done.already_applied and not is_cached(redis_conn, soup.id)


def test_the_same_change_in_the_message_and_a_row_is_applied_once(world, redis_conn):
    soup = world["soup"]
    mine, duplicate = delivered_row(soup.id), delivered_row(soup.id)

    done = consume.apply_message([event_of(mine)], [mine.id])

    assert done.coalesced_rows == 1 and len(done.events) == 1
    duplicate.refresh_from_db()
    assert duplicate.processed_at is not None


def test_a_redis_failure_marks_nothing(world, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from eventcache.store import invalidation

    soup, salad = world["soup"], world["salad"]
    mine, _ = delivered_row(soup.id), delivered_row(salad.id)

    def down(events):
        raise RedisConnectionError("down")

    monkeypatch.setattr(invalidation, "apply_events", down)
    with pytest.raises(RedisConnectionError):
        consume.apply_message([event_of(mine)], [mine.id])
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 2  # left for the retry and the sweep


def test_a_message_that_arrives_before_the_relay_committed_its_claim_waits_for_its_rows(world, redis_conn):
    """The relay sends the message inside its claim's transaction; a fast worker must not skip the rows."""
    soup = world["soup"]
    row = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": soup.id})
    cache_recipe(redis_conn, soup.id)
    # The relay's claim marks the row sent and commits 0.5 s later (after publishing and sending).
    with outbox_row_locked_elsewhere(row.id, mark_sent=True, commit_after=0.5):
        done = consume.apply_message([event_of(row)], [row.id])

    assert not done.already_applied
    assert not is_cached(redis_conn, soup.id)
    row.refresh_from_db()
    assert row.processed_at is not None
