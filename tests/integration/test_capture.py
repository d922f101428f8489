"""The capture triggers against a real database: every write path leaves the right outbox rows in the
same transaction. Runs on PostgreSQL (DATABASE_URL) and on SQLite (DATABASE_URL unset).

These tests run inside the test's transaction, so the relay's on-commit flush never runs and the rows
stay as the triggers wrote them (the relay is tested in test_relay.py and test_outbox.py)."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from planner.models import (
    Family,
    MealPlan,
    MealPlanEntry,
    Recipe,
    RecipeIngredient,
    ShoppingList,
    ShoppingListItem,
    Tag,
    UserPreferences,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def recipe_changed(*recipes):
    return [("recipe.changed", {"recipe_id": r.id}) for r in recipes]


def plan_changed(plan):
    return ("meal_plan.changed", {"family_id": plan.family_id, "date": plan.date.isoformat()})


def test_save_insert_and_update_of_a_recipe(family_world, outbox):
    recipe = Recipe.objects.create(author=family_world["alice"], title="Stew")
    recipe.title = "Irish stew"
    recipe.save()

    assert outbox() == recipe_changed(recipe, recipe)


def test_delete_of_a_recipe_in_a_plan(family_world, outbox):
    soup, plan = family_world["soup"], family_world["plan"]
    RecipeIngredient.objects.create(recipe=soup, ingredient="leek", quantity=2, unit="piece")
    outbox_before, soup_id = len(outbox()), soup.id

    soup.delete()

    rows = outbox()[outbox_before:]
    assert ("recipe.deleted", {"recipe_id": soup_id}) in rows
    assert plan_changed(plan) in rows  # the cascade removed its entry from the plan
    assert {kind for kind, _ in rows} == {"recipe.deleted", "recipe.changed", "meal_plan.changed"}


def test_queryset_update_of_100_recipes(family_world, outbox):
    recipes = Recipe.objects.bulk_create(Recipe(author=family_world["alice"], title=f"r{i}") for i in range(100))
    outbox_before = len(outbox())

    updated = Recipe.objects.filter(id__in=[r.id for r in recipes]).update(prep_minutes=15)

    assert updated == 100
    assert sorted(outbox()[outbox_before:], key=lambda row: row[1]["recipe_id"]) == recipe_changed(*recipes)


def test_bulk_create_of_meal_plan_entries(family_world, outbox):
    family, soup, salad = family_world["family"], family_world["soup"], family_world["salad"]
    monday, tuesday = MealPlan.objects.bulk_create(
        [MealPlan(family=family, date=dt.date(2030, 2, 4)), MealPlan(family=family, date=dt.date(2030, 2, 5))]
    )
    if monday.pk is None:  # SQLite before RETURNING support; not the case on this machine
        monday, tuesday = MealPlan.objects.filter(date__in=[dt.date(2030, 2, 4), dt.date(2030, 2, 5)]).order_by("date")
    outbox_before = len(outbox())

    MealPlanEntry.objects.bulk_create(
        [
            MealPlanEntry(meal_plan=monday, meal="lunch", recipe=soup),
            MealPlanEntry(meal_plan=monday, meal="dinner", recipe=salad),
            MealPlanEntry(meal_plan=tuesday, meal="dinner", recipe=soup),
        ]
    )

    assert outbox()[outbox_before:] == [plan_changed(monday), plan_changed(monday), plan_changed(tuesday)]


def test_bulk_update_of_ingredients(family_world, outbox):
    soup, salad = family_world["soup"], family_world["salad"]
    lines = [
        RecipeIngredient.objects.create(recipe=soup, ingredient="leek", quantity=1, unit="piece"),
        RecipeIngredient.objects.create(recipe=salad, ingredient="lettuce", quantity=1, unit="piece"),
    ]
    outbox_before = len(outbox())
    for line in lines:
        line.quantity = 3

    RecipeIngredient.objects.bulk_update(lines, ["quantity"])

    assert sorted(outbox()[outbox_before:], key=lambda row: row[1]["recipe_id"]) == recipe_changed(soup, salad)


def test_many_to_many_tags_add_and_remove(family_world, outbox):
    soup = family_world["soup"]
    vegan, quick = Tag.objects.create(name="vegan"), Tag.objects.create(name="quick")
    assert outbox() == []  # creating a tag changes no cached read until a recipe carries it

    soup.tags.add(vegan, quick)
    soup.tags.remove(quick)
    soup.tags.clear()

    assert outbox() == recipe_changed(soup) * 4


def test_tag_rename_and_delete(family_world, outbox):
    soup = family_world["soup"]
    tag = Tag.objects.create(name="spicy")
    soup.tags.add(tag)
    outbox_before, tag_id = len(outbox()), tag.id

    Tag.objects.filter(id=tag.id).update(name="hot")
    tag.delete()

    tag_rows = [("tag.changed", {"tag_id": tag_id})]
    assert outbox()[outbox_before:] == tag_rows + recipe_changed(soup) + tag_rows


def test_family_membership_through_the_many_to_many(family_world, outbox):
    family, other_family, carol = family_world["family"], family_world["other_family"], family_world["carol"]

    other_family.members.remove(carol)
    family.members.add(carol)

    assert outbox() == [
        ("family.membership_changed", {"family_id": other_family.id, "user_id": carol.id}),
        ("family.membership_changed", {"family_id": family.id, "user_id": carol.id}),
    ]


def test_moving_a_membership_touches_both_families(family_world, outbox):
    membership, family, other_family = (
        family_world["carol"].membership,
        family_world["family"],
        family_world["other_family"],
    )

    membership.family = family
    membership.save()

    assert outbox() == [
        ("family.membership_changed", {"family_id": family.id, "user_id": family_world["carol"].id}),
        ("family.membership_changed", {"family_id": other_family.id, "user_id": family_world["carol"].id}),
    ]


def test_moving_an_entry_to_another_day_touches_both_days(family_world, outbox):
    entry, monday = family_world["entry"], family_world["plan"]
    tuesday = MealPlan.objects.create(family=monday.family, date=monday.date + dt.timedelta(days=1))
    outbox_before = len(outbox())

    MealPlanEntry.objects.filter(id=entry.id).update(meal_plan=tuesday)
    MealPlanEntry.objects.filter(id=entry.id).update(servings=6)

    assert outbox()[outbox_before:] == [plan_changed(tuesday), plan_changed(monday), plan_changed(tuesday)]


def test_shopping_list_items_belong_to_the_list_owner_and_name_their_lists_rank(family_world, outbox):
    shopping_list, alice = family_world["list"], family_world["alice"]
    newer_day = shopping_list.start + dt.timedelta(days=1)
    newer = ShoppingList.objects.create(owner=alice, start=newer_day, end=newer_day)
    outbox_before = len(outbox())

    item = ShoppingListItem.objects.create(shopping_list=shopping_list, ingredient="salt", unit="g", manual=True)
    ShoppingListItem.objects.filter(id=item.id).update(checked=True)
    item.delete()
    ShoppingListItem.objects.create(shopping_list=newer, ingredient="salt", unit="g", manual=True)

    changed = ("shopping_list.item_changed", {"user_id": alice.id, "list_id": shopping_list.id, "rank": 2})
    assert outbox()[outbox_before:] == [changed] * 3 + [
        ("shopping_list.item_changed", {"user_id": alice.id, "list_id": newer.id, "rank": 1})
    ]


def test_preferences(family_world, outbox):
    bob = family_world["bob"]

    preferences = UserPreferences.objects.create(user=bob)
    preferences.diet = "vegan"
    preferences.save()

    assert outbox() == [("preferences.changed", {"user_id": bob.id})] * 2


def test_user_changes_but_not_logins(family_world, outbox):
    bob = family_world["bob"]

    bob.last_login = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    bob.save(update_fields=["last_login"])  # what a login does
    assert outbox() == []

    bob.set_password("a-new-password-456")
    bob.save()
    User.objects.filter(id=bob.id).update(is_staff=True)

    assert outbox() == [("user.changed", {"user_id": bob.id})] * 2


def test_raw_sql_update(family_world, outbox):
    soup, salad = family_world["soup"], family_world["salad"]

    with connection.cursor() as cursor:
        cursor.execute("UPDATE planner_recipe SET title = %s WHERE id IN (%s, %s)", ["Raw", soup.id, salad.id])

    assert sorted(outbox(), key=lambda row: row[1]["recipe_id"]) == recipe_changed(soup, salad)


def test_raw_sql_deleting_a_plan_before_its_entries_records_the_plan_once(family_world, outbox):
    plan = family_world["plan"]

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM planner_mealplanentry WHERE meal_plan_id = %s", [plan.id])
        cursor.execute("DELETE FROM planner_mealplan WHERE id = %s", [plan.id])

    assert outbox() == [plan_changed(plan), plan_changed(plan)]
    assert all(None not in data.values() for _, data in outbox())


def test_a_rolled_back_savepoint_leaves_no_rows(family_world, outbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        Recipe.objects.filter(id=family_world["soup"].id).update(title="never")
        Family.objects.create(name="never either")
        raise RuntimeError("roll back")

    assert outbox() == []


def test_triggers_dropped_by_a_table_rebuild_come_back_after_migrate(family_world, outbox):
    """SQLite rebuilds a table (dropping its triggers) when a migration alters it; the post-migrate
    check re-installs whatever is missing."""
    from django.core.management import call_command

    from eventcache.capture import triggers

    assert triggers.missing_triggers(connection) == set()
    triggers.uninstall(connection)
    assert triggers.missing_triggers(connection) == triggers.expected_triggers(connection.vendor)
    Recipe.objects.filter(id=family_world["soup"].id).update(title="not captured")
    assert outbox() == []

    call_command("migrate", verbosity=0)

    assert triggers.missing_triggers(connection) == set()
    Recipe.objects.filter(id=family_world["soup"].id).update(title="captured again")
    assert outbox() == recipe_changed(family_world["soup"])
