"""python backend/manage.py seed_demo: demo data so every endpoint answers with something.

Idempotent: running it twice leaves the same data (nothing is duplicated, passwords are not re-hashed, so
existing sessions stay valid). Recipes are found by their seed_key (the slug of the seed title), so one renamed
since (the README's walkthrough renames recipe 1) is kept as it is, not seeded again. Creates:
- user demo / demo123 in "Demo family", the author of every seed recipe (recipe 1 is a seed recipe);
- user alex / alex123 in "Alex's family" with a plan and a list of its own (the 404 demo);
- 59 recipes with 3-8 ingredient lines and tags;
- this week's plans (Monday to Sunday, breakfast, lunch and dinner) and a shopping list for the week.
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils.text import slugify

from planner import shopping
from planner.models import (
    Family,
    FamilyMembership,
    MealPlan,
    MealPlanEntry,
    Recipe,
    RecipeIngredient,
    ShoppingList,
    Tag,
)

BREAKFASTS = [
    (
        "Buttermilk pancakes",
        20,
        ["breakfast", "vegetarian", "quick"],
        [
            ("flour", 200, "g"),
            ("buttermilk", 300, "ml"),
            ("egg", 2, "piece"),
            ("sugar", 2, "tbsp"),
            ("butter", 30, "g"),
        ],
    ),
    (
        "Overnight oats",
        5,
        ["breakfast", "vegetarian", "quick"],
        [("rolled oats", 160, "g"), ("milk", 400, "ml"), ("yogurt", 200, "g"), ("honey", 2, "tbsp")],
    ),
    (
        "Shakshuka",
        30,
        ["breakfast", "vegetarian"],
        [
            ("egg", 6, "piece"),
            ("tomato", 800, "g"),
            ("onion", 1, "piece"),
            ("bell pepper", 2, "piece"),
            ("garlic", 3, "piece"),
            ("cumin", 1, "tsp"),
            ("olive oil", 2, "tbsp"),
        ],
    ),
    (
        "Avocado toast",
        10,
        ["breakfast", "vegan", "quick"],
        [("bread", 4, "piece"), ("avocado", 2, "piece"), ("lemon", 1, "piece")],
    ),
    (
        "Granola bowl",
        5,
        ["breakfast", "vegetarian", "quick"],
        [("granola", 200, "g"), ("yogurt", 400, "g"), ("berries", 250, "g"), ("honey", 1, "tbsp")],
    ),
]

# (name, vegetarian?, main ingredient line)
MAINS = [
    ("chicken", False, ("chicken thigh", 600, "g")),
    ("tofu", True, ("firm tofu", 400, "g")),
    ("salmon", False, ("salmon fillet", 500, "g")),
    ("lentil", True, ("red lentils", 300, "g")),
    ("chickpea", True, ("chickpeas", 480, "g")),
    ("beef", False, ("beef mince", 500, "g")),
    ("mushroom", True, ("mushrooms", 500, "g")),
    ("egg", True, ("egg", 6, "piece")),
    ("shrimp", False, ("shrimp", 400, "g")),
]

# (dish, prep minutes, tags, other ingredient lines)
STYLES = [
    (
        "curry",
        40,
        ["dinner", "spicy"],
        [
            ("onion", 1, "piece"),
            ("coconut milk", 400, "ml"),
            ("curry paste", 2, "tbsp"),
            ("rice", 300, "g"),
            ("garlic", 2, "piece"),
        ],
    ),
    (
        "stir-fry",
        20,
        ["dinner", "quick"],
        [("soy sauce", 3, "tbsp"), ("bell pepper", 2, "piece"), ("noodles", 250, "g"), ("ginger", 1, "tbsp")],
    ),
    ("salad", 15, ["lunch", "quick"], [("lettuce", 1, "piece"), ("cucumber", 1, "piece"), ("olive oil", 3, "tbsp")]),
    (
        "soup",
        45,
        ["lunch", "comfort"],
        [
            ("carrot", 3, "piece"),
            ("onion", 1, "piece"),
            ("stock", 1, "l"),
            ("celery", 2, "piece"),
            ("potato", 400, "g"),
            ("bay leaf", 2, "piece"),
            ("black pepper", 1, "tsp"),
        ],
    ),
    (
        "tacos",
        25,
        ["dinner", "family"],
        [
            ("tortilla", 8, "piece"),
            ("tomato", 2, "piece"),
            ("cheddar", 150, "g"),
            ("lime", 1, "piece"),
            ("coriander", 1, "cup"),
            ("sour cream", 150, "ml"),
        ],
    ),
    (
        "bake",
        50,
        ["dinner", "comfort"],
        [("potato", 800, "g"), ("cream", 200, "ml"), ("cheddar", 100, "g"), ("thyme", 1, "tsp")],
    ),
]


def _recipe_specs():
    yield from BREAKFASTS
    for style, prep, tags, lines in STYLES:
        for main, vegetarian, main_line in MAINS:
            yield (
                f"{main.capitalize()} {style}",
                prep,
                tags + (["vegetarian"] if vegetarian else []),
                [main_line, *lines],
            )


class Command(BaseCommand):
    help = "Create (or complete) the demo data: users demo/demo123 and alex/alex123, 59 recipes, this week's plans."

    def handle(self, *args, **options):
        with transaction.atomic():
            demo_family, _ = Family.objects.get_or_create(name="Demo family")
            alex_family, _ = Family.objects.get_or_create(name="Alex's family")
            demo = self._user("demo", "demo123", demo_family)
            alex = self._user("alex", "alex123", alex_family)
            recipes = self._recipes(demo)
            monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
            week = [monday + dt.timedelta(days=i) for i in range(7)]
            breakfasts, mains = recipes[: len(BREAKFASTS)], recipes[len(BREAKFASTS) :]
            for i, day in enumerate(week):
                self._plan(
                    demo_family,
                    day,
                    [
                        ("breakfast", breakfasts[i % len(breakfasts)], 2),
                        ("lunch", mains[(2 * i) % len(mains)], 2),
                        ("dinner", mains[(2 * i + 9) % len(mains)], 4),
                    ],
                )
            for i, day in enumerate(week[:3]):
                self._plan(alex_family, day, [("dinner", mains[(5 * i + 3) % len(mains)], 2)])
            self._list(demo, demo_family, week[0], week[-1], "This week")
            self._list(alex, alex_family, week[0], week[2], "Alex's groceries")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Recipe.objects.count()} recipes; log in as demo/demo123 (or alex/alex123); "
                f"plans for {week[0]}..{week[-1]}."
            )
        )

    def _user(self, username, password, family):
        user, _ = get_user_model().objects.get_or_create(username=username)
        if not user.check_password(password):  # re-hashing on every run would end existing sessions
            user.set_password(password)
            user.save()
        FamilyMembership.objects.update_or_create(user=user, defaults={"family": family})
        return user

    def _recipes(self, author) -> list[Recipe]:
        recipes = []
        for index, (title, prep, tags, lines) in enumerate(_recipe_specs()):
            seed_key = slugify(title)
            recipe = Recipe.objects.filter(seed_key=seed_key).first() or self._adopt(author, title, seed_key)
            if recipe is None:
                # The README's curl reads /api/recipes/1/: make the first seed recipe id 1 when that id is free.
                pk = 1 if index == 0 and not Recipe.objects.filter(pk=1).exists() else None
                recipe = Recipe.objects.create(
                    pk=pk,
                    author=author,
                    title=title,
                    servings=4,
                    prep_minutes=prep,
                    description=f"{title}: a demo recipe.",
                    seed_key=seed_key,
                )
                if pk is not None:
                    self._reset_recipe_sequence()
                RecipeIngredient.objects.bulk_create(
                    [
                        RecipeIngredient(recipe=recipe, ingredient=name, quantity=Decimal(qty), unit=unit, position=pos)
                        for pos, (name, qty, unit) in enumerate(lines)
                    ]
                )
                recipe.tags.set([Tag.objects.get_or_create(name=t)[0] for t in tags])
            recipes.append(recipe)
        return recipes

    @staticmethod
    def _adopt(author, title, seed_key) -> Recipe | None:
        """A demo recipe seeded before recipes had a seed_key: found by its title once, and given its key."""
        recipe = Recipe.objects.filter(author=author, title=title, seed_key=None).first()
        if recipe is not None:
            Recipe.objects.filter(pk=recipe.pk).update(seed_key=seed_key)
        return recipe

    @staticmethod
    def _reset_recipe_sequence():
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Recipe]):
                cursor.execute(sql)

    @staticmethod
    def _plan(family, day, entries):
        plan, _ = MealPlan.objects.get_or_create(family=family, date=day)
        if not plan.entries.exists():
            MealPlanEntry.objects.bulk_create(
                [
                    MealPlanEntry(meal_plan=plan, meal=meal, recipe=recipe, servings=servings)
                    for meal, recipe, servings in entries
                ]
            )

    @staticmethod
    def _list(owner, family, start, end, name):
        shopping_list, _ = ShoppingList.objects.get_or_create(
            owner=owner, start=start, end=end, defaults={"name": name}
        )
        shopping.regenerate(shopping_list, family.id)
