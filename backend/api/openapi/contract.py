"""What each operation of the API does, keyed by the route's name in api.urls and the HTTP method: a summary, the
request body (a schema of api.openapi.shapes, built from api.bodies), query parameters and success responses.
Every operation also answers errors with the Error body (`default`). Path parameters come from the route."""

from dataclasses import dataclass, field

from api import fields as f

ID_PARAM = {"type": "string", "pattern": f.ID, "description": "a positive integer id"}
DATE_PARAM = f.date_schema()


@dataclass(frozen=True)
class Op:
    summary: str
    responses: dict  # status -> schema name in shapes.SCHEMAS, or None for no body
    body: str | None = None
    query: dict = field(default_factory=dict)  # name -> JSON Schema (all optional)
    cached: bool = False  # answers X-Cache: HIT or MISS
    tags: tuple = ()


PATH_PARAMS = {
    "recipe_id": ID_PARAM,
    "list_id": ID_PARAM,
    "item_id": ID_PARAM,
    "day": {**DATE_PARAM, "description": "YYYY-MM-DD, within MEAL_PLAN_WINDOW_DAYS of today (a server setting)"},
}

OPERATIONS = {
    ("api-login", "POST"): Op(
        "Log in: sets the sessionid and csrftoken cookies (send csrftoken back as X-CSRFToken on writes)",
        {200: "LoggedIn"},
        body="Login",
        tags=("auth",),
    ),
    ("api-logout", "POST"): Op("Log out (ends the session)", {204: None}, tags=("auth",)),
    ("api-me", "GET"): Op("Who am I", {200: "Me"}, tags=("auth",)),
    ("api-recipes", "GET"): Op(
        "A page of recipes, optionally with one tag",
        {200: "RecipePage"},
        query={
            "tag": {"type": "string", "pattern": r"^[a-z0-9_-]{0,50}$", "description": "empty means no tag"},
            "page": {"type": "string", "pattern": r"^[1-9][0-9]{0,8}$", "description": "1 when absent"},
        },
        cached=True,
        tags=("recipes",),
    ),
    ("api-recipes", "POST"): Op("Create a recipe", {201: "Recipe"}, body="RecipeWrite", tags=("recipes",)),
    ("api-recipe", "GET"): Op("One recipe", {200: "Recipe"}, cached=True, tags=("recipes",)),
    ("api-recipe", "PUT"): Op(
        "Replace a recipe (author or staff)", {200: "Recipe"}, body="RecipeWrite", tags=("recipes",)
    ),
    ("api-recipe", "PATCH"): Op(
        "Change a recipe (author or staff)", {200: "Recipe"}, body="RecipePatch", tags=("recipes",)
    ),
    ("api-recipe", "DELETE"): Op("Delete a recipe (author or staff)", {204: None}, tags=("recipes",)),
    ("api-meal-plan", "GET"): Op(
        "The caller's family plan for a day (empty when none)",
        {200: "MealPlan"},
        query={"family_id": {**ID_PARAM, "description": "only the caller's own family answers"}},
        cached=True,
        tags=("meal plans",),
    ),
    ("api-meal-plan", "PUT"): Op(
        "Replace the entries of the caller's family plan for a day",
        {200: "MealPlan"},
        body="MealPlanWrite",
        query={"family_id": {**ID_PARAM, "description": "only the caller's own family answers"}},
        tags=("meal plans",),
    ),
    ("api-shopping-lists", "GET"): Op(
        "A page of the caller's shopping lists, newest range first (SHOPPING_LISTS_PAGE_SIZE a page; 404 past the last)",
        {200: "ShoppingListPage"},
        query={"page": {"type": "string", "pattern": r"^[1-9][0-9]{0,8}$", "description": "1 when absent"}},
        cached=True,
        tags=("shopping",),
    ),
    ("api-shopping-lists", "POST"): Op(
        "Create a shopping list from the family's plans over a range of days",
        {201: "ShoppingList"},
        body="ShoppingListWrite",
        tags=("shopping",),
    ),
    ("api-shopping-list", "GET"): Op(
        "One of the caller's lists", {200: "ShoppingList"}, cached=True, tags=("shopping",)
    ),
    ("api-shopping-list", "DELETE"): Op("Delete one of the caller's lists", {204: None}, tags=("shopping",)),
    ("api-shopping-list-regenerate", "POST"): Op(
        "Store rows for lines that appeared since the list was made", {200: "ShoppingList"}, tags=("shopping",)
    ),
    ("api-shopping-list-items", "POST"): Op(
        "Add a manual item to a list", {201: "ShoppingItem"}, body="ManualItemWrite", tags=("shopping",)
    ),
    ("api-shopping-list-item", "PATCH"): Op(
        "Check an item off (or on again)", {200: "ShoppingItem"}, body="ItemUpdate", tags=("shopping",)
    ),
    ("api-preferences", "GET"): Op(
        "The caller's preferences", {200: "Preferences"}, cached=True, tags=("preferences",)
    ),
    ("api-preferences", "PATCH"): Op(
        "Change any of the caller's preferences", {200: "Preferences"}, body="PreferencesPatch", tags=("preferences",)
    ),
}
