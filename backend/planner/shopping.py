"""Shopping-list aggregation: what a list contains, computed from the family's meal plans.

A list's generated lines are the ingredients of the family's meal-plan recipes in [start, end], each
scaled by entry.servings / recipe.servings and merged by (ingredient, unit). The database does the
scaling and the sum (one GROUP BY query for any number of lists); the stored ShoppingListItem rows add
manual items and the checked state of generated lines (manual=False, one row per (ingredient, unit)).
Query count is constant: it does not grow with the number of lists, plan entries or ingredients.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum, Window

from planner.models import FamilyMembership, MealPlanEntry, ShoppingList, ShoppingListItem

Line = tuple[str, str]  # (ingredient, unit)
THOUSANDTH = Decimal("0.001")


def json_quantity(value: Decimal) -> float | int:
    """A quantity as a JSON number rounded to 3 decimals (whole numbers stay integers)."""
    rounded = Decimal(value).quantize(THOUSANDTH)
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def family_of(user_id: int) -> int | None:
    return FamilyMembership.objects.filter(user_id=user_id).values_list("family_id", flat=True).first()


def planned_quantities(
    family_id: int | None, ranges: list[tuple[dt.date, dt.date]]
) -> dict[tuple, dict[Line, Decimal]]:
    """For each (start, end) range: {(ingredient, unit): scaled total} over the family's plans in it. One query."""
    totals: dict[tuple, dict[Line, Decimal]] = {r: defaultdict(Decimal) for r in ranges}
    if family_id is None or not ranges:
        return totals
    in_some_range = reduce(or_, (Q(meal_plan__date__range=r) for r in set(ranges)))
    scaled = ExpressionWrapper(
        F("recipe__ingredients__quantity") * F("servings") / F("recipe__servings"),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    rows = (
        MealPlanEntry.objects.filter(in_some_range, meal_plan__family_id=family_id)
        .values(
            day=F("meal_plan__date"),
            ingredient=F("recipe__ingredients__ingredient"),
            unit=F("recipe__ingredients__unit"),
        )
        .annotate(total=Sum(scaled))
        .order_by()
    )
    # Each day's ranges, looked up per row: the work is the rows times the lists that contain their day, never
    # every row times every list (the callers cap the number of lists and their length).
    ranges_of_day: dict[dt.date, list[tuple]] = defaultdict(list)
    for start, end in set(ranges):
        for offset in range((end - start).days + 1):
            ranges_of_day[start + dt.timedelta(days=offset)].append((start, end))
    for row in rows:
        if row["ingredient"] is None:  # a planned recipe without ingredient lines
            continue
        line, total = (row["ingredient"], row["unit"]), Decimal(row["total"])
        for day_range in ranges_of_day[row["day"]]:
            totals[day_range][line] += total
    return totals


def _item(row: ShoppingListItem | None, line: Line, quantity: Decimal) -> dict:
    return {
        "id": row.id if row else None,  # a line that appeared after the list was (re)generated has no row yet
        "ingredient": line[0],
        "quantity": json_quantity(quantity),
        "unit": line[1],
        "checked": row.checked if row else False,
        "manual": False,
    }


def manual_item_dict(row: ShoppingListItem) -> dict:
    return {
        "id": row.id,
        "ingredient": row.ingredient,
        "quantity": json_quantity(row.quantity),
        "unit": row.unit,
        "checked": row.checked,
        "manual": True,
    }


def list_dicts(lists: list[ShoppingList], family_id: int | None) -> list[dict]:
    """The API representation of each list, items included, in two queries for any number of lists."""
    if not lists:
        return []
    ranges = [(sl.start, sl.end) for sl in lists]
    planned = planned_quantities(family_id, ranges)
    stored: dict[int, list[ShoppingListItem]] = defaultdict(list)
    for row in ShoppingListItem.objects.filter(shopping_list__in=[sl.id for sl in lists]):
        stored[row.shopping_list_id].append(row)

    result = []
    for sl in lists:
        state = {(r.ingredient, r.unit): r for r in stored[sl.id] if not r.manual}
        lines = planned[(sl.start, sl.end)]
        items = [_item(state.get(line), line, lines[line]) for line in sorted(lines)]
        items += [manual_item_dict(r) for r in stored[sl.id] if r.manual]
        result.append(
            {"id": sl.id, "name": sl.name, "start": sl.start.isoformat(), "end": sl.end.isoformat(), "items": items}
        )
    return result


def page_of_lists(user_id: int, offset: int, limit: int) -> tuple[list[ShoppingList], int]:
    """The user's lists [offset, offset + limit) in the API's order (newest range first) and how many the user has,
    in one query (the count rides on each row as a window). The count is 0 when the slice is empty."""
    rows = list(
        ShoppingList.objects.filter(owner_id=user_id).annotate(total=Window(Count("id")))[offset : offset + limit]
    )
    return rows, (rows[0].total if rows else 0)


def _store_missing_lines(shopping_list: ShoppingList, family_id: int | None) -> None:
    """Give every generated line that exists now a stored row (so it has an id and a checked flag)."""
    lines = planned_quantities(family_id, [(shopping_list.start, shopping_list.end)])[
        (shopping_list.start, shopping_list.end)
    ]
    known = set(shopping_list.items.filter(manual=False).values_list("ingredient", "unit"))
    ShoppingListItem.objects.bulk_create(
        [
            ShoppingListItem(shopping_list=shopping_list, ingredient=i, unit=u)
            for (i, u) in sorted(lines)
            if (i, u) not in known
        ],
        ignore_conflicts=True,  # a concurrent regenerate stored the same line: the partial unique index wins
    )


def create_list(owner_id: int, family_id: int | None, start: dt.date, end: dt.date, name: str = "") -> ShoppingList:
    with transaction.atomic():
        shopping_list = ShoppingList.objects.create(owner_id=owner_id, start=start, end=end, name=name)
        _store_missing_lines(shopping_list, family_id)
    return shopping_list


def regenerate(shopping_list: ShoppingList, family_id: int | None) -> None:
    """Store rows for lines that appeared since the list was created; existing rows keep their checked state."""
    with transaction.atomic():
        _store_missing_lines(shopping_list, family_id)
