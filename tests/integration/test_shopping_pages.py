"""GET /api/shopping-lists/?page=N (issue 12 item 7) against real Redis, PostgreSQL and a real Celery worker: each page
is a cached value of its own - N queries and MISS, then 0 and HIT - and each kind of write drops exactly the pages it
changes, by the writer at commit and by the worker's task (nothing is re-filled here: HOT_LISTS_TOP_N = 0):

    an item added or checked           the page showing its list
    a meal plan changed                the pages showing a list whose range holds the day
    a recipe changed                   the pages showing a list whose range holds a day planning it
    a list added or deleted            every page of the owner (the lists after it move)
    a family membership changed        every page of the member

Ann has five one-day lists, two a page (SHOPPING_LISTS_PAGE_SIZE = 2), newest first:
page 1 = days 4 and 3, page 2 = days 2 and 1, page 3 = day 0.
"""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventcache.store import invalidation
from planner import cache
from planner.models import FamilyMembership, MealPlan, MealPlanEntry, Recipe
from tests.factories import FamilyFactory, MealPlanFactory, RecipeFactory
from tests.fixtures.api import PANTRY_DAY
from tests.fixtures.worker import outbox_drained, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PAGE_QUERIES = 4  # the lists with their count, the family, the planned quantities, the stored items
MISS_QUERIES = PAGE_QUERIES + 1  # and the miss's database snapshot (eventcache/store/snapshots.py)
PAGES = (1, 2, 3)
DAYS = [PANTRY_DAY + dt.timedelta(days=n) for n in range(5)]


def _json(response):
    return json.loads(response.content)


@pytest.fixture
def paged(broker_conn, redis_conn, household, settings, celery_worker, ann_api):
    """Ann's five lists through the API (a planned recipe on day 4 and day 0), every page read once (cached), the
    worker idle. Returns {"lists": {day index: list id}, "recipe": the day-4 recipe, "api": ann's client, "ann": her id}."""
    settings.SHOPPING_LISTS_PAGE_SIZE = 2
    settings.HOT_LISTS_TOP_N = 0  # the worker re-fills nothing: a dropped page stays a miss until read
    family = household["family"]
    newest = RecipeFactory(author=household["ann"], title="Leek soup", ingredients=[("leek", "2", "piece")])
    oldest = RecipeFactory(author=household["ann"], title="Porridge", ingredients=[("oats", "80", "g")])
    MealPlanFactory(family=family, date=DAYS[4], entries=[(newest, 2)])
    MealPlanFactory(family=family, date=DAYS[0], entries=[(oldest, 2)])
    lists = {}
    for index, day in enumerate(DAYS):
        created = ann_api.post("/api/shopping-lists/", {"start": str(day), "end": str(day), "name": f"day {index}"})
        assert created.status_code == 201, created.content
        lists[index] = _json(created)["id"]
    assert ann_api.get("/api/me/").status_code == 200  # the identity is cached: page reads count the page only
    assert wait_until(outbox_drained, timeout=10)
    for page in PAGES:
        ann_api.get("/api/shopping-lists/", page=page)
    return {"lists": lists, "recipe": newest, "api": ann_api, "ann": household["ann"].id}


def dropped_pages(client) -> set[int]:
    """Once the worker has applied every event: the pages that are a miss now (each counted: MISS with its queries,
    or HIT with none), all of them cached again afterwards."""
    assert wait_until(outbox_drained, timeout=10)
    assert client.get("/api/me/").status_code == 200  # the identity, dropped by a membership change: not counted
    missed = set()
    for page in PAGES:
        with CaptureQueriesContext(connection) as counted:
            response = client.get("/api/shopping-lists/", page=page)
        assert response.status_code == 200, response.content
        expected = {"MISS": MISS_QUERIES, "HIT": 0}[response["X-Cache"]]
        assert len(counted.captured_queries) == expected, (page, response["X-Cache"], counted.captured_queries)
        if response["X-Cache"] == "MISS":
            missed.add(page)
    return missed


def test_each_page_misses_then_hits_and_says_where_the_others_are(paged, django_assert_num_queries):
    client = paged["api"]
    invalidation.invalidate([cache.shopping_lists(paged["ann"], page) for page in PAGES])
    for page in (1, 2):
        with django_assert_num_queries(MISS_QUERIES):
            first = client.get("/api/shopping-lists/", page=page)
        with django_assert_num_queries(0):
            second = client.get("/api/shopping-lists/", page=page)
        assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT") and first.content == second.content
    bodies = {page: _json(client.get("/api/shopping-lists/", page=page)) for page in PAGES}
    assert [body["count"] for body in bodies.values()] == [5, 5, 5]
    assert [[sl["name"] for sl in body["results"]] for body in bodies.values()] == [
        ["day 4", "day 3"],
        ["day 2", "day 1"],
        ["day 0"],
    ]
    assert (bodies[1]["previous"], bodies[1]["next"]) == (None, "/api/shopping-lists/?page=2")
    assert (bodies[2]["previous"], bodies[2]["next"]) == ("/api/shopping-lists/?page=1", "/api/shopping-lists/?page=3")
    assert (bodies[3]["previous"], bodies[3]["next"]) == ("/api/shopping-lists/?page=2", None)
    assert client.get("/api/shopping-lists/").content == client.get("/api/shopping-lists/", page=1).content


def test_an_item_added_or_checked_drops_only_the_page_showing_its_list(paged):
    client, day_1 = paged["api"], paged["lists"][1]
    added = client.post(f"/api/shopping-lists/{day_1}/items/", {"ingredient": "tea", "quantity": 1, "unit": "piece"})
    assert added.status_code == 201
    assert dropped_pages(client) == {2}
    checked = client.patch(f"/api/shopping-lists/{day_1}/items/{_json(added)['id']}/", {"checked": True})
    assert checked.status_code == 200
    assert dropped_pages(client) == {2}
    [shown] = [sl for sl in _json(client.get("/api/shopping-lists/", page=2))["results"] if sl["id"] == day_1]
    assert [(i["ingredient"], i["checked"]) for i in shown["items"]] == [("tea", True)]


def test_a_meal_plan_change_drops_only_the_pages_showing_its_day(paged, household):
    plan = MealPlan.objects.get(family=household["family"], date=DAYS[0])
    MealPlanEntry.objects.create(meal_plan=plan, meal="lunch", recipe=paged["recipe"], servings=4)
    assert dropped_pages(paged["api"]) == {3}
    [day_0] = _json(paged["api"].get("/api/shopping-lists/", page=3))["results"]
    assert {i["ingredient"] for i in day_0["items"]} == {"oats", "leek"}


def test_a_recipe_change_drops_only_the_pages_showing_a_day_planning_it(paged):
    client, recipe = paged["api"], paged["recipe"]
    changed = client.patch(
        f"/api/recipes/{recipe.id}/", {"ingredients": [{"ingredient": "leek", "quantity": 3, "unit": "piece"}]}
    )
    assert changed.status_code == 200, changed.content
    assert dropped_pages(client) == {1}
    day_4 = _json(client.get("/api/shopping-lists/", page=1))["results"][0]
    assert [(i["ingredient"], i["quantity"]) for i in day_4["items"]] == [("leek", 1.5)]  # 3 for 4, planned for 2
    Recipe.objects.filter(pk=RecipeFactory(author=recipe.author).pk).update(title="planned nowhere")
    assert dropped_pages(client) == set()


def test_a_list_added_or_deleted_drops_every_page(paged):
    client = paged["api"]
    newest = str(DAYS[4] + dt.timedelta(days=1))
    assert client.post("/api/shopping-lists/", {"start": newest, "end": newest}).status_code == 201
    assert dropped_pages(client) == set(PAGES)
    assert [sl["name"] for sl in _json(client.get("/api/shopping-lists/", page=3))["results"]] == ["day 1", "day 0"]
    assert client.delete(f"/api/shopping-lists/{paged['lists'][3]}/").status_code == 204
    assert dropped_pages(client) == set(PAGES)
    assert [sl["name"] for sl in _json(client.get("/api/shopping-lists/", page=2))["results"]] == ["day 2", "day 1"]


def test_a_new_family_drops_every_page_of_the_member(paged, household):
    FamilyMembership.objects.filter(user=household["ann"]).update(family=FamilyFactory(name="elsewhere"))
    assert dropped_pages(paged["api"]) == set(PAGES)
    assert all(not sl["items"] for sl in _json(paged["api"].get("/api/shopping-lists/", page=1))["results"])


def test_one_list_is_cut_out_of_the_cached_pages(paged, bob_api, django_assert_num_queries):
    client, day_1 = paged["api"], paged["lists"][1]
    with django_assert_num_queries(0):  # pages 1 and 2 are hits: no database
        response = client.get(f"/api/shopping-lists/{day_1}/")
    assert (response.status_code, response["X-Cache"], _json(response)["name"]) == (200, "HIT", "day 1")
    with django_assert_num_queries(1):  # on no page of hers: the database says whose it is
        assert client.get("/api/shopping-lists/999999/").status_code == 404


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "99999999999999999999"])
def test_a_malformed_page_is_a_400_and_caches_nothing(paged, redis_conn, page):
    before = set(redis_conn.keys("*shopping_lists*"))
    response = paged["api"].get("/api/shopping-lists/", page=page)
    assert response.status_code == 400 and _json(response)["error"] == "invalid"
    assert set(redis_conn.keys("*shopping_lists*")) == before


@pytest.mark.parametrize("page", [4, 25, 26, 10**6])
def test_a_page_past_the_last_is_a_404_and_caches_nothing(paged, redis_conn, page):
    response = paged["api"].get("/api/shopping-lists/", page=page)
    assert response.status_code == 404 and _json(response)["error"] == "not_found"
    assert not redis_conn.keys(f"*shopping_lists:size=2:page={page}}}")  # no value, no lease left behind
