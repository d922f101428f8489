"""Users cannot grow Redis without bound (issue 12 item 6): only what can exist is cached.

A read of `?tag=<slug>` for a tag that no recipe has ever had answers 404 and stores nothing; a meal-plan date
outside MEAL_PLAN_WINDOW_DAYS of today answers 400 (read or write) and stores nothing. Inside the window a
family has at most 2 x MEAL_PLAN_WINDOW_DAYS + 1 plan keys, one per day; its lists, preferences and identity
are one key each. Counted on the real Redis behind the cache, key by key."""

import datetime as dt
import json
import random
import string

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db]

READS = 1_000
WINDOW_DAYS = 731


@pytest.fixture
def window(settings):
    settings.MEAL_PLAN_WINDOW_DAYS = WINDOW_DAYS
    return WINDOW_DAYS


def _random_slugs(n, seed):
    rng = random.Random(seed)
    return {"".join(rng.choices(string.ascii_lowercase + string.digits, k=12)) for _ in range(n)}


def _keys(redis_conn) -> set:
    return set(redis_conn.keys("*"))


def test_a_thousand_reads_of_unknown_tags_add_no_key(ann_api, pantry, redis_conn):
    assert ann_api.get("/api/recipes/", tag="soup").status_code == 200  # a known tag: warms identity and counters
    before = _keys(redis_conn)
    tags = _random_slugs(READS, seed=6)
    for tag in tags:
        response = ann_api.get("/api/recipes/", tag=tag)
        assert response.status_code == 404, response.content
        assert json.loads(response.content)["error"] == "not_found"
    added = _keys(redis_conn) - before
    assert added == set(), sorted(added)[:5]


def test_a_known_tag_is_still_cached(ann_api, pantry, redis_conn):
    for expected in ("MISS", "HIT"):
        response = ann_api.get("/api/recipes/", tag="soup")
        assert (response.status_code, response["X-Cache"]) == (200, expected)


def test_a_thousand_reads_of_far_dates_add_no_key(ann_api, pantry, redis_conn, window):
    today = dt.date.today()
    assert ann_api.get(f"/api/meal-plans/{today}/").status_code == 200
    before = _keys(redis_conn)
    rng = random.Random(7)
    days = {
        today + dt.timedelta(days=sign * rng.randint(window + 1, 700_000))
        for sign in (1, -1)
        for _ in range(READS // 2)
    }
    for day in sorted(days):
        response = ann_api.get(f"/api/meal-plans/{day.isoformat()}/")
        assert response.status_code == 400, (day, response.content)
        assert json.loads(response.content)["error"] == "invalid_date"
    added = _keys(redis_conn) - before
    assert added == set(), sorted(added)[:5]


def test_the_window_edges(ann_api, household, window):
    today = dt.date.today()
    for offset, status in ((window, 200), (-window, 200), (window + 1, 400), (-window - 1, 400)):
        day = today + dt.timedelta(days=offset)
        assert ann_api.get(f"/api/meal-plans/{day}/").status_code == status, offset


def test_a_plan_outside_the_window_cannot_be_written(ann_api, pantry, window):
    from planner.models import MealPlan

    day = dt.date.today() + dt.timedelta(days=window + 1)
    response = ann_api.put(f"/api/meal-plans/{day}/", {"entries": [{"meal": "lunch", "recipe_id": pantry["soup"].id}]})
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["error"] == "invalid_date"
    assert not MealPlan.objects.filter(date=day).exists()
    inside = dt.date.today() + dt.timedelta(days=window)
    assert (
        ann_api.put(
            f"/api/meal-plans/{inside}/", {"entries": [{"meal": "lunch", "recipe_id": pantry["soup"].id}]}
        ).status_code
        == 200
    )
