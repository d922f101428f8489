"""Bench data, written in bulk with the capture triggers off (no events: a measurement starts clean).

The world: families of users; recipes with ingredient lines; a week of meal plans per family (two entries a
day). The first family's first user, `bench0`, plans recipes 1..14 over the week, whose ingredients merge
into exactly 50 shopping-list lines (14 meal-plan entries -> a 50-item list, as issue 5 asks).
"""

import datetime as dt
import random
from dataclasses import dataclass

from bench import harness

PASSWORD = "bench-password-not-secret"
LIST_LINES = 50  # distinct (ingredient, unit) lines of bench0's shopping list
PLAN_RECIPES = 14  # the 14 meal-plan entries behind it


@dataclass
class World:
    user_id: int  # bench0
    username: str
    family_id: int
    week: list[dt.date]
    recipe_ids: list[int]  # all, in id order
    family_ids: list[int]
    user_ids: list[int]


def week_start(today: dt.date | None = None) -> dt.date:
    today = today or dt.date.today()
    return today - dt.timedelta(days=today.weekday())


def build(
    recipes: int = 500,
    families: int = 20,
    users_per_family: int = 2,
    recipes_with_ingredients: int = 2000,
    ingredients_per_recipe: int = 8,
    seed: int = 5,
) -> World:
    """Reset everything and write the world. Sizes are counts of rows; ~1 s per 10k recipes."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from planner.models import (
        Family,
        FamilyMembership,
        MealPlan,
        MealPlanEntry,
        Recipe,
        RecipeIngredient,
        UserPreferences,
    )

    rng = random.Random(seed)
    User = get_user_model()
    harness.reset_state()
    password = make_password(PASSWORD)  # hashed once, shared: hashing is deliberately slow
    week = [week_start() + dt.timedelta(days=i) for i in range(7)]
    with harness.no_events(), transaction.atomic():
        fams = Family.objects.bulk_create([Family(name=f"family {i}") for i in range(families)])
        users = User.objects.bulk_create(
            [User(username=f"bench{i}", password=password) for i in range(families * users_per_family)]
        )
        FamilyMembership.objects.bulk_create(
            [FamilyMembership(family=fams[i // users_per_family], user=u) for i, u in enumerate(users)]
        )
        UserPreferences.objects.bulk_create([UserPreferences(user=u) for u in users])
        recipe_objs = []
        for start in range(0, recipes, 10_000):
            chunk = [
                Recipe(
                    author=users[i % len(users)], title=f"recipe {i}", description="bench", servings=4, prep_minutes=20
                )
                for i in range(start, min(recipes, start + 10_000))
            ]
            recipe_objs += Recipe.objects.bulk_create(chunk, batch_size=5000)
        lines = []
        for n, r in enumerate(recipe_objs[:recipes_with_ingredients]):
            if n < PLAN_RECIPES:  # bench0's plan: windows over a pool of 50 that together cover all 50
                names = [f"staple {(n * 4 + j) % LIST_LINES:02d}" for j in range(ingredients_per_recipe)]
            else:
                names = [f"ingredient {rng.randrange(500):03d}" for _ in range(ingredients_per_recipe)]
            for pos, name in enumerate(dict.fromkeys(names)):
                lines.append(
                    RecipeIngredient(recipe=r, ingredient=name, quantity=rng.randint(1, 500), unit="g", position=pos)
                )
        RecipeIngredient.objects.bulk_create(lines, batch_size=5000)
        plans = MealPlan.objects.bulk_create([MealPlan(family=f, date=d) for f in fams for d in week])
        entries = []
        pool = recipe_objs[: max(PLAN_RECIPES + 1, min(len(recipe_objs), recipes_with_ingredients))]
        for p_index, plan in enumerate(plans):
            for slot, meal in enumerate(("lunch", "dinner")):
                if p_index < 7:  # the first family's week: recipes 1..14, one per entry
                    recipe = recipe_objs[p_index * 2 + slot]
                else:
                    recipe = rng.choice(pool)
                entries.append(MealPlanEntry(meal_plan=plan, meal=meal, recipe=recipe, servings=rng.randint(1, 6)))
        MealPlanEntry.objects.bulk_create(entries, batch_size=5000)
    harness.forget_events()
    return World(
        user_id=users[0].id,
        username=users[0].username,
        family_id=fams[0].id,
        week=week,
        recipe_ids=[r.id for r in recipe_objs],
        family_ids=[f.id for f in fams],
        user_ids=[u.id for u in users],
    )
