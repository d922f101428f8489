"""Cheap writes cannot make reads expensive (issue 12 item 7): lists per user, days per list and manual items
per list are capped (settings), beyond the cap a clear 4xx, and a user at the caps, over plans for every day,
reads all their lists in the same number of queries as one list, with the work bounded by the caps."""

import datetime as dt
import json

import pytest
from django.conf import settings as django_settings

from planner import shopping
from planner.models import MealPlan, MealPlanEntry, ShoppingList, ShoppingListItem

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db]

START = dt.date(2026, 3, 2)
ONE_LIST_QUERIES = 4  # the lists, the family, the planned lines, the stored items (session and identity cached)


def _list_body(days=7, start=START):
    return {"start": str(start), "end": str(start + dt.timedelta(days=days - 1))}


def test_the_caps_have_sane_defaults():
    assert 1 <= django_settings.SHOPPING_LISTS_MAX_PER_USER <= 200
    assert 7 <= django_settings.SHOPPING_LIST_MAX_DAYS <= 62
    assert 1 <= django_settings.SHOPPING_LIST_MAX_MANUAL_ITEMS <= 1000


def test_a_list_past_the_per_user_cap_is_409_and_not_created(ann_api, household, settings):
    settings.SHOPPING_LISTS_MAX_PER_USER = 3
    for _ in range(3):
        assert ann_api.post("/api/shopping-lists/", _list_body()).status_code == 201
    response = ann_api.post("/api/shopping-lists/", _list_body())
    assert response.status_code == 409, response.content
    assert json.loads(response.content)["error"] == "limit_reached"
    assert "at most 3 shopping lists" in json.loads(response.content)["detail"]
    assert ShoppingList.objects.filter(owner=household["ann"]).count() == 3
    listed = json.loads(ann_api.get("/api/shopping-lists/").content)["results"]
    ann_api.delete(f"/api/shopping-lists/{listed[0]['id']}/")
    assert ann_api.post("/api/shopping-lists/", _list_body()).status_code == 201  # room again after a delete


def test_a_list_longer_than_the_day_cap_is_400(ann_api, household, settings):
    settings.SHOPPING_LIST_MAX_DAYS = 31
    assert ann_api.post("/api/shopping-lists/", _list_body(days=31)).status_code == 201
    response = ann_api.post("/api/shopping-lists/", _list_body(days=32))
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["detail"] == {"end": "a list covers at most 31 days"}


def test_manual_items_past_the_cap_are_409(ann_api, household, settings):
    settings.SHOPPING_LIST_MAX_MANUAL_ITEMS = 3
    list_id = json.loads(ann_api.post("/api/shopping-lists/", _list_body()).content)["id"]
    for n in range(3):
        assert ann_api.post(f"/api/shopping-lists/{list_id}/items/", {"ingredient": f"thing {n}"}).status_code == 201
    response = ann_api.post(f"/api/shopping-lists/{list_id}/items/", {"ingredient": "one too many"})
    assert response.status_code == 409, response.content
    assert json.loads(response.content)["error"] == "limit_reached"
    assert ShoppingListItem.objects.filter(shopping_list_id=list_id, manual=True).count() == 3


def test_a_user_at_the_caps_reads_in_the_queries_of_one_list(
    ann_api, household, make_recipe, redis_conn, django_assert_num_queries
):
    """Plans with three recipes on every day, the user at the list cap, each list as long as allowed."""
    ann, family = household["ann"], household["family"]
    recipes = [make_recipe(ann, f"R{n}", lines=[(f"thing {n}.{i}", "1", "g") for i in range(5)]) for n in range(3)]
    max_days, max_lists = django_settings.SHOPPING_LIST_MAX_DAYS, django_settings.SHOPPING_LISTS_MAX_PER_USER
    days = [START + dt.timedelta(days=n) for n in range(max_days + max_lists)]
    plans = MealPlan.objects.bulk_create([MealPlan(family=family, date=day) for day in days])
    MealPlanEntry.objects.bulk_create(
        [MealPlanEntry(meal_plan=p, meal="dinner", recipe=r, servings=2) for p in plans for r in recipes]
    )

    first = shopping.create_list(ann.id, family.id, START, START + dt.timedelta(days=max_days - 1))
    redis_conn.flushdb()
    ann_api.login("ann")
    ann_api.get("/api/me/")
    with django_assert_num_queries(ONE_LIST_QUERIES):
        assert ann_api.get("/api/shopping-lists/").status_code == 200
    for n in range(1, max_lists):  # the rest up to the cap, each starting a day later
        start = START + dt.timedelta(days=n)
        response = ann_api.post(
            "/api/shopping-lists/", {"start": str(start), "end": str(start + dt.timedelta(days=max_days - 1))}
        )
        assert response.status_code == 201, response.content
    assert ann_api.post("/api/shopping-lists/", _list_body()).status_code == 409
    redis_conn.flushdb()
    ann_api.login("ann")
    ann_api.get("/api/me/")
    body, page, url = [], 0, "/api/shopping-lists/?page=1"
    while url:  # every page, each in the queries of one list, whatever is on it
        page += 1
        with django_assert_num_queries(ONE_LIST_QUERIES):
            response = ann_api.client.get(url)
        assert response.status_code == 200, response.content
        shown = json.loads(response.content)
        assert shown["count"] == max_lists and len(shown["results"]) <= django_settings.SHOPPING_LISTS_PAGE_SIZE
        body += shown["results"]
        url = shown["next"]
    assert page == -(-max_lists // django_settings.SHOPPING_LISTS_PAGE_SIZE)
    assert len(body) == max_lists and first.id in {entry["id"] for entry in body}
    assert all(len(entry["items"]) == 15 for entry in body)  # 3 recipes x 5 lines, merged over the days
