"""One function per cached read. Each returns exactly the JSON-ready dict the API answers with, so a
cache hit is served as stored. Query counts do not grow with the size of the answer.

These are the `compute` functions of eventcache.store.readthrough.read(); the worker calls the same functions to
re-fill hot keys, so the API and the worker can never disagree about a value's shape.
"""

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist

from planner import shopping
from planner.models import MealPlanEntry, Recipe, Tag, UserPreferences

RECIPES_PAGE_SIZE = 20
RECIPES_PATH = "/api/recipes/"
SHOPPING_LISTS_PATH = "/api/shopping-lists/"


class PageNotFound(ObjectDoesNotExist, LookupError):
    """A page past the last one (of recipes, or of a user's shopping lists). An ObjectDoesNotExist, so the worker's
    re-fill and the warmers skip a hot page that has since gone (eventcache.store.invalidation, eventcache.warm)."""


class TagNotFound(LookupError):
    """A tag no recipe has ever had: nothing to list, and nothing to cache (any slug could be asked for)."""


def _recipe_summary(recipe: Recipe) -> dict:
    return {
        "id": recipe.id,
        "title": recipe.title,
        "servings": recipe.servings,
        "prep_minutes": recipe.prep_minutes,
        "tags": sorted(t.name for t in recipe.tags.all()),
    }


def recipe_detail(recipe_id: int) -> dict:
    """One recipe with its ingredient lines and tags (3 queries). Raises Recipe.DoesNotExist."""
    recipe = Recipe.objects.prefetch_related("ingredients", "tags").get(pk=recipe_id)
    return {
        **_recipe_summary(recipe),
        "description": recipe.description,
        "author_id": recipe.author_id,
        "ingredients": [
            {
                "id": line.id,
                "ingredient": line.ingredient,
                "quantity": shopping.json_quantity(line.quantity),
                "unit": line.unit,
            }
            for line in recipe.ingredients.all()
        ],
        "created_at": recipe.created_at.isoformat(),
        "updated_at": recipe.updated_at.isoformat(),
    }


def _page_url(tag: str | None, page: int, path: str = RECIPES_PATH) -> str:
    query = {"page": page} | ({"tag": tag} if tag else {})
    return f"{path}?{urlencode(query)}"


def recipe_list(tag: str | None, page: int) -> dict:
    """A page of recipes, optionally with a tag (3 queries). next/previous are URLs relative to the host,
    so the cached body does not depend on which host name a client used. Raises PageNotFound past the end,
    TagNotFound for a tag not in the database (one more query, only when the tag lists nothing)."""
    recipes = Recipe.objects.all()
    if tag:
        recipes = recipes.filter(tags__name=tag)
    count = recipes.count()
    if tag and count == 0 and not Tag.objects.filter(name=tag).exists():
        raise TagNotFound(f"no tag {tag!r}")
    last_page = max(1, -(-count // RECIPES_PAGE_SIZE))
    if page > last_page:
        raise PageNotFound(f"page {page} is past the last page ({last_page})")
    offset = (page - 1) * RECIPES_PAGE_SIZE
    rows = recipes.prefetch_related("tags")[offset : offset + RECIPES_PAGE_SIZE]
    return {
        "count": count,
        "next": _page_url(tag, page + 1) if page < last_page else None,
        "previous": _page_url(tag, page - 1) if page > 1 else None,
        "results": [_recipe_summary(r) for r in rows],
    }


def meal_plan(family_id: int, date: dt.date) -> dict:
    """A family's plan for a day (1 query). A day without a plan is a valid, empty plan."""
    entries = (
        MealPlanEntry.objects.filter(meal_plan__family_id=family_id, meal_plan__date=date)
        .select_related("recipe")
        .only("id", "meal", "servings", "recipe__id", "recipe__title")
    )
    return {
        "date": date.isoformat(),
        "family_id": family_id,
        "entries": [
            {"id": e.id, "meal": e.meal, "servings": e.servings, "recipe": {"id": e.recipe.id, "title": e.recipe.title}}
            for e in entries
        ],
    }


def shopping_lists(user_id: int, page: int, size: int) -> dict:
    """A page of `size` lists of the user, newest range first, with their items, shaped like the recipe pages (4
    queries, whatever the number of lists and items; a page with no lists, 2). Raises PageNotFound past the end;
    page 1 always exists (empty for a user without lists)."""
    lists, count = shopping.page_of_lists(user_id, (page - 1) * size, size)
    if not lists and page > 1:
        raise PageNotFound(f"page {page} is past the last page of shopping lists")
    last_page = max(1, -(-count // size))
    return {
        "count": count,
        "next": _page_url(None, page + 1, SHOPPING_LISTS_PATH) if page < last_page else None,
        "previous": _page_url(None, page - 1, SHOPPING_LISTS_PATH) if page > 1 else None,
        "results": shopping.list_dicts(lists, shopping.family_of(user_id) if lists else None),
    }


_PREFERENCE_FIELDS = ("diet", "default_servings", "unit_system", "disliked_ingredients")


def preferences_dict(prefs: UserPreferences) -> dict:
    return {name: getattr(prefs, name) for name in _PREFERENCE_FIELDS}


def preferences(user_id: int) -> dict:
    """The user's preferences, or the defaults when none are stored (never writes). 1 query."""
    prefs = UserPreferences.objects.filter(user_id=user_id).first() or UserPreferences(user_id=user_id)
    return preferences_dict(prefs)


def identity(user_id: int) -> dict:
    """What a cached read needs to know about the caller, so it never touches the users table (1 query).

    session_hash is Django's session auth hash (an HMAC of the password hash, never the hash itself);
    comparing it with the session's copy ends old sessions after a password change. Raises
    User.DoesNotExist."""
    user = get_user_model().objects.select_related("membership").get(pk=user_id)
    membership = getattr(user, "membership", None)
    return {
        "id": user.id,
        "username": user.get_username(),
        "family_id": membership.family_id if membership else None,
        "is_staff": user.is_staff,
        "is_active": user.is_active,
        "session_hash": user.get_session_auth_hash(),
    }
