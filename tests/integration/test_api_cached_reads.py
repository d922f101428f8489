"""Every cached GET against the real Redis and PostgreSQL: the first read queries the database and says
X-Cache: MISS; the second is served from Redis with zero queries (authentication included) and HIT."""

import datetime as dt
import json

import pytest

from planner import cache

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DAY = dt.date(2026, 3, 2)


@pytest.fixture
def warm_identity(ann_api):
    """Read /api/me/ once so the identity key is cached; the counted reads then show only the payload."""
    assert ann_api.get("/api/me/").status_code == 200


def _miss_then_hit(client, path, queries, django_assert_num_queries, **query):
    with django_assert_num_queries(queries):
        first = client.get(path, **query)
    assert first.status_code == 200, first.content
    assert first["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        second = client.get(path, **query)
    assert second.status_code == 200
    assert second["X-Cache"] == "HIT"
    assert second["Content-Type"] == "application/json"
    assert second.content == first.content
    return json.loads(second.content)


def test_recipe_detail(ann_api, warm_identity, household, make_recipe, redis_conn, django_assert_num_queries):
    recipe = make_recipe(
        household["ann"], "Pea soup", lines=[("peas", "500", "g"), ("onion", "1", "piece")], tags=["soup"]
    )
    body = _miss_then_hit(ann_api, f"/api/recipes/{recipe.id}/", 3, django_assert_num_queries)
    assert body["title"] == "Pea soup"
    assert body["tags"] == ["soup"]
    assert body["ingredients"] == [
        {"id": body["ingredients"][0]["id"], "ingredient": "peas", "quantity": 500, "unit": "g"},
        {"id": body["ingredients"][1]["id"], "ingredient": "onion", "quantity": 1, "unit": "piece"},
    ]
    # The key is under the recipe_planner prefix, as JSON (never pickle).
    raw = redis_conn.get(f"recipe_planner:1:{cache.recipe(recipe.id)}")
    assert raw is not None and b"Pea soup" in raw


def test_recipe_list_with_tag_and_pages(ann_api, warm_identity, household, make_recipe, django_assert_num_queries):
    for i in range(23):
        make_recipe(household["ann"], f"Stew {i}", tags=["stew"])
    make_recipe(household["ann"], "Cake", tags=["dessert"])
    body = _miss_then_hit(ann_api, "/api/recipes/", 3, django_assert_num_queries, tag="stew", page="2")
    assert body["count"] == 23
    assert [r["title"] for r in body["results"]] == ["Stew 20", "Stew 21", "Stew 22"]
    assert body["next"] is None
    assert body["previous"] == "/api/recipes/?page=1&tag=stew"
    first_page = ann_api.get("/api/recipes/", tag="stew")
    assert json.loads(first_page.content)["next"] == "/api/recipes/?page=2&tag=stew"
    assert len(json.loads(first_page.content)["results"]) == 20


def test_meal_plan(ann_api, warm_identity, household, make_recipe, plan_meal, django_assert_num_queries):
    recipe = make_recipe(household["ann"], "Risotto")
    entry = plan_meal(household["family"], DAY, recipe, servings=3, meal="lunch")
    body = _miss_then_hit(ann_api, f"/api/meal-plans/{DAY}/", 1, django_assert_num_queries)
    assert body == {
        "date": "2026-03-02",
        "family_id": household["family"].id,
        "entries": [{"id": entry.id, "meal": "lunch", "servings": 3, "recipe": {"id": recipe.id, "title": "Risotto"}}],
    }


def test_meal_plan_of_an_empty_day_is_cached_too(ann_api, warm_identity, household, django_assert_num_queries):
    body = _miss_then_hit(ann_api, "/api/meal-plans/2026-03-03/", 1, django_assert_num_queries)
    assert body["entries"] == []


def test_shopping_lists(ann_api, warm_identity, household, make_recipe, plan_meal, django_assert_num_queries):
    recipe = make_recipe(household["ann"], "Pasta", servings=2, lines=[("pasta", "200", "g")])
    plan_meal(household["family"], DAY, recipe, servings=3)
    assert ann_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    body = _miss_then_hit(ann_api, "/api/shopping-lists/", 4, django_assert_num_queries)
    [only] = body["results"]
    assert only["items"][0]["ingredient"] == "pasta"
    assert only["items"][0]["quantity"] == 300


def test_preferences(ann_api, warm_identity, django_assert_num_queries):
    body = _miss_then_hit(ann_api, "/api/preferences/", 1, django_assert_num_queries)
    assert body == {"diet": "omnivore", "default_servings": 4, "unit_system": "metric", "disliked_ingredients": []}


def test_first_read_after_login_includes_the_identity_query(ann_api, household, make_recipe, django_assert_num_queries):
    recipe = make_recipe(household["ann"])
    with django_assert_num_queries(1 + 3):  # identity (user + membership in one query) + the recipe's 3
        assert ann_api.get(f"/api/recipes/{recipe.id}/")["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        assert ann_api.get("/api/me/").status_code == 200
