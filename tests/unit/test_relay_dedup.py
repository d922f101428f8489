"""eventcache/relay/dedup.py: the one de-duplication of the relay (a commit's rows) and the worker (a batch's rows
beside its message's events)."""

import datetime as dt
import logging

from eventcache.relay.dedup import deduplicate
from eventcache.relay.outbox import OutboxRow
from planner import cache

AT = dt.datetime(2030, 1, 7, tzinfo=dt.UTC)


def row(row_id, kind="recipe.changed", data_text='{"recipe_id": 1}'):
    return OutboxRow(row_id, kind, data_text, AT)


def test_equal_rows_become_one_event_covering_every_row_in_first_seen_order():
    rows = [row(1), row(2, data_text='{"recipe_id": 2}'), row(3), row(4, data_text='{"recipe_id": 2}'), row(5)]

    events, covered = deduplicate(rows)

    assert [(e.id, e.recipe_id) for e in events] == [(1, 1), (2, 2)]
    assert covered == {1: [1, 3, 5], 2: [2, 4]}


def test_rows_equal_to_a_given_event_are_covered_by_it_whatever_their_key_order():
    given = cache.MealPlanChanged(id=9, at=1.0, family_id=3, date="2030-01-07")
    rows = [
        row(1, "meal_plan.changed", '{"date": "2030-01-07", "family_id": 3}'),
        row(2, "meal_plan.changed", '{"family_id": 3, "date": "2030-01-07"}'),
        row(3),
    ]

    events, covered = deduplicate(rows, already=[given])

    assert [e.id for e in events] == [3]
    assert covered == {9: [1, 2], 3: [3]}


def test_a_row_that_is_not_an_event_is_logged_and_covered_by_none(caplog):
    with caplog.at_level(logging.ERROR, logger="eventcache.relay.dedup"):
        events, covered = deduplicate([row(1, kind="recipe.exploded"), row(2), row(3, kind="recipe.exploded")])

    assert [e.id for e in events] == [2] and covered == {2: [2]}
    assert "outbox row 1 is not a valid event" in caplog.text


def test_equal_rows_of_several_transactions_become_one_event_naming_every_xid():
    rows = [
        OutboxRow(1, "recipe.changed", '{"recipe_id": 1}', AT, 70),
        OutboxRow(2, "recipe.changed", '{"recipe_id": 1}', AT, 72),
    ]
    rows.append(OutboxRow(3, "recipe.changed", '{"recipe_id": 1}', AT, 70))

    events, covered = deduplicate(rows)

    assert [(e.id, e.xids) for e in events] == [(1, (70, 72))] and covered == {1: [1, 2, 3]}


def test_a_merged_event_names_no_xid_when_a_row_has_none_or_there_are_too_many():
    from eventcache.events import MAX_XIDS

    unknown = [
        OutboxRow(1, "recipe.changed", '{"recipe_id": 1}', AT, 70),
        OutboxRow(2, "recipe.changed", '{"recipe_id": 1}', AT),
    ]
    many = [OutboxRow(i, "recipe.changed", '{"recipe_id": 1}', AT, 100 + i) for i in range(1, MAX_XIDS + 2)]

    assert deduplicate(unknown)[0][0].xids == ()
    assert deduplicate(many[:MAX_XIDS])[0][0].xids == tuple(range(101, 101 + MAX_XIDS))
    assert deduplicate(many)[0][0].xids == ()


def test_a_given_event_covers_only_rows_of_the_transactions_it_names():
    given = cache.RecipeChanged(id=9, at=1.0, recipe_id=1, xids=(70, 72))
    rows = [
        OutboxRow(1, "recipe.changed", '{"recipe_id": 1}', AT, 72),
        OutboxRow(2, "recipe.changed", '{"recipe_id": 1}', AT, 75),
    ]

    events, covered = deduplicate(rows, already=[given])

    assert [(e.id, e.xids) for e in events] == [(2, (75,))] and covered == {9: [1], 2: [2]}
