"""JSON Schemas of what the API answers (the payloads of planner.payloads and planner.shopping, the error body
of api.errors). Objects are closed (additionalProperties: false), so a payload that gains a field without being
described here fails the Schemathesis run (tests/integration/test_openapi_fuzz.py)."""

from api import bodies
from planner.models import Diet, Meal, Unit, UnitSystem


def obj(properties: dict, *, optional=()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


ID = {"type": "integer", "minimum": 1}
STRING = {"type": "string"}
UNIT = {"type": "string", "enum": sorted(Unit.values)}
QUANTITY = {"type": "number", "minimum": 0}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}

SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "description": "a stable machine-readable code"},
            "detail": {"description": "a human explanation: a string, or an object naming each refused field"},
        },
        "required": ["error", "detail"],
        "additionalProperties": False,
    },
    "LoggedIn": obj({"id": ID, "username": STRING, "family_id": nullable(ID)}),
    "Me": obj({"id": ID, "username": STRING, "family_id": nullable(ID), "is_staff": {"type": "boolean"}}),
    "RecipeSummary": obj(
        {
            "id": ID,
            "title": STRING,
            "servings": {"type": "integer"},
            "prep_minutes": {"type": "integer"},
            "tags": {"type": "array", "items": STRING},
        }
    ),
    "IngredientLine": obj({"id": ID, "ingredient": STRING, "quantity": QUANTITY, "unit": UNIT}),
    "Recipe": obj(
        {
            "id": ID,
            "title": STRING,
            "servings": {"type": "integer"},
            "prep_minutes": {"type": "integer"},
            "tags": {"type": "array", "items": STRING},
            "description": STRING,
            "author_id": ID,
            "ingredients": {"type": "array", "items": ref("IngredientLine")},
            "created_at": DATETIME,
            "updated_at": DATETIME,
        }
    ),
    "RecipePage": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "next": nullable(STRING),
            "previous": nullable(STRING),
            "results": {"type": "array", "items": ref("RecipeSummary")},
        }
    ),
    "MealPlan": obj(
        {
            "date": DATE,
            "family_id": ID,
            "entries": {
                "type": "array",
                "items": obj(
                    {
                        "id": ID,
                        "meal": {"type": "string", "enum": sorted(Meal.values)},
                        "servings": {"type": "integer"},
                        "recipe": obj({"id": ID, "title": STRING}),
                    }
                ),
            },
        }
    ),
    "ShoppingItem": obj(
        {
            "id": nullable(ID),
            "ingredient": STRING,
            "quantity": QUANTITY,
            "unit": UNIT,
            "checked": {"type": "boolean"},
            "manual": {"type": "boolean"},
        },
        # A generated line's quantity is computed from the plans: PATCH of its checked state answers without it.
        optional=("quantity",),
    ),
    "ShoppingList": obj(
        {"id": ID, "name": STRING, "start": DATE, "end": DATE, "items": {"type": "array", "items": ref("ShoppingItem")}}
    ),
    "ShoppingListPage": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "next": nullable(STRING),
            "previous": nullable(STRING),
            "results": {"type": "array", "items": ref("ShoppingList")},
        }
    ),
    "Preferences": obj(
        {
            "diet": {"type": "string", "enum": sorted(Diet.values)},
            "default_servings": {"type": "integer"},
            "unit_system": {"type": "string", "enum": sorted(UnitSystem.values)},
            "disliked_ingredients": {"type": "array", "items": STRING},
        }
    ),
    "Login": bodies.LOGIN.schema(),
    "RecipeWrite": bodies.RECIPE.schema(),
    "RecipePatch": bodies.RECIPE.schema(partial=True),
    "MealPlanWrite": bodies.MEAL_PLAN.schema(),
    "ShoppingListWrite": bodies.SHOPPING_LIST.schema(),
    "ManualItemWrite": bodies.MANUAL_ITEM.schema(),
    "ItemUpdate": bodies.ITEM_UPDATE.schema(),
    "PreferencesPatch": bodies.PREFERENCES.schema(),
}
