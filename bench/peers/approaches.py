"""The four approaches behind one small interface, so the same reads, writes and checks run through each:

    approach.read_recipe(recipe_id) -> dict | None     the recipe detail payload (None: no such recipe)
    approach.read_meal_plan(family_id, day) -> dict    a family's plan for a day
    approach.read_recipe_list(tag, page) -> dict       a page of recipes
    approach.settle()                                  wait until this approach's invalidation is done

- ours: our read-through (bench/peers/ours.py); invalidation is asynchronous (outbox -> worker), so settle()
  waits for the outbox to drain.
- cacheops / cachalot: they cache the ORM queries the same payload functions run (settings_cacheops.py,
  settings_cachalot.py turn them on for every planner model); invalidation is synchronous in the writer.
- delete_pattern: the common django-redis recipe - cache the payload under the same key name, and on
  post_save/post_delete call cache.delete_pattern() for the keys built from the saved object.

Payloads are JSON-decoded the same way for all four, so they compare equal when they are equal.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from planner import payloads
from planner.models import Recipe

PEER_CACHE_ALIAS = "peer"  # settings_delete_pattern.py: the delete_pattern recipe's own django-redis cache


def _json(payload) -> dict:
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _or_none(fn):
    try:
        return fn()
    except Recipe.DoesNotExist:
        return None


class Approach:
    name = "?"

    def cached(self, key_name: str, key, compute) -> dict:
        raise NotImplementedError

    def read_recipe(self, recipe_id: int):
        return _or_none(
            lambda: self.cached(f"recipe:{recipe_id}", ("recipe", recipe_id), lambda: payloads.recipe_detail(recipe_id))
        )

    def read_meal_plan(self, family_id: int, day) -> dict:
        return self.cached(
            f"meal_plan:{day.isoformat()}:{family_id}",
            ("meal_plan", day, family_id),
            lambda: payloads.meal_plan(family_id, day),
        )

    def read_recipe_list(self, tag, page: int) -> dict:
        return self.cached(
            f"api:recipes:tag={tag or ''}:page={page}",
            ("recipe_list", tag, page),
            lambda: payloads.recipe_list(tag, page),
        )

    def settle(self) -> None:
        pass


class Ours(Approach):
    name = "ours"

    def __init__(self):
        from bench.peers import ours

        self.ours = ours

    def _key(self, key):
        kind, *args = key
        if kind == "recipe":
            return self.ours.recipe_key(*args)
        if kind == "meal_plan":
            return self.ours.meal_plan_key(*args)
        return self.ours.recipe_list_key(*args)

    def cached(self, key_name, key, compute):
        return self.ours.read(self._key(key), compute)

    def settle(self):
        self.ours.settle()


class OrmCache(Approach):
    """cacheops and cachalot: the payload functions' own queries are cached by the library."""

    def __init__(self, name: str):
        self.name = name

    def cached(self, key_name, key, compute):
        return _json(compute())


class DeletePattern(Approach):
    name = "delete_pattern"

    def __init__(self):
        from django.core.cache import caches

        self.cache = caches[PEER_CACHE_ALIAS]

    def cached(self, key_name, key, compute):
        value = self.cache.get(key_name)
        if value is None:
            value = _json(compute())
            self.cache.set(key_name, value, 30 * 60)
        return value

    def connect_signals(self) -> None:
        """The recipe's invalidation: each saved or deleted object drops the keys built from it."""
        from django.db.models.signals import post_delete, post_save

        from planner.models import MealPlan, MealPlanEntry, RecipeIngredient

        def recipe_changed(sender, instance, **kwargs):
            self.cache.delete_pattern(f"recipe:{instance.pk}")
            self.cache.delete_pattern("api:recipes:*")

        def line_changed(sender, instance, **kwargs):
            self.cache.delete_pattern(f"recipe:{instance.recipe_id}")

        def plan_changed(sender, instance, **kwargs):
            self.cache.delete_pattern("meal_plan:*")

        for signal in (post_save, post_delete):
            signal.connect(recipe_changed, sender=Recipe, weak=False)
            signal.connect(line_changed, sender=RecipeIngredient, weak=False)
            signal.connect(plan_changed, sender=MealPlan, weak=False)
            signal.connect(plan_changed, sender=MealPlanEntry, weak=False)


def build(name: str) -> Approach:
    if name == "ours":
        return Ours()
    if name == "delete_pattern":
        approach = DeletePattern()
        approach.connect_signals()
        return approach
    return OrmCache(name)
