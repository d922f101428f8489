"""The request bodies the API accepts, declared once with api.fields: the same declarations validate a request
and generate its OpenAPI schema (api.openapi).

Each function returns a dict of clean values holding only the fields that were sent (PATCH) or every field with
its default (POST/PUT, partial=False). Limits keep one request's work bounded.
"""

import re

from django.conf import settings

from api import fields as f
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


def _column(model, field: str) -> int:
    """The database column's limit: a string longer than this would fail the INSERT (a 500), not validation."""
    return model._meta.get_field(field).max_length


TITLE_MAX = _column(Recipe, "title")
TAG_MAX = _column(Tag, "name")
INGREDIENT_MAX = min(_column(RecipeIngredient, "ingredient"), _column(ShoppingListItem, "ingredient"))
LIST_NAME_MAX = _column(ShoppingList, "name")
DESCRIPTION_MAX = 10_000  # a TextField: our own bound, not the column's
# A tag is stored lower-case, the same rule as a cache key part (eventcache.declare.SLUG). Checked before lower-casing, since
# str.lower() maps a few non-ASCII letters (the Kelvin sign) to ASCII ones.
_TAG = re.compile(r"[A-Za-z0-9_-]{1,50}")
TAG_PATTERN = r"^\s*[A-Za-z0-9_-]{1,50}\s*$"


def _ingredient_name(value, name: str) -> str:
    return v.clean_text(value, name, max_length=INGREDIENT_MAX, normalise=normalise_name)


INGREDIENT_NAME = f.text_schema(
    INGREDIENT_MAX, description="stored lower-case, runs of whitespace collapsed; that form fits maxLength too"
)

_LINE_FIELDS = ("ingredient", "quantity", "unit")
INGREDIENT_LINE = {
    "type": "object",
    "properties": {
        "ingredient": INGREDIENT_NAME,
        "quantity": f.quantity_schema(),
        "unit": f.Choice(tuple(Unit.values)).schema(),
    },
    "required": list(_LINE_FIELDS),
}


def _ingredient_line(item, where: str) -> dict:
    item = v.obj(item, where)
    for field in _LINE_FIELDS:
        if field not in item:
            raise bad_input({f"{where}.{field}": "this field is required"}, "missing_field")
    return {
        "ingredient": _ingredient_name(item["ingredient"], f"{where}.ingredient"),
        "quantity": v.quantity(item["quantity"], f"{where}.quantity"),
        "unit": v.clean_choice(item["unit"], f"{where}.unit", Unit.values),
    }


def _tag(item, where: str) -> str:
    name = v.clean_text(item, where, max_length=TAG_MAX)
    if not _TAG.fullmatch(name):
        raise bad_input({where: "a tag is 1-50 of a-z, 0-9, '-' or '_'"})
    return name.lower()


TAG = {"type": "string", "maxLength": TAG_MAX, "pattern": TAG_PATTERN, "description": "stored lower-case"}

LOGIN = f.Body({"username": f.Text(150, required=True), "password": f.Text(4096, required=True, strip=False)})

RECIPE = f.Body(
    {
        "title": f.Text(TITLE_MAX, required=True),
        "description": f.Text(DESCRIPTION_MAX, allow_blank=True),
        "servings": f.Integer(1, 100),
        "prep_minutes": f.Integer(0, 24 * 60),
        "ingredients": f.Array(MAX_INGREDIENT_LINES, _ingredient_line, INGREDIENT_LINE),
        "tags": f.Array(MAX_TAGS, _tag, TAG),
    },
    "PUT and POST replace every field (the missing ones take their defaults); PATCH changes only those sent",
)
RECIPE_DEFAULTS = {"description": "", "servings": 4, "prep_minutes": 0, "ingredients": [], "tags": []}


def recipe(body: dict, *, partial: bool) -> dict:
    """POST/PUT (partial=False: title required, the rest defaulted) or PATCH (only what was sent)."""
    fields = RECIPE.clean(body, partial=partial)
    if "tags" in fields:
        fields["tags"] = sorted(set(fields["tags"]))
    return fields if partial else RECIPE_DEFAULTS | fields


_ENTRY = f.Body(
    {
        "meal": f.Choice(tuple(Meal.values), required=True),
        "recipe_id": f.Integer(1, f.ID_MAX, required=True),
        "servings": f.Integer(1, 100, default=None),  # None: the recipe's own
    }
)


def _entry(item, where: str) -> dict:
    return _ENTRY.clean(v.obj(item, where))


MEAL_PLAN = f.Body({"entries": f.Array(MAX_PLAN_ENTRIES, _entry, _ENTRY.schema(), required=True)})


def meal_plan_entries(body: dict) -> list[dict]:
    """PUT /api/meal-plans/{date}/: {"entries": [{"meal", "recipe_id", "servings"?}]}."""
    return MEAL_PLAN.clean(body)["entries"]


SHOPPING_LIST = f.Body(
    {
        "start": f.Date(required=True),
        "end": f.Date(required=True),
        "name": f.Text(LIST_NAME_MAX, allow_blank=True, default=""),
    },
    "end is not before start, and a list covers at most SHOPPING_LIST_MAX_DAYS days (a server setting)",
)


def shopping_list(body: dict) -> dict:
    fields = SHOPPING_LIST.clean(body)
    if fields["end"] < fields["start"]:
        raise bad_input({"end": "must not be before start"}, "invalid_date")
    max_days = settings.SHOPPING_LIST_MAX_DAYS
    if (fields["end"] - fields["start"]).days >= max_days:
        raise bad_input({"end": f"a list covers at most {max_days} days"})
    return fields


MANUAL_ITEM = f.Body(
    {
        "ingredient": f.Text(INGREDIENT_MAX, required=True, normalise=normalise_name),
        "quantity": f.Quantity(default=v.quantity(1, "quantity")),
        "unit": f.Choice(tuple(Unit.values), default=Unit.PIECE.value),
    }
)


def manual_item(body: dict) -> dict:
    return MANUAL_ITEM.clean(body)


ITEM_UPDATE = f.Body({"checked": f.Boolean(required=True)})


def item_update(body: dict) -> dict:
    return ITEM_UPDATE.clean(body)


def _disliked(item, where: str) -> str:
    return _ingredient_name(item, where)


PREFERENCES = f.Body(
    {
        "diet": f.Choice(tuple(Diet.values)),
        "default_servings": f.Integer(1, 100),
        "unit_system": f.Choice(tuple(UnitSystem.values)),
        "disliked_ingredients": f.Array(MAX_DISLIKED, _disliked, INGREDIENT_NAME),
    },
    "any subset of the fields",
)


def preferences(body: dict) -> dict:
    """PATCH /api/preferences/: any subset of the fields."""
    fields = PREFERENCES.clean(body)
    if "disliked_ingredients" in fields:
        fields["disliked_ingredients"] = sorted(set(fields["disliked_ingredients"]))
    return fields
