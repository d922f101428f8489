"""tests/factories.py makes what the tests rely on: passwords that log in, members in families, ingredient lines in
order and stored as the app stores them, one plan per family and day."""

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import (
    PASSWORD,
    FamilyFactory,
    MealPlanFactory,
    RecipeFactory,
    ShoppingListFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_a_user_logs_in_with_the_password_given_and_has_none_without_one(fast_passwords):
    family = FamilyFactory()
    with_password = UserFactory(password=PASSWORD, family=family)
    without = UserFactory()

    assert with_password.check_password(PASSWORD)
    assert not without.has_usable_password()
    assert with_password.membership.family == family
    assert not hasattr(without, "membership")


def test_a_recipe_has_its_lines_in_order_as_stored_by_the_app_and_shares_tags_by_name():
    soup = RecipeFactory(ingredients=[("  Green   PEAS ", "500", "g"), ("salt", 1, "tsp")], tags=["soup", "warm"])
    stew = RecipeFactory(tags=["warm"])

    lines = [(line.ingredient, line.quantity, line.unit, line.position) for line in soup.ingredients.all()]
    assert lines == [("green peas", Decimal("500"), "g", 0), ("salt", Decimal("1"), "tsp", 1)]
    assert sorted(soup.tags.values_list("name", flat=True)) == ["soup", "warm"]
    assert stew.tags.get() == soup.tags.get(name="warm")


def test_one_plan_per_family_and_day_gathers_its_entries():
    family, day = FamilyFactory(), dt.date(2030, 1, 7)
    soup, salad = RecipeFactory(), RecipeFactory()
    first = MealPlanFactory(family=family, date=day, entries=[(soup, 2)])
    again = MealPlanFactory(family=family, date=day, entries=[(salad, 3, "lunch")])

    assert again == first
    assert [(e.recipe, e.servings, e.meal) for e in first.entries.order_by("id")] == [
        (soup, 2, "dinner"),
        (salad, 3, "lunch"),
    ]


def test_a_shopping_list_spans_one_day_unless_told_otherwise():
    one_day = ShoppingListFactory(start=dt.date(2030, 1, 7))
    week = ShoppingListFactory(start=dt.date(2030, 1, 7), end=dt.date(2030, 1, 13), items=[("coffee", 250, "g")])

    assert one_day.end == one_day.start
    assert week.end == dt.date(2030, 1, 13)
    assert list(week.items.values_list("ingredient", "quantity", "manual")) == [("coffee", Decimal("250"), True)]
