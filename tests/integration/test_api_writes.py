"""Writes through the API: recipes (author or staff), meal plans (replace), preferences (PATCH creates)."""

import json

import pytest

from planner.models import MealPlan, Recipe, UserPreferences

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NEW_RECIPE = {
    "title": "  Tomato soup ",
    "servings": 2,
    "prep_minutes": 25,
    "ingredients": [
        {"ingredient": " Ripe  TOMATO ", "quantity": 1.25, "unit": "kg"},
        {"ingredient": "salt", "quantity": 1, "unit": "tsp"},
    ],
    "tags": ["soup", "Vegan"],
}


def _json(response):
    return json.loads(response.content)


def test_create_recipe_is_201_with_the_stored_recipe(ann_api, household):
    response = ann_api.post("/api/recipes/", NEW_RECIPE)
    assert response.status_code == 201, response.content
    body = _json(response)
    assert body["title"] == "Tomato soup"
    assert body["author_id"] == household["ann"].id
    assert body["tags"] == ["soup", "vegan"]
    assert [(i["ingredient"], i["quantity"], i["unit"]) for i in body["ingredients"]] == [
        ("ripe tomato", 1.25, "kg"),
        ("salt", 1, "tsp"),
    ]
    assert Recipe.objects.get(pk=body["id"]).servings == 2


def test_patch_changes_only_what_was_sent_and_put_replaces(ann_api):
    rid = _json(ann_api.post("/api/recipes/", NEW_RECIPE))["id"]
    patched = _json(ann_api.patch(f"/api/recipes/{rid}/", {"title": "Better soup"}))
    assert (
        patched["title"] == "Better soup" and len(patched["ingredients"]) == 2 and patched["tags"] == ["soup", "vegan"]
    )
    replaced = ann_api.put(f"/api/recipes/{rid}/", {"title": "Plain soup"})
    assert replaced.status_code == 200
    assert _json(replaced)["ingredients"] == [] and _json(replaced)["tags"] == [] and _json(replaced)["servings"] == 4


def test_put_needs_a_title(ann_api):
    rid = _json(ann_api.post("/api/recipes/", NEW_RECIPE))["id"]
    response = ann_api.put(f"/api/recipes/{rid}/", {"servings": 3})
    assert response.status_code == 400
    assert _json(response) == {"error": "missing_field", "detail": {"title": "this field is required"}}


def test_only_the_author_or_staff_may_change_a_recipe(ann_api, bob_api, household, make_user):
    rid = _json(ann_api.post("/api/recipes/", NEW_RECIPE))["id"]
    for response in (
        bob_api.patch(f"/api/recipes/{rid}/", {"title": "Mine now"}),
        bob_api.delete(f"/api/recipes/{rid}/"),
        bob_api.put(f"/api/recipes/{rid}/", {"title": "Mine now"}),
    ):
        assert response.status_code == 403
        assert _json(response)["error"] == "forbidden"
    assert Recipe.objects.get(pk=rid).title == "Tomato soup"

    from tests.fixtures.api import ApiClient

    make_user("staff", is_staff=True)
    staff = ApiClient()
    staff.login("staff")
    assert staff.patch(f"/api/recipes/{rid}/", {"title": "Moderated"}).status_code == 200
    assert ann_api.delete(f"/api/recipes/{rid}/").status_code == 204
    assert not Recipe.objects.filter(pk=rid).exists()


def test_unknown_recipe_is_404_for_reads_and_writes(ann_api):
    assert ann_api.get("/api/recipes/999999999/").status_code == 404
    assert ann_api.patch("/api/recipes/999999999/", {"title": "x"}).status_code == 404


def test_put_meal_plan_replaces_the_entries(ann_api, household, make_recipe, plan_meal):
    import datetime as dt

    old = make_recipe(household["ann"], "Old")
    new = make_recipe(household["ann"], "New", servings=6)
    plan_meal(household["family"], dt.date(2026, 5, 1), old)
    response = ann_api.put(
        "/api/meal-plans/2026-05-01/",
        {
            "entries": [
                {"meal": "dinner", "recipe_id": new.id, "servings": 2},
                {"meal": "breakfast", "recipe_id": new.id},
            ]
        },
    )
    assert response.status_code == 200, response.content
    body = _json(response)
    assert [(e["meal"], e["servings"], e["recipe"]["title"]) for e in body["entries"]] == [
        ("dinner", 2, "New"),
        ("breakfast", 6, "New"),
    ]
    plan = MealPlan.objects.get(family=household["family"], date="2026-05-01")
    assert plan.entries.count() == 2


def test_put_meal_plan_with_an_unknown_recipe_is_400_and_changes_nothing(ann_api, household, make_recipe, plan_meal):
    import datetime as dt

    recipe = make_recipe(household["ann"])
    plan_meal(household["family"], dt.date(2026, 5, 1), recipe)
    response = ann_api.put("/api/meal-plans/2026-05-01/", {"entries": [{"meal": "dinner", "recipe_id": 987654321}]})
    assert response.status_code == 400
    assert _json(response)["error"] == "unknown_recipe"
    assert MealPlan.objects.get(family=household["family"]).entries.count() == 1


def test_a_user_without_a_family_has_no_meal_plans(household, redis_conn):
    from tests.fixtures.api import ApiClient

    cat = ApiClient()
    cat.login("cat")
    assert cat.get("/api/meal-plans/2026-05-01/").status_code == 404
    assert cat.put("/api/meal-plans/2026-05-01/", {"entries": []}).status_code == 404


def test_patch_preferences_creates_the_row_then_updates_it(ann_api, household):
    response = ann_api.patch(
        "/api/preferences/", {"diet": "vegan", "disliked_ingredients": ["Coriander ", "olives", "olives"]}
    )
    assert response.status_code == 200, response.content
    assert _json(response) == {
        "diet": "vegan",
        "default_servings": 4,
        "unit_system": "metric",
        "disliked_ingredients": ["coriander", "olives"],
    }
    ann_api.patch("/api/preferences/", {"default_servings": 2})
    prefs = UserPreferences.objects.get(user=household["ann"])
    assert (prefs.diet, prefs.default_servings) == ("vegan", 2)


def test_get_preferences_without_a_row_does_not_create_one(ann_api, household):
    assert ann_api.get("/api/preferences/").status_code == 200
    assert not UserPreferences.objects.filter(user=household["ann"]).exists()


def test_unauthenticated_writes_are_401_or_403(api, household, make_recipe):
    recipe = make_recipe(household["ann"])
    # No session and no CSRF cookie: the CSRF check answers first (403); with a token but no session: 401.
    assert api.post("/api/recipes/", NEW_RECIPE).status_code == 403
    api.client.get("/api/me/")
    from django.middleware.csrf import _get_new_csrf_string

    api.client.cookies["csrftoken"] = _get_new_csrf_string()
    for response in (
        api.post("/api/recipes/", NEW_RECIPE),
        api.patch(f"/api/recipes/{recipe.id}/", {"title": "x"}),
        api.put("/api/meal-plans/2026-01-01/", {"entries": []}),
        api.patch("/api/preferences/", {"diet": "vegan"}),
    ):
        assert response.status_code == 401
        assert _json(response)["error"] == "not_authenticated"
