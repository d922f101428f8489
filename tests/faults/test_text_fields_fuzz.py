"""Every text field of every write, over all of Unicode (issue 12 item 9): never a 500.

Names are normalised before they are stored (ingredients: whitespace collapsed and lower-cased), and a
lower-cased string can be longer than the original ("İ" becomes "i" + U+0307): 60 x "İ" passed the length
check and then overflowed the 100-character column (500, StringDataRightTruncation). The limits are now those
of the database columns, checked after normalising, through the API and through the admin's forms.
"""

import datetime as dt
import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from planner import models

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db]

LONGER_WHEN_LOWERED = "İ" * 60  # 60 characters, 120 after str.lower()
# All of Unicode, lone surrogates included (JSON can carry them as \ud800 escapes).
any_text = st.text(st.characters(exclude_categories=()), max_size=260)


def _fields_of_every_write(list_id, recipe_id):
    """(method, path, body with `s` placed in one text field) for each text field the API writes."""
    line = {"quantity": 1, "unit": "g"}
    return {
        "recipe.title": lambda s: ("POST", "/api/recipes/", {"title": s}),
        "recipe.description": lambda s: ("POST", "/api/recipes/", {"title": "x", "description": s}),
        "recipe.ingredient": lambda s: (
            "POST",
            "/api/recipes/",
            {"title": "x", "ingredients": [{"ingredient": s, **line}]},
        ),
        "recipe.tag": lambda s: ("POST", "/api/recipes/", {"title": "x", "tags": [s]}),
        "recipe.patch.title": lambda s: ("PATCH", f"/api/recipes/{recipe_id}/", {"title": s}),
        "recipe.put.ingredient": lambda s: (
            "PUT",
            f"/api/recipes/{recipe_id}/",
            {"title": "x", "ingredients": [{"ingredient": s, **line}]},
        ),
        "list.name": lambda s: (
            "POST",
            "/api/shopping-lists/",
            {"start": "2026-01-01", "end": "2026-01-02", "name": s},
        ),
        "item.ingredient": lambda s: ("POST", f"/api/shopping-lists/{list_id}/items/", {"ingredient": s}),
        "preferences.disliked": lambda s: ("PATCH", "/api/preferences/", {"disliked_ingredients": [s]}),
        "plan.meal": lambda s: (
            "PUT",
            "/api/meal-plans/2026-01-01/",
            {"entries": [{"meal": s, "recipe_id": recipe_id}]},
        ),
        "login.username": lambda s: ("POST", "/api/auth/login/", {"username": s, "password": "x"}),
        "login.password": lambda s: ("POST", "/api/auth/login/", {"username": "nobody", "password": s}),
    }


FIELDS = sorted(_fields_of_every_write(1, 1))


@pytest.fixture
def own(ann_api, household, settings):
    from planner import shopping

    settings.LOGIN_RATE_LIMIT = "100000/m"  # the login fields are fuzzed too
    recipe = models.Recipe.objects.create(author=household["ann"], title="Mine")
    shopping_list = shopping.create_list(
        household["ann"].id, household["family"].id, dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    )
    return _fields_of_every_write(shopping_list.id, recipe.id)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(field=st.sampled_from(FIELDS), text=any_text)
@example(field="recipe.ingredient", text=LONGER_WHEN_LOWERED)
@example(field="recipe.put.ingredient", text=LONGER_WHEN_LOWERED)
@example(field="item.ingredient", text=LONGER_WHEN_LOWERED)
@example(field="preferences.disliked", text=LONGER_WHEN_LOWERED)
@example(field="recipe.tag", text="İ" * 50)
@example(field="list.name", text=" " + "x" * 100 + " ")
def test_no_text_in_any_field_gives_a_server_error(ann_api, own, field, text):
    method, path, body = own[field](text)
    response = ann_api.send(method, path, body)
    assert response.status_code < 500, (field, text, response.content)
    assert response["Content-Type"] == "application/json", (field, response.content)
    if response.status_code >= 400:
        answer = json.loads(response.content)
        assert answer["error"] and answer["detail"], answer


@pytest.mark.parametrize(
    "path, body, field",
    [
        (
            "/api/recipes/",
            {"title": "x", "ingredients": [{"ingredient": LONGER_WHEN_LOWERED, "quantity": 1, "unit": "g"}]},
            "ingredients[0].ingredient",
        ),
        ("/api/shopping-lists/{list_id}/items/", {"ingredient": LONGER_WHEN_LOWERED}, "ingredient"),
    ],
)
def test_a_name_longer_than_its_column_once_lowered_is_a_clear_400(ann_api, household, path, body, field):
    from planner import shopping

    shopping_list = shopping.create_list(
        household["ann"].id, household["family"].id, dt.date(2026, 1, 1), dt.date(2026, 1, 1)
    )
    response = ann_api.post(path.format(list_id=shopping_list.id), body)
    assert response.status_code == 400, response.content
    assert json.loads(response.content) == {
        "error": "invalid",
        "detail": {field: "at most 100 characters (once normalised)"},
    }


def test_a_name_that_fits_once_lowered_is_stored_lowered(ann_api):
    name = "İ" * 50  # 100 characters once lowered: exactly the column
    response = ann_api.post(
        "/api/recipes/", {"title": "x", "ingredients": [{"ingredient": name, "quantity": 1, "unit": "g"}]}
    )
    assert response.status_code == 201, response.content
    assert json.loads(response.content)["ingredients"][0]["ingredient"] == name.lower()


# --- the admin's forms -------------------------------------------------------------------------------------

admin_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=260)  # a form post is UTF-8: no surrogates


@pytest.fixture
def admin_client(client, household, make_user):
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    recipe = models.Recipe.objects.create(author=household["ann"], title="Mine")
    shopping_list = models.ShoppingList.objects.create(
        owner=household["ann"], start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 1)
    )
    forms = {
        "recipeingredient.ingredient": (
            models.RecipeIngredient,
            lambda s: {"recipe": recipe.id, "ingredient": s, "quantity": "1", "unit": "g", "position": "0"},
        ),
        "shoppinglistitem.ingredient": (
            models.ShoppingListItem,
            lambda s: {"shopping_list": shopping_list.id, "ingredient": s, "quantity": "1", "unit": "g"},
        ),
        "recipe.title": (
            models.Recipe,
            lambda s: {
                "author": household["ann"].id,
                "title": s,
                "description": "",
                "servings": "4",
                "prep_minutes": "0",
                **_empty_inline("ingredients"),
            },
        ),
        "family.name": (models.Family, lambda s: {"name": s, **_empty_inline("memberships")}),
        "tag.name": (models.Tag, lambda s: {"name": s}),
        "shoppinglist.name": (
            models.ShoppingList,
            lambda s: {
                "owner": household["ann"].id,
                "name": s,
                "start": "2026-01-01",
                "end": "2026-01-02",
                **_empty_inline("items"),
            },
        ),
    }
    return client, forms


def _empty_inline(prefix):
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


ADMIN_FORMS = [
    "recipeingredient.ingredient",
    "shoppinglistitem.ingredient",
    "recipe.title",
    "family.name",
    "tag.name",
    "shoppinglist.name",
]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(form=st.sampled_from(ADMIN_FORMS), text=admin_text)
@example(form="recipeingredient.ingredient", text=LONGER_WHEN_LOWERED)
@example(form="shoppinglistitem.ingredient", text=LONGER_WHEN_LOWERED)
def test_no_text_in_an_admin_form_gives_a_server_error(admin_client, form, text):
    client, forms = admin_client
    model, data = forms[form]
    client.raise_request_exception = True
    response = client.post(reverse(f"admin:planner_{model._meta.model_name}_add"), data(text))
    assert response.status_code in {200, 302}, (form, text, response.status_code)  # 200: the form with its errors


def test_the_admin_refuses_a_name_too_long_once_lowered_with_a_form_error(admin_client):
    client, forms = admin_client
    model, data = forms["recipeingredient.ingredient"]
    response = client.post(reverse("admin:planner_recipeingredient_add"), data(LONGER_WHEN_LOWERED))
    assert response.status_code == 200
    assert "at most 100 characters" in response.content.decode()
    assert not models.RecipeIngredient.objects.exists()
