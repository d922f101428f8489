"""/api/meal-plans/{YYYY-MM-DD}/: the caller's family plan for a day (cached), and PUT to replace its entries.

The plan is always the caller's own family's. `?family_id=N` may name the family explicitly; any family
other than the caller's answers 404, the same as a plan that does not exist (no leak of what exists).

A date more than settings.MEAL_PLAN_WINDOW_DAYS from today answers 400, read or written: every day is a
cache key of its own, so this bounds the plan keys a family can make to one per day of the window.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse

from api import bodies, dispatch, validation
from api.dispatch import cached_response, endpoint
from api.errors import bad_input, not_found_error
from planner import cache, payloads
from planner.models import MealPlan, MealPlanEntry, Recipe


def _family(request, me) -> int:
    asked = validation.optional_query_id(request, "family_id")
    family_id = me["family_id"]
    if family_id is None or (asked is not None and asked != family_id):
        raise not_found_error("no such meal plan")
    return family_id


def _date(day: str) -> dt.date:
    date = validation.iso_date(day, "date")
    window = settings.MEAL_PLAN_WINDOW_DAYS
    if abs((date - dt.date.today()).days) > window:
        raise bad_input({"date": f"a meal plan is at most {window} days before or after today"}, "invalid_date")
    return date


def _show(request, me, day):
    date = _date(day)
    family_id = _family(request, me)
    key = cache.meal_plan(date, family_id)  # needs the identity's family: read after it (2 round trips on a hit)
    return cached_response(dispatch.read(request, key, lambda: payloads.meal_plan(family_id, date)))


def _replace(request, me, day):
    date = _date(day)
    family_id = _family(request, me)
    entries = bodies.meal_plan_entries(validation.json_object(request))
    recipe_servings = dict(
        Recipe.objects.filter(pk__in={e["recipe_id"] for e in entries}).values_list("id", "servings")
    )
    unknown = sorted({e["recipe_id"] for e in entries} - recipe_servings.keys())
    if unknown:
        raise bad_input({"recipe_id": f"no such recipes: {unknown}"}, "unknown_recipe")
    with transaction.atomic():
        plan, _ = MealPlan.objects.get_or_create(family_id=family_id, date=date)
        plan.entries.all().delete()
        MealPlanEntry.objects.bulk_create(
            [
                MealPlanEntry(
                    meal_plan=plan,
                    meal=e["meal"],
                    recipe_id=e["recipe_id"],
                    servings=e["servings"] or recipe_servings[e["recipe_id"]],
                )
                for e in entries
            ]
        )
    return JsonResponse(payloads.meal_plan(family_id, date))


day = endpoint(GET=_show, PUT=_replace)
