"""planner/payloads.py: the exact JSON shapes of the cached reads, and what they raise."""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model

from planner import payloads
from planner.models import Recipe, Tag, UserPreferences

pytestmark = pytest.mark.django_db


def test_every_payload_is_plain_json(household, make_recipe, plan_meal):
    ann = household["ann"]
    recipe = make_recipe(ann, tags=["b", "a"])
    plan_meal(household["family"], dt.date(2026, 1, 1), recipe)
    for value in (
        payloads.recipe_detail(recipe.id),
        payloads.recipe_list(None, 1),
        payloads.meal_plan(household["family"].id, dt.date(2026, 1, 1)),
        payloads.shopping_lists(ann.id, 1, 10),
        payloads.preferences(ann.id),
        payloads.identity(ann.id),
    ):
        assert json.loads(json.dumps(value)) == value  # no dates, Decimals or model objects left inside


def test_recipe_detail_shape_and_missing_recipe(household, make_recipe):
    recipe = make_recipe(
        household["ann"], "Chili", servings=6, lines=[("beans", "400.5", "g")], tags=["spicy", "dinner"]
    )
    body = payloads.recipe_detail(recipe.id)
    assert {k: body[k] for k in ("id", "title", "servings", "prep_minutes", "tags", "description", "author_id")} == {
        "id": recipe.id,
        "title": "Chili",
        "servings": 6,
        "prep_minutes": 0,
        "tags": ["dinner", "spicy"],
        "description": "",
        "author_id": household["ann"].id,
    }
    assert body["ingredients"] == [
        {"id": body["ingredients"][0]["id"], "ingredient": "beans", "quantity": 400.5, "unit": "g"}
    ]
    with pytest.raises(Recipe.DoesNotExist):
        payloads.recipe_detail(recipe.id + 1000)


def test_recipe_list_pages(household, make_recipe):
    for i in range(41):
        make_recipe(household["ann"], f"R{i}", tags=["odd"] if i % 2 else [])
    first, third = payloads.recipe_list(None, 1), payloads.recipe_list(None, 3)
    assert (first["count"], len(first["results"]), first["previous"], first["next"]) == (
        41,
        20,
        None,
        "/api/recipes/?page=2",
    )
    assert (len(third["results"]), third["previous"], third["next"]) == (1, "/api/recipes/?page=2", None)
    assert payloads.recipe_list("odd", 1)["count"] == 20
    with pytest.raises(payloads.TagNotFound):  # a tag not in the database: nothing to list or cache (issue 12 item 6)
        payloads.recipe_list("none-such", 1)
    Tag.objects.create(name="unused")
    assert payloads.recipe_list("unused", 1) == {"count": 0, "next": None, "previous": None, "results": []}
    with pytest.raises(payloads.PageNotFound):
        payloads.recipe_list(None, 4)


def test_preferences_defaults_do_not_write(household, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert payloads.preferences(household["ann"].id) == {
            "diet": "omnivore",
            "default_servings": 4,
            "unit_system": "metric",
            "disliked_ingredients": [],
        }
    assert not UserPreferences.objects.exists()
    UserPreferences.objects.create(user=household["ann"], diet="vegan", disliked_ingredients=["olives"])
    assert payloads.preferences(household["ann"].id)["disliked_ingredients"] == ["olives"]


def test_identity_holds_the_session_hash_never_the_password_hash(household, django_assert_num_queries):
    ann = household["ann"]
    with django_assert_num_queries(1):
        body = payloads.identity(ann.id)
    assert body == {
        "id": ann.id,
        "username": "ann",
        "family_id": household["family"].id,
        "is_staff": False,
        "is_active": True,
        "session_hash": ann.get_session_auth_hash(),
    }
    assert ann.password not in json.dumps(body)
    assert payloads.identity(household["cat"].id)["family_id"] is None
    with pytest.raises(get_user_model().DoesNotExist):
        payloads.identity(10**12)
