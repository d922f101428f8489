"""planner/shopping.py: scaling, merging, manual items, checked state, and a constant query count."""

import datetime as dt
from decimal import Decimal

import pytest

from planner import payloads, shopping
from planner.models import ShoppingList, ShoppingListItem

pytestmark = pytest.mark.django_db

D1 = dt.date(2026, 4, 6)
D2 = D1 + dt.timedelta(days=1)


@pytest.fixture
def ann(household):
    return household["ann"]


def test_lines_are_scaled_by_servings_and_merged_by_ingredient_and_unit(household, ann, make_recipe, plan_meal):
    fam = household["family"]
    bread = make_recipe(ann, "Bread", servings=4, lines=[("flour", "500", "g"), ("salt", "1", "tsp")])
    cake = make_recipe(
        ann, "Cake", servings=8, lines=[("flour", "0.25", "kg"), ("flour", "100", "g"), ("egg", "3", "piece")]
    )
    plan_meal(fam, D1, bread, servings=2)  # flour 250 g, salt 0.5 tsp
    plan_meal(fam, D2, cake, servings=2)  # flour 0.0625 kg and 25 g, egg 0.75
    plan_meal(fam, D2, bread, servings=6)  # flour 750 g, salt 1.5 tsp
    totals = shopping.planned_quantities(fam.id, [(D1, D2)])[(D1, D2)]
    assert dict(totals) == {
        ("flour", "g"): Decimal("1025"),  # 250 + 25 + 750: same unit merges, kg stays apart
        ("flour", "kg"): Decimal("0.0625"),
        ("salt", "tsp"): Decimal("2"),
        ("egg", "piece"): Decimal("0.75"),
    }


def test_ranges_and_families_are_respected(household, ann, make_recipe, plan_meal):
    recipe = make_recipe(ann, lines=[("rice", "100", "g")])
    plan_meal(household["family"], D1, recipe)
    plan_meal(household["family"], D2, recipe)
    plan_meal(household["other_family"], D1, recipe)
    got = shopping.planned_quantities(
        household["family"].id, [(D1, D1), (D1, D2), (D2 + dt.timedelta(days=1), D2 + dt.timedelta(days=9))]
    )
    assert got[(D1, D1)] == {("rice", "g"): Decimal("100")}
    assert got[(D1, D2)] == {("rice", "g"): Decimal("200")}
    assert got[(D2 + dt.timedelta(days=1), D2 + dt.timedelta(days=9))] == {}
    assert shopping.planned_quantities(None, [(D1, D2)]) == {(D1, D2): {}}


def test_a_planned_recipe_without_ingredients_adds_nothing(household, ann, make_recipe, plan_meal):
    plan_meal(household["family"], D1, make_recipe(ann, lines=()))
    assert shopping.planned_quantities(household["family"].id, [(D1, D1)])[(D1, D1)] == {}


def test_json_quantity_rounds_to_three_decimals_and_keeps_whole_numbers_integers():
    assert shopping.json_quantity(Decimal("0.33333333")) == 0.333
    assert shopping.json_quantity(Decimal("2.0000")) == 2 and isinstance(shopping.json_quantity(Decimal("2.0000")), int)
    assert shopping.json_quantity(Decimal("1.0005")) == 1.0  # banker's rounding of the 4th decimal


def _lists_of(user_id: int) -> list[dict]:
    """Every list of the user (one page big enough for the cap), as GET /api/shopping-lists/ shows them."""
    return payloads.shopping_lists(user_id, 1, 50)["results"]


def test_create_stores_a_state_row_per_line_and_items_carry_checked_and_manual(household, ann, make_recipe, plan_meal):
    fam = household["family"]
    plan_meal(fam, D1, make_recipe(ann, servings=3, lines=[("oats", "100", "g"), ("milk", "1", "l")]), servings=1)
    created = shopping.create_list(ann.id, fam.id, D1, D2, "Week")
    rows = {(r.ingredient, r.unit): r for r in created.items.all()}
    assert set(rows) == {("oats", "g"), ("milk", "l")} and not any(r.manual for r in rows.values())
    ShoppingListItem.objects.filter(pk=rows[("milk", "l")].pk).update(checked=True)
    ShoppingListItem.objects.create(
        shopping_list=created, ingredient="coffee", unit="g", quantity=Decimal("250"), manual=True
    )
    [listed] = _lists_of(ann.id)
    assert listed["items"] == [
        {
            "id": rows[("milk", "l")].id,
            "ingredient": "milk",
            "quantity": 0.333,
            "unit": "l",
            "checked": True,
            "manual": False,
        },
        {
            "id": rows[("oats", "g")].id,
            "ingredient": "oats",
            "quantity": 33.333,
            "unit": "g",
            "checked": False,
            "manual": False,
        },
        {
            "id": listed["items"][2]["id"],
            "ingredient": "coffee",
            "quantity": 250,
            "unit": "g",
            "checked": False,
            "manual": True,
        },
    ]


def test_a_state_row_whose_line_left_the_plan_is_not_shown(household, ann, make_recipe, plan_meal):
    entry = plan_meal(household["family"], D1, make_recipe(ann, lines=[("kale", "1", "piece")]))
    created = shopping.create_list(ann.id, household["family"].id, D1, D1)
    entry.delete()
    assert shopping.list_dicts([created], household["family"].id)[0]["items"] == []


def test_regenerate_is_idempotent_and_adds_only_new_lines(household, ann, make_recipe, plan_meal):
    fam = household["family"]
    plan_meal(fam, D1, make_recipe(ann, lines=[("kale", "1", "piece")]))
    created = shopping.create_list(ann.id, fam.id, D1, D2)
    plan_meal(fam, D2, make_recipe(ann, lines=[("kale", "2", "piece"), ("lime", "1", "piece")]))
    shopping.regenerate(created, fam.id)
    shopping.regenerate(created, fam.id)
    assert sorted(created.items.values_list("ingredient", flat=True)) == ["kale", "lime"]


def test_user_without_family_gets_only_manual_items(household):
    cat = household["cat"]
    created = shopping.create_list(cat.id, None, D1, D2)
    ShoppingListItem.objects.create(
        shopping_list=created, ingredient="tea", unit="g", quantity=Decimal("50"), manual=True
    )
    [listed] = _lists_of(cat.id)
    assert [i["ingredient"] for i in listed["items"]] == ["tea"]


def test_query_count_is_constant_for_any_number_of_lists_and_lines(
    household, ann, make_recipe, plan_meal, django_assert_num_queries
):
    fam = household["family"]
    plan_meal(fam, D1, make_recipe(ann, lines=[("salt", "1", "g")]))
    ShoppingList.objects.create(owner=ann, start=D1, end=D1)
    with django_assert_num_queries(4):  # lists (and their count), membership, stored items, planned quantities
        assert len(_lists_of(ann.id)) == 1
    for n in range(20):
        plan_meal(
            fam,
            D1 + dt.timedelta(days=n % 5),
            make_recipe(ann, f"R{n}", lines=[(f"x{n}-{i}", "1", "g") for i in range(6)]),
        )
    for n in range(6):
        shopping.create_list(ann.id, fam.id, D1, D1 + dt.timedelta(days=n))
    with django_assert_num_queries(4):
        lists = _lists_of(ann.id)
    assert len(lists) == 7 and max(len(sl["items"]) for sl in lists) == 1 + 20 * 6


def test_lists_of_a_user_without_lists_costs_one_query(household, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert _lists_of(household["bob"].id) == []


def test_a_page_of_lists_costs_four_queries_and_says_where_the_others_are(
    household, ann, make_recipe, plan_meal, django_assert_num_queries
):
    fam = household["family"]
    plan_meal(fam, D1, make_recipe(ann, lines=[("salt", "1", "g")]))
    made = [
        shopping.create_list(ann.id, fam.id, D1 + dt.timedelta(days=n), D1 + dt.timedelta(days=n)) for n in range(5)
    ]
    newest_first = [sl.id for sl in reversed(made)]
    with django_assert_num_queries(4):
        first = payloads.shopping_lists(ann.id, 1, 2)
    assert first["count"] == 5 and [sl["id"] for sl in first["results"]] == newest_first[:2]
    assert first["next"] == "/api/shopping-lists/?page=2" and first["previous"] is None
    last = payloads.shopping_lists(ann.id, 3, 2)
    assert [sl["id"] for sl in last["results"]] == newest_first[4:]
    assert last["next"] is None and last["previous"] == "/api/shopping-lists/?page=2"
    with django_assert_num_queries(1), pytest.raises(payloads.PageNotFound):
        payloads.shopping_lists(ann.id, 4, 2)
    with django_assert_num_queries(1):  # page 1 of a user without lists exists, empty
        assert payloads.shopping_lists(household["bob"].id, 1, 2) == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }
