"""eventcache/store/rules.py: exact keys per event, found with a constant number of queries per batch."""

import datetime as dt

import pytest

from eventcache.store import rules
from planner import cache
from tests.factories import ShoppingListFactory, ShoppingListItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def ev(cls, n=1, **data):
    return cls(id=n, at=0.0, **data)


def plan_key(plan):
    return cache.meal_plan(plan.date, plan.family_id)


def test_every_event_kind_has_a_rule():
    assert {rule.kind for rule in cache.RULES} == set(cache.KINDS)
    assert all(cache.DOMAIN.rules_by_kind[kind.kind] for kind in cache.KINDS)


def lists_on_days(owner_id, *days):
    """One one-day list per day for the user, made in this order (so the last day's is the newest: rank 1)."""
    return [ShoppingListFactory(owner_id=owner_id, start=day) for day in days]


def test_a_recipe_change_touches_its_plans_and_the_pages_showing_lists_of_their_days(three_families, settings):
    settings.SHOPPING_LISTS_PAGE_SIZE = 2
    world = three_families
    first, second = world["families"][0], world["families"][3]  # a family planning the stew, one that does not
    stew_day = world["plans"][0].date
    near, shows, later = stew_day - dt.timedelta(days=1), world["members"][first.id][0], stew_day + dt.timedelta(1)
    # Ranks: later (1), stew_day (2) -> page 1; near (3) -> page 2. The other member's stew-day list is rank 3.
    lists_on_days(shows, near, stew_day, later)
    lists_on_days(world["members"][first.id][1], stew_day, later, later + dt.timedelta(1))
    lists_on_days(world["members"][second.id][0], world["plans"][3].date, stew_day)  # the toast family's member

    result = rules.resolve([ev(cache.RecipeChanged, recipe_id=world["stew"].id)])

    expected = {cache.recipe(world["stew"].id)} | {plan_key(plan) for plan in world["plans"][:3]}
    expected |= {cache.shopping_lists(shows, 1), cache.shopping_lists(world["members"][first.id][1], 2)}
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


def test_meal_plan_change_touches_the_plan_and_the_pages_showing_that_day(
    three_families, settings, django_assert_num_queries
):
    settings.SHOPPING_LISTS_PAGE_SIZE = 1
    family = three_families["families"][1]
    ann, bob = three_families["members"][family.id]
    day = dt.date(2030, 1, 8)
    lists_on_days(ann, day, day + dt.timedelta(days=1))  # ranks 2 (the day) and 1
    ShoppingListFactory(owner_id=bob, start=day - dt.timedelta(days=3), end=day - dt.timedelta(days=1))  # not the day
    event = ev(cache.MealPlanChanged, family_id=family.id, date=day.isoformat())
    with django_assert_num_queries(1):
        result = rules.resolve([event])
    assert result.keys == {cache.meal_plan(day, family.id), cache.shopping_lists(ann, 2)}
    assert result.bump_families == set()


def test_an_item_change_touches_the_page_showing_its_list(settings, django_assert_num_queries):
    settings.SHOPPING_LISTS_PAGE_SIZE = 3
    owner = UserFactory()
    ranked = list(reversed(lists_on_days(owner.id, *(dt.date(2030, 1, d) for d in range(1, 6)))))  # rank 1 first
    event = ev(cache.ShoppingListItemChanged, user_id=owner.id, list_id=ranked[2].id, rank=3)
    with django_assert_num_queries(0):
        assert rules.primary_keys([event]).keys == {cache.shopping_lists(owner.id, 1)}
    with django_assert_num_queries(1):
        assert rules.resolve([event]).keys == {cache.shopping_lists(owner.id, 1)}
    # A newer list made since the write moved it to page 2: the look-up finds it there, the event's rank on page 1.
    ShoppingListFactory(owner_id=owner.id, start=dt.date(2030, 2, 1))
    assert rules.resolve([event]).keys == {cache.shopping_lists(owner.id, 1), cache.shopping_lists(owner.id, 2)}
    # A list past the cap (made by the admin or SQL) is on no cached page.
    past_cap = ev(cache.ShoppingListItemChanged, user_id=owner.id, list_id=ranked[0].id, rank=60)
    assert rules.primary_keys([past_cap]).keys == set()


def test_an_item_write_carries_its_lists_rank(settings):
    owner = UserFactory()
    older, newer = lists_on_days(owner.id, dt.date(2030, 1, 1), dt.date(2030, 1, 2))
    ShoppingListItemFactory(shopping_list=older)
    ShoppingListItemFactory(shopping_list=newer)
    from eventcache.models import OutboxEvent

    rows = OutboxEvent.objects.filter(kind=cache.ShoppingListItemChanged.kind).order_by("id")
    assert [row.data for row in rows] == [
        {"user_id": owner.id, "list_id": older.id, "rank": 2},
        {"user_id": owner.id, "list_id": newer.id, "rank": 1},
    ]


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
        # a list added or removed moves the lists after it: every page of the user (50 lists, 10 a page)
        (ev(cache.ShoppingListChanged, user_id=5), {cache.shopping_lists(5, page) for page in range(1, 6)}),
        (ev(cache.PreferencesChanged, user_id=5), {cache.preferences(5)}),
        (ev(cache.UserChanged, user_id=5), {cache.identity(5)}),
        (
            ev(cache.FamilyMembershipChanged, family_id=2, user_id=5),
            {cache.identity(5)} | {cache.shopping_lists(5, page) for page in range(1, 6)},
        ),
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
        ev(cache.ShoppingListItemChanged, 3, user_id=5, list_id=8, rank=11),
        ev(cache.PreferencesChanged, 4, user_id=5),
        ev(cache.UserChanged, 5, user_id=6),
        ev(cache.TagChanged, 6, tag_id=1),
    ]
    with django_assert_num_queries(0):
        result = rules.primary_keys(events)
    assert result.keys == {
        cache.recipe(3),
        cache.meal_plan(dt.date(2030, 1, 7), 4),
        cache.shopping_lists(5, 2),
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
