"""eventcache/store/rules.py: exact keys per event, found with a constant number of queries per batch."""

import datetime as dt

import pytest

from eventcache.store import rules
from planner import cache

pytestmark = pytest.mark.django_db


def ev(cls, n=1, **data):
    return cls(id=n, at=0.0, **data)


def plan_key(plan):
    return cache.meal_plan(plan.date, plan.family_id)


def test_every_event_kind_has_a_rule():
    assert {rule.kind for rule in cache.RULES} == set(cache.KINDS)
    assert all(cache.DOMAIN.rules_by_kind[kind.kind] for kind in cache.KINDS)


def test_a_recipe_change_touches_its_plans_and_their_members_lists(three_families):
    world = three_families
    result = rules.resolve([ev(cache.RecipeChanged, recipe_id=world["stew"].id)])
    stew_families = world["families"][:3]
    expected = {cache.recipe(world["stew"].id)}
    expected |= {plan_key(plan) for plan in world["plans"][:3]}
    expected |= {cache.shopping_lists(uid) for family in stew_families for uid in world["members"][family.id]}
    assert result.keys == expected
    assert result.bump_families == {cache.RECIPE_LIST}


def test_a_plan_of_a_family_without_members_is_still_dropped(three_families):
    from planner.models import Family, MealPlan, MealPlanEntry

    empty = Family.objects.create(name="nobody home")
    plan = MealPlan.objects.create(family=empty, date=dt.date(2030, 2, 1))
    MealPlanEntry.objects.create(meal_plan=plan, meal="lunch", recipe=three_families["stew"], servings=1)

    result = rules.resolve([ev(cache.RecipeChanged, recipe_id=three_families["stew"].id)])

    assert plan_key(plan) in result.keys


def test_resolution_costs_the_same_queries_for_one_event_or_a_hundred(three_families, django_assert_num_queries):
    world = three_families
    with django_assert_num_queries(1):
        rules.resolve([ev(cache.RecipeChanged, recipe_id=world["stew"].id)])
    many = [ev(cache.RecipeChanged, n, recipe_id=world["toast"].id + n) for n in range(100)]
    many += [ev(cache.RecipeDeleted, 200 + n, recipe_id=world["stew"].id + n) for n in range(50)]
    with django_assert_num_queries(1):
        rules.resolve(many)


def test_a_deleted_recipe_is_handled_like_a_changed_one(three_families):
    toast = three_families["toast"]
    result = rules.resolve([ev(cache.RecipeDeleted, recipe_id=toast.id)])
    assert cache.recipe(toast.id) in result.keys and plan_key(three_families["plans"][3]) in result.keys


def test_meal_plan_change_touches_the_plan_and_the_family_members_lists(three_families, django_assert_num_queries):
    family = three_families["families"][1]
    event = ev(cache.MealPlanChanged, family_id=family.id, date="2030-01-08")
    with django_assert_num_queries(1):
        result = rules.resolve([event])
    assert result.keys == {cache.meal_plan(dt.date(2030, 1, 8), family.id)} | {
        cache.shopping_lists(uid) for uid in three_families["members"][family.id]
    }
    assert result.bump_families == set()


def test_tag_change_bumps_listings_and_drops_the_tagged_recipes(three_families):
    from planner.models import Tag

    tag = Tag.objects.create(name="hearty")
    three_families["stew"].tags.add(tag)
    result = rules.resolve([ev(cache.TagChanged, tag_id=tag.id)])
    assert result.keys == {cache.recipe(three_families["stew"].id)}
    assert result.bump_families == {cache.RECIPE_LIST}


@pytest.mark.parametrize(
    "event, expected",
    [
        (ev(cache.ShoppingListChanged, user_id=5), {cache.shopping_lists(5)}),
        (ev(cache.PreferencesChanged, user_id=5), {cache.preferences(5)}),
        (ev(cache.UserChanged, user_id=5), {cache.identity(5)}),
        (ev(cache.FamilyMembershipChanged, family_id=2, user_id=5), {cache.identity(5), cache.shopping_lists(5)}),
    ],
)
def test_events_about_one_user(event, expected, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rules.resolve([event]).keys == expected


def test_every_touched_preferences_key_is_refilled():
    from eventcache.store import invalidation

    result = rules.resolve([ev(cache.PreferencesChanged, user_id=5), ev(cache.PreferencesChanged, 2, user_id=6)])
    assert set(invalidation._prewarm_computes(result)) == {cache.preferences(5), cache.preferences(6)}


def test_primary_keys_need_no_database(django_assert_num_queries):
    events = [
        ev(cache.RecipeChanged, recipe_id=3),
        ev(cache.MealPlanChanged, 2, family_id=4, date="2030-01-07"),
        ev(cache.ShoppingListChanged, 3, user_id=5),
        ev(cache.PreferencesChanged, 4, user_id=5),
        ev(cache.UserChanged, 5, user_id=6),
        ev(cache.TagChanged, 6, tag_id=1),
    ]
    with django_assert_num_queries(0):
        result = rules.primary_keys(events)
    assert result.keys == {
        cache.recipe(3),
        cache.meal_plan(dt.date(2030, 1, 7), 4),
        cache.shopping_lists(5),
        cache.preferences(5),
        cache.identity(6),
    }
    assert result.bump_families == {cache.RECIPE_LIST}


def test_duplicate_events_give_each_key_once(three_families):
    stew = three_families["stew"].id
    once = rules.resolve([ev(cache.RecipeChanged, recipe_id=stew)])
    many = rules.resolve([ev(cache.RecipeChanged, n, recipe_id=stew) for n in range(1, 20)])
    assert many == once


def test_a_resolution_says_which_events_touch_each_key():
    a = cache.RecipeChanged(id=1, at=0.0, recipe_id=1, xids=(70,))
    b = cache.RecipeChanged(id=2, at=0.0, recipe_id=2, xids=(72,))

    resolution = rules.primary_keys([a, b], track=True)

    assert resolution.touched_by[cache.recipe(1)] == [(a,)] and resolution.touched_by[cache.recipe(2)] == [(b,)]
    assert resolution.touched_by[cache.RECIPE_LIST] == [(a,), (b,)]
    assert rules.primary_keys([a, b]).touched_by == {}  # not tracked unless asked: the large batches skip it
