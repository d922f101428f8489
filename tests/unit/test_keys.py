"""planner/cache.py and eventcache/store/keys.py: every key name and TTL, and rejection of values that cannot be part of a key."""

import datetime as dt

import pytest

from eventcache import declare
from eventcache.store import keys
from planner import cache


def test_key_names_and_ttls():
    assert cache.recipe(42).name == "{recipe:42}" and cache.recipe(42).ttl == 30 * 60
    assert (
        cache.recipe_list("vegan", 2).name == "{api:recipes:tag=vegan:page=2}"
        and cache.recipe_list(None, 1).ttl == 5 * 60
    )
    assert cache.recipe_list(None, 1).name == "{api:recipes:tag=:page=1}"
    assert cache.meal_plan(dt.date(2030, 1, 7), 3).name == "{meal_plan:2030-01-07:3}"
    assert (
        cache.shopping_lists(5).name == "{user:5:shopping_lists:size=10:page=1}"
        and cache.shopping_lists(5).ttl == 30 * 60
    )
    assert cache.shopping_lists(5, 3).name == "{user:5:shopping_lists:size=10:page=3}"
    assert cache.preferences(5).name == "{user:5:preferences}" and cache.preferences(5).ttl == 24 * 3600
    assert cache.identity(5).name == "{user:5:identity}"
    assert cache.static_config("units").name == "{config:units}" and cache.static_config("units").ttl is None


def test_bookkeeping_names():
    assert keys.lease(cache.recipe(42)) == "lease:{recipe:42}"
    assert keys.namespace(cache.RECIPE) == "ns:{recipe}"
    assert keys.hot_set(cache.SHOPPING_LISTS) == "hot:{shopping_lists}"
    assert keys.hot_epoch(cache.SHOPPING_LISTS) == "hot:{shopping_lists}:epoch"


def test_every_family_is_listed_once_by_name():
    assert set(cache.DOMAIN.families_by_name) == {
        "recipe",
        "recipe_list",
        "meal_plan",
        "shopping_lists",
        "preferences",
        "identity",
        "config",
    }
    assert all(cache.DOMAIN.families_by_name[name].name == name for name in cache.DOMAIN.families_by_name)


@pytest.mark.parametrize("bad", [0, -1, True, False, "1", 1.0, None, "1\n", " 1"])
def test_ids_must_be_positive_ints(bad):
    with pytest.raises(declare.InvalidKeyPart):
        cache.recipe(bad)
    with pytest.raises(declare.InvalidKeyPart):
        cache.shopping_lists(bad)


@pytest.mark.parametrize("bad", ["2030-01-07", dt.datetime(2030, 1, 7, 12, 0), None, 20300107])
def test_dates_must_be_dates(bad):
    with pytest.raises(declare.InvalidKeyPart):
        cache.meal_plan(bad, 1)


@pytest.mark.parametrize("bad", ["with space", "new\nline", "UPPER", "a:b", "", "x" * 51, "*", 7])
def test_slugs_reject_anything_that_could_change_a_key(bad):
    with pytest.raises(declare.InvalidKeyPart):
        cache.recipe_list(bad, 1) if bad != "" else cache.static_config(bad)


def test_keys_are_values():
    assert cache.recipe(1) == cache.recipe(1) and len({cache.recipe(1), cache.recipe(1), cache.recipe(2)}) == 2
