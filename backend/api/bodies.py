"""The request bodies the API accepts, one function per body, built from api.validation's primitives.

Each returns a dict of clean values holding only the fields that were sent (PATCH) or every field with
its default (POST/PUT, partial=False). Limits keep one request's work bounded.
"""

import re

from django.conf import settings

from api import validation as v
from api.errors import bad_input
from planner.models import (
    Diet,
    Meal,
    Recipe,
    RecipeIngredient,
    ShoppingList,
    ShoppingListItem,
    Tag,
    Unit,
    UnitSystem,
    normalise_name,
)

MAX_INGREDIENT_LINES = 100
MAX_TAGS = 20
MAX_PLAN_ENTRIES = 50
MAX_DISLIKED = 100
MAX_LIST_DAYS = 366
_TAG = re.compile(r"[a-z0-9_-]{1,50}")  # the same rule as a cache key part (eventcache.declare.SLUG)


def _column(model, field: str) -> int:
    """The database column's limit: a string longer than this would fail the INSERT (a 500), not validation."""
    return model._meta.get_field(field).max_length


TITLE_MAX = _column(Recipe, "title")
TAG_MAX = _column(Tag, "name")
INGREDIENT_MAX = min(_column(RecipeIngredient, "ingredient"), _column(ShoppingListItem, "ingredient"))
LIST_NAME_MAX = _column(ShoppingList, "name")
DESCRIPTION_MAX = 10_000  # a TextField: our own bound, not the column's


def _ingredient_name(value, name: str) -> str:
    return v.clean_text(value, name, max_length=INGREDIENT_MAX, normalise=normalise_name)


def _ingredient_lines(raw: list) -> list[dict]:
    lines = []
    for index, item in enumerate(raw):
        where = f"ingredients[{index}]"
        item = v.obj(item, where)
        for field in ("ingredient", "quantity", "unit"):
            if field not in item:
                raise bad_input({f"{where}.{field}": "this field is required"}, "missing_field")
        lines.append(
            {
                "ingredient": _ingredient_name(item["ingredient"], f"{where}.ingredient"),
                "quantity": v.quantity(item["quantity"], f"{where}.quantity"),
                "unit": v.clean_choice(item["unit"], f"{where}.unit", Unit.values),
            }
        )
    return lines


def _tags(raw: list) -> list[str]:
    names = []
    for index, item in enumerate(raw):
        name = v.clean_text(item, f"tags[{index}]", max_length=TAG_MAX, normalise=str.lower)
        if not _TAG.fullmatch(name):
            raise bad_input({f"tags[{index}]": "a tag is 1-50 of a-z, 0-9, '-' or '_'"})
        names.append(name)
    return sorted(set(names))


RECIPE_DEFAULTS = {"description": "", "servings": 4, "prep_minutes": 0, "ingredients": [], "tags": []}


def recipe(body: dict, *, partial: bool) -> dict:
    """POST/PUT (partial=False: title required, the rest defaulted) or PATCH (only what was sent)."""
    fields = {
        "title": v.text(body, "title", max_length=TITLE_MAX, required=not partial),
        "description": v.text(body, "description", max_length=DESCRIPTION_MAX, allow_blank=True),
        "servings": v.integer(body, "servings", low=1, high=100),
        "prep_minutes": v.integer(body, "prep_minutes", low=0, high=24 * 60),
        "ingredients": v.array(body, "ingredients", max_items=MAX_INGREDIENT_LINES),
        "tags": v.array(body, "tags", max_items=MAX_TAGS),
    }
    fields = {k: value for k, value in fields.items() if value is not v.MISSING}
    if not partial:
        fields = RECIPE_DEFAULTS | fields
    if "ingredients" in fields:
        fields["ingredients"] = _ingredient_lines(fields["ingredients"])
    if "tags" in fields:
        fields["tags"] = _tags(fields["tags"])
    return fields


def meal_plan_entries(body: dict) -> list[dict]:
    """PUT /api/meal-plans/{date}/: {"entries": [{"meal", "recipe_id", "servings"?}]}."""
    entries = []
    for index, item in enumerate(v.array(body, "entries", max_items=MAX_PLAN_ENTRIES, required=True)):
        where = f"entries[{index}]"
        item = v.obj(item, where)
        entries.append(
            {
                "meal": v.choice(item, "meal", Meal.values, required=True),
                "recipe_id": v.integer(item, "recipe_id", low=1, high=2**63 - 1, required=True),
                "servings": v.integer(item, "servings", low=1, high=100, default=None),  # None: the recipe's own
            }
        )
    return entries


def shopping_list(body: dict) -> dict:
    start = v.date_field(body, "start", required=True)
    end = v.date_field(body, "end", required=True)
    if end < start:
        raise bad_input({"end": "must not be before start"}, "invalid_date")
    max_days = settings.SHOPPING_LIST_MAX_DAYS
    if (end - start).days >= max_days:
        raise bad_input({"end": f"a list covers at most {max_days} days"})
    name = v.text(body, "name", max_length=LIST_NAME_MAX, allow_blank=True, default="")
    return {"start": start, "end": end, "name": name}


def manual_item(body: dict) -> dict:
    return {
        "ingredient": v.text(body, "ingredient", max_length=INGREDIENT_MAX, required=True, normalise=normalise_name),
        "quantity": v.quantity(body["quantity"], "quantity") if "quantity" in body else v.quantity(1, "quantity"),
        "unit": v.choice(body, "unit", Unit.values, default=Unit.PIECE.value),
    }


def item_update(body: dict) -> dict:
    return {"checked": v.boolean(body, "checked", required=True)}


def preferences(body: dict) -> dict:
    """PATCH /api/preferences/: any subset of the fields."""
    fields = {
        "diet": v.choice(body, "diet", Diet.values),
        "default_servings": v.integer(body, "default_servings", low=1, high=100),
        "unit_system": v.choice(body, "unit_system", UnitSystem.values),
        "disliked_ingredients": v.array(body, "disliked_ingredients", max_items=MAX_DISLIKED),
    }
    fields = {k: value for k, value in fields.items() if value is not v.MISSING}
    if "disliked_ingredients" in fields:
        names = [
            _ingredient_name(x, f"disliked_ingredients[{i}]") for i, x in enumerate(fields["disliked_ingredients"])
        ]
        fields["disliked_ingredients"] = sorted(set(names))
    return fields
