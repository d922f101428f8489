"""Shopping lists through the API: generated from the family's plans, checked flags, regeneration, manual
items, another family's lists (404), and a query count that does not grow with the list."""

import datetime as dt
import json

import pytest

from planner import cache as planner_cache
from planner.models import ShoppingListItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MONDAY = dt.date(2026, 3, 2)


def _json(response):
    return json.loads(response.content)


@pytest.fixture
def week_plan(household, make_recipe, plan_meal):
    ann, family = household["ann"], household["family"]
    pasta = make_recipe(ann, "Pasta", servings=2, lines=[("pasta", "200", "g"), ("tomato", "3", "piece")])
    salad = make_recipe(ann, "Salad", servings=4, lines=[("tomato", "2", "piece"), ("olive oil", "2", "tbsp")])
    plan_meal(family, MONDAY, pasta, servings=4)  # doubled: 400 g pasta, 6 tomatoes
    plan_meal(family, MONDAY + dt.timedelta(days=1), salad, servings=2)  # halved: 1 tomato, 1 tbsp oil
    plan_meal(family, MONDAY + dt.timedelta(days=10), salad, servings=4)  # outside the week
    return {"pasta": pasta, "salad": salad}


def _create_week(client):
    return client.post(
        "/api/shopping-lists/", {"start": str(MONDAY), "end": str(MONDAY + dt.timedelta(days=6)), "name": "Week"}
    )


def test_create_generates_scaled_merged_lines_with_ids(ann_api, week_plan):
    response = _create_week(ann_api)
    assert response.status_code == 201, response.content
    body = _json(response)
    lines = {(i["ingredient"], i["unit"]): i for i in body["items"]}
    assert {k: v["quantity"] for k, v in lines.items()} == {
        ("pasta", "g"): 400,
        ("tomato", "piece"): 7,
        ("olive oil", "tbsp"): 1,
    }
    assert all(isinstance(i["id"], int) and i["checked"] is False and i["manual"] is False for i in body["items"])
    assert (body["name"], body["start"], body["end"]) == ("Week", "2026-03-02", "2026-03-08")


def test_check_an_item_then_read_it_back(ann_api, week_plan, redis_conn):
    body = _json(_create_week(ann_api))
    tomato = next(i for i in body["items"] if i["ingredient"] == "tomato")
    response = ann_api.patch(f"/api/shopping-lists/{body['id']}/items/{tomato['id']}/", {"checked": True})
    assert response.status_code == 200
    assert _json(response)["checked"] is True
    redis_conn.flushdb()  # invalidation is the event pipeline's job; read the database's answer
    [listed] = _json(ann_api.get("/api/shopping-lists/"))["results"]
    assert next(i for i in listed["items"] if i["ingredient"] == "tomato")["checked"] is True


def test_lines_that_appear_later_have_no_id_until_regenerated(
    ann_api, household, week_plan, plan_meal, make_recipe, redis_conn
):
    body = _json(_create_week(ann_api))
    plan_meal(
        household["family"], MONDAY, make_recipe(household["ann"], "Toast", lines=[("bread", "4", "piece")]), servings=4
    )
    redis_conn.flushdb()
    [listed] = _json(ann_api.get("/api/shopping-lists/"))["results"]
    bread = next(i for i in listed["items"] if i["ingredient"] == "bread")
    assert bread["id"] is None and bread["quantity"] == 4
    regenerated = _json(ann_api.post(f"/api/shopping-lists/{body['id']}/regenerate/"))
    assert isinstance(next(i for i in regenerated["items"] if i["ingredient"] == "bread")["id"], int)
    assert ShoppingListItem.objects.filter(shopping_list_id=body["id"], manual=False).count() == 4


def test_regenerate_keeps_checked_state(ann_api, week_plan):
    body = _json(_create_week(ann_api))
    pasta = next(i for i in body["items"] if i["ingredient"] == "pasta")
    ann_api.patch(f"/api/shopping-lists/{body['id']}/items/{pasta['id']}/", {"checked": True})
    regenerated = _json(ann_api.post(f"/api/shopping-lists/{body['id']}/regenerate/"))
    assert next(i for i in regenerated["items"] if i["ingredient"] == "pasta") == {**pasta, "checked": True}


def test_manual_items_are_listed_apart_from_generated_lines(ann_api, week_plan):
    body = _json(_create_week(ann_api))
    response = ann_api.post(
        f"/api/shopping-lists/{body['id']}/items/", {"ingredient": "Tomato", "quantity": 2, "unit": "piece"}
    )
    assert response.status_code == 201
    assert _json(response) == {
        "id": _json(response)["id"],
        "ingredient": "tomato",
        "quantity": 2,
        "unit": "piece",
        "checked": False,
        "manual": True,
    }
    regenerated = _json(ann_api.post(f"/api/shopping-lists/{body['id']}/regenerate/"))
    tomatoes = [i for i in regenerated["items"] if i["ingredient"] == "tomato"]
    assert sorted((i["manual"], i["quantity"]) for i in tomatoes) == [(False, 7), (True, 2)]


def test_another_family_gets_404_on_lists_items_and_plans(ann_api, bob_api, household, week_plan):
    body = _json(_create_week(ann_api))
    item_id = body["items"][0]["id"]
    lid = body["id"]
    for response in (
        bob_api.get(f"/api/shopping-lists/{lid}/"),
        bob_api.patch(f"/api/shopping-lists/{lid}/items/{item_id}/", {"checked": True}),
        bob_api.post(f"/api/shopping-lists/{lid}/regenerate/"),
        bob_api.post(f"/api/shopping-lists/{lid}/items/", {"ingredient": "x"}),
        bob_api.delete(f"/api/shopping-lists/{lid}/"),
        bob_api.get(f"/api/meal-plans/{MONDAY}/", family_id=str(household["family"].id)),
        bob_api.put(f"/api/meal-plans/{MONDAY}/?family_id={household['family'].id}", {"entries": []}),
    ):
        assert response.status_code == 404, response.content
        assert _json(response)["error"] == "not_found"
    assert _json(bob_api.get("/api/shopping-lists/"))["results"] == []
    # Bob's own plan for that day is his family's (empty), never Ann's.
    bob_plan = _json(bob_api.get(f"/api/meal-plans/{MONDAY}/"))
    assert bob_plan["family_id"] == household["other_family"].id and bob_plan["entries"] == []
    assert not ShoppingListItem.objects.filter(checked=True).exists()


def test_show_one_list_from_the_cached_lists(ann_api, week_plan, django_assert_num_queries):
    lid = _json(_create_week(ann_api))["id"]
    assert ann_api.get(f"/api/shopping-lists/{lid}/")["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        response = ann_api.get(f"/api/shopping-lists/{lid}/")
    assert response["X-Cache"] == "HIT" and _json(response)["id"] == lid


def test_query_count_does_not_grow_with_the_lists(
    ann_api, household, make_recipe, plan_meal, redis_conn, django_assert_num_queries
):
    """Same number of queries for 1 list of 1 line as for 5 lists of 14 plan entries x 8 lines, with manual items."""
    ann, family = household["ann"], household["family"]
    small = make_recipe(ann, "Small", lines=[("salt", "1", "tsp")])
    plan_meal(family, MONDAY, small)
    _create_week(ann_api)
    ann_api.get("/api/me/")  # identity cached: what is counted below is the lists payload alone

    def count_queries():
        from django.core.cache import cache
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        cache.delete(planner_cache.shopping_lists(ann.id).name)
        with CaptureQueriesContext(connection) as ctx:
            response = ann_api.get("/api/shopping-lists/")
        assert response["X-Cache"] == "MISS"
        return len(ctx.captured_queries), _json(response)

    few, _ = count_queries()
    big = [make_recipe(ann, f"Big {n}", lines=[(f"thing {n}-{i}", "1.5", "g") for i in range(8)]) for n in range(14)]
    for n, recipe in enumerate(big):
        plan_meal(family, MONDAY + dt.timedelta(days=n % 7), recipe, servings=3)
    for _ in range(4):
        lid = _json(_create_week(ann_api))["id"]
        ann_api.post(f"/api/shopping-lists/{lid}/items/", {"ingredient": "extra", "quantity": 1})
    many, body = count_queries()
    assert len(body["results"]) == 5
    assert sum(len(sl["items"]) for sl in body["results"]) == 5 * (1 + 14 * 8) + 4  # generated lines + manual items
    assert many == few == 4
