"""A new cached read is a declaration, not an engine change (issue 11, item 1): "a family's favourite recipes"
declared here with eventcache.declare only - a Family with its payload, and two Rules - and installed with
declare.use(), is read through, hit, and invalidated by real writes against real Redis and PostgreSQL:

- a meal-plan write names the family itself (a primary key: the writer drops it on commit);
- a recipe rename reaches it only through a batched dependents look-up, which the worker's task runs.
"""

import json

import pytest
from django.db import transaction
from django.db.models import Count

from eventcache import declare
from eventcache.declare import ID, Family, Rule
from eventcache.store import ops, readthrough
from planner import cache
from planner.models import MealPlanEntry, Recipe
from tests.fixtures.worker import outbox_drained, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PAYLOAD_QUERIES = 1
MISS_QUERIES = PAYLOAD_QUERIES + 1  # and the miss's database snapshot (eventcache/store/snapshots.py)


def favourite_recipes(family_id: int) -> dict:
    """The family's most planned recipes (one query)."""
    rows = (
        MealPlanEntry.objects.filter(meal_plan__family_id=family_id)
        .values("recipe_id", "recipe__title")
        .annotate(times=Count("id"))
        .order_by("-times", "recipe_id")[:5]
    )
    return {"results": [{"id": r["recipe_id"], "title": r["recipe__title"], "times": r["times"]} for r in rows]}


FAVOURITES = Family(
    "favourite_recipes", "family:{family_id}:favourite_recipes", 10 * 60, {"family_id": ID}, favourite_recipes
)


def favourites(family_id: int):
    return FAVOURITES.key(family_id=family_id)


def families_planning(events) -> list:
    """Batched: the families whose plans use any of the events' recipes (one query for the whole batch)."""
    recipe_ids = {event.recipe_id for event in events}
    planned = MealPlanEntry.objects.filter(recipe_id__in=recipe_ids).values_list("meal_plan__family_id", flat=True)
    return [favourites(family_id) for family_id in planned.distinct()]


WITH_FAVOURITES = cache.DOMAIN.extended(
    families=(FAVOURITES,),
    rules=(
        Rule(cache.MealPlanChanged, primary=lambda event: [favourites(event.family_id)]),
        Rule(cache.RecipeChanged, dependents=families_planning),
    ),
)


@pytest.fixture
def with_favourites():
    with declare.use(WITH_FAVOURITES):
        yield


def read(family_id: int):
    key = favourites(family_id)
    return readthrough.read(key, FAVOURITES.compute(key))


def titles(result) -> list[str]:
    return [row["title"] for row in json.loads(result.body)["results"]]


def test_a_declared_extra_read_misses_hits_and_is_invalidated_by_writes(
    broker_conn, redis_conn, family_world, with_favourites, celery_worker, django_assert_num_queries
):  # broker and cache emptied first, so the world's own set-up events stay queued for the worker
    family, soup, salad = family_world["family"], family_world["soup"], family_world["salad"]
    plan = family_world["plan"]
    assert wait_until(outbox_drained, timeout=10)  # the fixture's own writes

    with django_assert_num_queries(MISS_QUERIES):
        first = read(family.id)
    with django_assert_num_queries(0):
        second = read(family.id)
    assert (first.hit, second.hit) == (False, True)
    assert second.body == first.body and titles(first) == ["Soup"]
    stored = json.loads(redis_conn.get(ops.full_name(f"{{family:{family.id}:favourite_recipes}}")))
    assert stored["body"] == json.loads(first.body)  # under the declared name, as JSON

    # A meal-plan write: the family's key is one the event names itself, dropped by the writer at commit.
    with transaction.atomic():
        MealPlanEntry.objects.create(meal_plan=plan, meal="lunch", recipe=salad, servings=1)
        MealPlanEntry.objects.create(meal_plan=plan, meal="supper", recipe=salad, servings=1)
    assert wait_until(outbox_drained, timeout=10)  # the worker has applied it too: nothing below is its doing
    with django_assert_num_queries(MISS_QUERIES):
        after_plan = read(family.id)
    assert not after_plan.hit and titles(after_plan) == ["Salad", "Soup"]
    with django_assert_num_queries(0):
        assert read(family.id).hit

    # A recipe rename: only the declared dependents look-up finds the family; the worker's task runs it.
    Recipe.objects.filter(id=salad.id).update(title="Green salad")
    assert wait_until(lambda: not redis_conn.exists(ops.full_name(favourites(family.id).name)), timeout=10)
    assert wait_until(outbox_drained, timeout=10)
    with django_assert_num_queries(MISS_QUERIES):
        after_rename = read(family.id)
    assert not after_rename.hit and titles(after_rename) == ["Green salad", "Soup"]

    # Another family's favourites were never touched.
    other = family_world["other_family"].id
    read(other)
    Recipe.objects.filter(id=soup.id).update(title="Leek soup")
    assert wait_until(outbox_drained, timeout=10)
    with django_assert_num_queries(0):
        assert read(other).hit


def test_the_extra_read_is_the_domain_only_inside_use(with_favourites):
    assert declare.domain() is WITH_FAVOURITES
    assert declare.domain().families_by_name["favourite_recipes"] is FAVOURITES
    assert "favourite_recipes" not in cache.DOMAIN.families_by_name  # the project's own declaration is unchanged
