"""api/validation.py and api/bodies.py: clean values or an ApiError, without a database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import RequestFactory

from api import bodies, validation
from api.errors import ApiError


def _error(fn, *args, **kwargs):
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    return info.value


def test_json_object():
    rf = RequestFactory()
    assert validation.json_object(rf.post("/", '{"a": 1}', content_type="application/json")) == {"a": 1}
    for raw in (b"", b"null", b"[]", b"{", b"\xff", b"[" * 60_000):
        assert (
            _error(validation.json_object, rf.post("/", raw, content_type="application/json")).code == "malformed_json"
        )


@pytest.mark.parametrize("value", ["1", "42", "999999999999999999"])
def test_path_id_accepts_positive_integers(value):
    assert validation.path_id(value) == int(value)


@pytest.mark.parametrize("value", ["0", "-1", "01", "1.0", "", " 1", "1\n", "١", "1e3", "9999999999999999999"])
def test_path_id_refuses_everything_else(value):
    assert _error(validation.path_id, value).status == 400


def test_iso_date():
    assert validation.iso_date("2024-02-29", "d") == dt.date(2024, 2, 29)
    for value in ("2026-02-30", "2026-2-3", "20260203", "2026-02-03T00:00", 20260203, None, "0000-01-01"):
        assert _error(validation.iso_date, value, "d").code == "invalid_date"


def test_text_strips_and_refuses_what_postgresql_cannot_store():
    assert validation.text({"t": "  hi "}, "t", max_length=5) == "hi"
    assert validation.text({"t": " pw "}, "t", max_length=5, strip=False) == " pw "
    for value in ("a\x00", "\ud800", "", "  ", "toolong", 5, None, ["a"]):
        assert _error(validation.text, {"t": value}, "t", max_length=5).status == 400
    assert validation.text({}, "t", max_length=5, default="d") == "d"
    assert _error(validation.text, {}, "t", max_length=5, required=True).code == "missing_field"


def test_quantity():
    assert validation.quantity(1.2345, "q") == Decimal("1.234")
    assert validation.quantity(3, "q") == Decimal("3.000")
    for value in (-1, float("nan"), float("inf"), 10**7, 9999999.9996, "1", True, None, 10**400):
        assert _error(validation.quantity, value, "q").status == 400


def test_integers_are_not_booleans_or_fractions():
    assert validation.integer({"n": 3}, "n", low=1, high=5) == 3
    assert validation.integer({"n": 3.0}, "n", low=1, high=5) == 3  # JSON Schema's "integer": 3.0 is 3
    for value in (True, 3.5, "3", 0, 6, 6.0):
        assert _error(validation.integer, {"n": value}, "n", low=1, high=5).status == 400


def test_recipe_body_post_defaults_and_patch_partial():
    full = bodies.recipe(
        {
            "title": "T",
            "tags": ["B", "a", "a"],
            "ingredients": [{"ingredient": " Big  Onion", "quantity": 1, "unit": "piece"}],
        },
        partial=False,
    )
    assert full == {
        "title": "T",
        "description": "",
        "servings": 4,
        "prep_minutes": 0,
        "tags": ["a", "b"],
        "ingredients": [{"ingredient": "big onion", "quantity": Decimal("1.000"), "unit": "piece"}],
    }
    assert bodies.recipe({"servings": 2, "unknown": "ignored"}, partial=True) == {"servings": 2}
    assert _error(bodies.recipe, {}, partial=False).code == "missing_field"
    assert _error(bodies.recipe, {"title": "T", "tags": ["a b"]}, partial=False).status == 400


def test_shopping_list_body():
    assert bodies.shopping_list({"start": "2026-01-01", "end": "2026-01-07"}) == {
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 1, 7),
        "name": "",
    }
    assert _error(bodies.shopping_list, {"start": "2026-01-07", "end": "2026-01-01"}).code == "invalid_date"
    assert _error(bodies.shopping_list, {"start": "2026-01-01", "end": "2027-01-02"}).status == 400


def test_meal_plan_entries_body():
    assert bodies.meal_plan_entries({"entries": [{"meal": "lunch", "recipe_id": 3}]}) == [
        {"meal": "lunch", "recipe_id": 3, "servings": None}
    ]
    for body in (
        {},
        {"entries": {}},
        {"entries": [{"meal": "brunch", "recipe_id": 1}]},
        {"entries": [{"meal": "lunch", "recipe_id": "1"}]},
        {"entries": [{"meal": "lunch", "recipe_id": 1}] * 51},
    ):
        assert _error(bodies.meal_plan_entries, body).status == 400
