"""apply_events on the real Redis and PostgreSQL: exact keys, one round trip, hot keys re-filled."""

import dataclasses
import datetime as dt
import json

import pytest

from eventcache import events as schema
from eventcache.store import hotness, invalidation, keys, ops, readthrough
from planner import cache
from tests.factories import ShoppingListFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def ev(cls, n=1, **data):
    return cls(id=n, at=0.0, **data)


def cached(conn, key) -> dict | None:
    raw = conn.get(ops.full_name(key.name))
    return None if raw is None else json.loads(raw)["body"]


def fill(key, payload):
    readthrough.read(key, lambda: payload)


def with_plan_day_lists(world) -> None:
    """Each member of the three_families world gets one list over their family's plan day (on page 1)."""
    for family, plan in zip(world["families"], world["plans"], strict=True):
        for uid in world["members"][family.id]:
            ShoppingListFactory(owner_id=uid, start=plan.date)


def all_keys_of(world):
    everything = {cache.recipe(world["stew"].id), cache.recipe(world["toast"].id)}
    everything |= {cache.meal_plan(plan.date, plan.family_id) for plan in world["plans"]}
    everything |= {cache.shopping_lists(uid) for members in world["members"].values() for uid in members}
    everything |= {cache.preferences(uid) for members in world["members"].values() for uid in members}
    return everything


def test_a_recipe_in_three_families_plans_drops_exactly_its_dependents(
    real_cache, three_families, redis_commands, settings
):
    settings.HOT_LISTS_TOP_N = 0  # every list read below counts as hot; none is re-filled here (see the hot-list test)
    world = three_families
    with_plan_day_lists(world)
    everything = all_keys_of(world)
    for key in everything:
        fill(key, {"name": key.name})
    listing = cache.recipe_list(None, 1)
    fill(listing, {"results": []})

    with redis_commands() as seen:
        result = invalidation.apply_events([ev(cache.RecipeChanged, recipe_id=world["stew"].id)])

    stew_families = world["families"][:3]
    expected = {cache.recipe(world["stew"].id)}
    expected |= {cache.meal_plan(plan.date, plan.family_id) for plan in world["plans"][:3]}
    expected |= {cache.shopping_lists(uid) for f in stew_families for uid in world["members"][f.id]}
    assert {key for key in everything if cached(real_cache, key) is None} == expected
    assert all(cached(real_cache, key) == {"name": key.name} for key in everything - expected)
    assert result == invalidation.Applied(events=1, keys_dropped=len(expected), keys_prewarmed=0, namespaces_bumped=1)
    assert readthrough.read(listing, lambda: {"results": ["new"]}).hit is False  # every listing: namespace bump

    verbs = seen.verbs(include_scripts=True)
    assert "KEYS" not in verbs and "SCAN" not in verbs
    assert seen.verbs().count("DEL") == 1  # one DEL for the whole batch, inside one MULTI/EXEC
    dropped = next(command for command in seen if command.upper().startswith("DEL")).split()[1:]
    assert sorted(dropped) == sorted(ops.full_name(n) for key in expected for n in (key.name, keys.lease(key)))


def test_a_burst_of_events_costs_one_delete_per_key(real_cache, three_families, redis_commands):
    family = three_families["families"][0]
    with_plan_day_lists(three_families)
    burst = [ev(cache.MealPlanChanged, n, family_id=family.id, date="2030-01-07") for n in range(1, 51)]
    burst += [
        ev(cache.ShoppingListChanged, 100 + n, user_id=three_families["members"][family.id][0]) for n in range(20)
    ]
    with redis_commands() as seen:
        result = invalidation.apply_events(burst)
    deletes = [command.split()[1:] for command in seen if command.upper().startswith("DEL")]
    assert len(deletes) == 1 and len(deletes[0]) == len(set(deletes[0])) == 2 * result.keys_dropped
    # the plan, the second member's page showing the day, every page of the first member (a list of theirs changed)
    assert result.keys_dropped == 1 + 1 + cache.shopping_lists_max_pages()


def test_a_hot_shopping_list_is_refilled_at_once_with_the_new_content(real_cache, three_families, settings):
    from planner import payloads
    from planner.models import MealPlanEntry

    world = three_families
    with_plan_day_lists(world)
    family = world["families"][0]
    hot_user, cold_user = world["members"][family.id]
    for uid in (hot_user, cold_user):
        readthrough.read(cache.shopping_lists(uid), lambda uid=uid: payloads.shopping_lists(uid, 1, 10))
    hotness.record(cache.shopping_lists(hot_user))  # the hottest
    settings.HOT_LISTS_TOP_N = 1
    MealPlanEntry.objects.filter(meal_plan__family=family).update(servings=7)

    result = invalidation.apply_events([ev(cache.MealPlanChanged, family_id=family.id, date="2030-01-07")])

    assert result.keys_prewarmed == 1
    assert cached(real_cache, cache.shopping_lists(hot_user)) == json.loads(
        readthrough.encode(payloads.shopping_lists(hot_user, 1, 10))
    )
    assert cached(real_cache, cache.shopping_lists(cold_user)) is None
    assert readthrough.read(cache.shopping_lists(hot_user), lambda: pytest.fail("should be warm")).hit


def test_preferences_are_refilled_not_only_dropped(real_cache, three_families, settings):
    from planner.models import UserPreferences

    uid = three_families["members"][three_families["families"][0].id][0]
    fill(cache.preferences(uid), {"diet": "stale"})
    UserPreferences.objects.create(user_id=uid, diet="vegan")
    result = invalidation.apply_events([ev(cache.PreferencesChanged, user_id=uid)])
    assert result.keys_prewarmed == 1
    assert cached(real_cache, cache.preferences(uid))["diet"] == "vegan"
    assert 23 * 3600 < real_cache.ttl(ops.full_name(cache.preferences(uid).name)) <= 24 * 3600


def test_primary_keys_are_dropped_in_one_round_trip_without_the_database(
    real_cache, redis_commands, django_assert_num_queries
):
    recipe_key, plan_key = cache.recipe(5), cache.meal_plan(dt.date(2030, 1, 7), 2)
    fill(recipe_key, {})
    fill(plan_key, {})
    events = [ev(cache.RecipeChanged, recipe_id=5), ev(cache.MealPlanChanged, 2, family_id=2, date="2030-01-07")]
    with redis_commands() as seen, django_assert_num_queries(0):
        assert invalidation.drop_primary_keys(events) == 2
    assert cached(real_cache, recipe_key) is None and cached(real_cache, plan_key) is None
    # One round trip: a bump re-creates a lost version from the clock (SET NX) before its INCR, atomically
    assert seen.verbs() == ["MULTI", "DEL", "SET", "INCRBY", "EXEC"]


def test_the_events_can_be_published_in_the_same_round_trip_after_the_drop(
    real_cache, redis_commands, redis_round_trips
):
    """What the relay does at commit in a request: subscribers hear of the events only once the keys are gone."""
    recipe_key = cache.recipe(5)
    fill(recipe_key, {})
    events = [ev(cache.RecipeChanged, recipe_id=5)]
    redis_round_trips.clear()
    with redis_commands() as seen:
        invalidation.drop_primary_keys(events, then_publish=[("test:events", schema.encode(events[0]))])
    assert "MULTI+DEL+SET+INCRBY+PUBLISH+EXEC" in redis_round_trips  # one round trip (the others are MONITOR's own)
    assert seen.verbs() == ["MULTI", "DEL", "SET", "INCRBY", "PUBLISH", "EXEC"]
    assert cached(real_cache, recipe_key) is None


def test_a_writes_own_drop_is_one_evalsha(real_cache, redis_round_trips):
    """A committed write's events carry its xid, so its drop is lua/invalidate_seen.lua: run alone, one EVALSHA.
    (In a pipeline redis-py first asks SCRIPT EXISTS, one more round trip before every write's response.)"""
    recipe_key = cache.recipe(5)
    event = dataclasses.replace(ev(cache.RecipeChanged, recipe_id=5), xids=(7731,))
    invalidation.drop_primary_keys([event])  # the script's first use in this process loads it (SCRIPT LOAD)
    fill(recipe_key, {})
    redis_round_trips.clear()
    invalidation.drop_primary_keys([event], then_publish=[("test:events", schema.encode(event))])
    assert redis_round_trips == ["EVALSHA"]
    assert cached(real_cache, recipe_key) is None


def test_invalidate_family_is_constant_time(real_cache, redis_commands):
    for rid in range(1, 30):
        fill(cache.recipe(rid), {"id": rid})
    fill(cache.preferences(1), {})
    with redis_commands() as seen:
        invalidation.invalidate_family("recipe")
    assert seen.verbs() == ["MULTI", "SET", "INCRBY", "EXEC"]
    assert readthrough.read(cache.recipe(3), lambda: {"id": "new"}).hit is False
    assert readthrough.read(cache.preferences(1), lambda: {}).hit is True
    with pytest.raises(ValueError):
        invalidation.invalidate_family("nope")
