"""manage.py seed_demo: idempotent demo data that makes every endpoint answer with something."""

import datetime as dt
import json

import pytest
from django.core.management import call_command

from planner.models import (
    Family,
    MealPlan,
    MealPlanEntry,
    Recipe,
    RecipeIngredient,
    ShoppingList,
    ShoppingListItem,
    Tag,
)
from tests.fixtures.api import ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MODELS = [Family, Recipe, RecipeIngredient, Tag, MealPlan, MealPlanEntry, ShoppingList, ShoppingListItem]


def _snapshot():
    from django.contrib.auth import get_user_model

    return {m.__name__: sorted(m.objects.values_list("pk", flat=True)) for m in [*MODELS, get_user_model()]} | {
        "passwords": sorted(get_user_model().objects.values_list("password", flat=True))
    }


def test_seed_twice_gives_the_same_data(fast_passwords):
    call_command("seed_demo")
    first = _snapshot()
    call_command("seed_demo")
    assert _snapshot() == first


def test_seeding_after_a_recipe_was_renamed_adds_nothing(fast_passwords):
    """The README's walkthrough renames recipe 1; the next `make run` seeds again and must find it by its seed_key."""
    call_command("seed_demo")
    first = _snapshot()
    Recipe.objects.filter(pk=1).update(title="Buttermilk pancakes (edited)")
    call_command("seed_demo")
    assert _snapshot() == first
    assert Recipe.objects.get(pk=1).title == "Buttermilk pancakes (edited)"  # the edit is kept, not re-seeded


def test_recipes_seeded_before_seed_keys_existed_are_adopted_by_title(fast_passwords):
    call_command("seed_demo")
    first = _snapshot()
    keys = dict(Recipe.objects.values_list("pk", "seed_key"))
    Recipe.objects.update(seed_key=None)  # a database seeded before migration planner 0002
    call_command("seed_demo")
    assert _snapshot() == first
    assert dict(Recipe.objects.values_list("pk", "seed_key")) == keys


def test_seeded_data_covers_every_endpoint(fast_passwords, redis_conn, cache_state):
    call_command("seed_demo")
    assert Recipe.objects.filter(pk=1).exists()
    assert Recipe.objects.count() >= 50
    assert all(
        3 <= r.ingredients.count() <= 8 and r.tags.exists() for r in Recipe.objects.filter(author__username="demo")
    )

    demo = ApiClient()
    demo.login("demo", "demo123")
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    for offset in range(7):
        plan = json.loads(demo.get(f"/api/meal-plans/{monday + dt.timedelta(days=offset)}/").content)
        assert sorted(e["meal"] for e in plan["entries"]) == ["breakfast", "dinner", "lunch"]
    [week] = json.loads(demo.get("/api/shopping-lists/").content)["results"]
    assert (week["start"], week["end"]) == (str(monday), str(monday + dt.timedelta(days=6)))
    assert len(week["items"]) > 10 and all(isinstance(i["id"], int) for i in week["items"])
    assert demo.get("/api/recipes/1/").status_code == 200
    assert json.loads(demo.get("/api/recipes/").content)["count"] >= 50

    alex = ApiClient()
    alex.login("alex", "alex123")
    assert alex.get(f"/api/shopping-lists/{week['id']}/").status_code == 404
    demo_family = json.loads(demo.get("/api/me/").content)["family_id"]
    assert alex.get(f"/api/meal-plans/{monday}/", family_id=str(demo_family)).status_code == 404
    assert json.loads(alex.get(f"/api/meal-plans/{monday}/").content)["entries"]  # alex's own family's plan
