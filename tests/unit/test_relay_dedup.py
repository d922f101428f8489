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
