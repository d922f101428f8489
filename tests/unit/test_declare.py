"""eventcache/declare.py: a Domain refuses an inconsistent declaration; a Key can be rebuilt from its hot-set member."""

import datetime as dt

import pytest

from eventcache import declare
from eventcache.declare import DATE, ID, Capture, Family, Rule
from planner import cache

PLAN = Family("plan", "plan:{date}:{family_id}", 60, {"date": DATE, "family_id": ID}, lambda date, family_id: {})


def test_a_key_carries_its_parts_and_comes_back_from_its_member():
    key = PLAN.key(date=dt.date(2030, 1, 7), family_id=3)
    assert (key.name, key.args, key.ttl) == ("{plan:2030-01-07:3}", (dt.date(2030, 1, 7), 3), 60)
    assert PLAN.member(key) == "2030-01-07:3"
    assert PLAN.from_member("2030-01-07:3") == key


def test_a_pattern_and_its_parts_must_agree():
    with pytest.raises(ValueError, match="differ"):
        Family("bad", "x:{a}", 60, {"b": ID})


@pytest.mark.parametrize(
    "extra, problem",
    [
        (
            {
                "rules": (
                    Rule(
                        cache.RecipeChanged,
                        primary=lambda e: [PLAN.key(date=dt.date(2030, 1, 7), family_id=1)],
                        bump=(PLAN,),
                    ),
                )
            },
            "plan is used but not declared",
        ),
        ({"families": (cache.RECIPE,)}, "two families share a name"),
        ({"refill": (declare.Refill(cache.STATIC_CONFIG),)}, "config is refilled or warmed but has no payload"),
    ],
)
def test_an_inconsistent_domain_is_refused(extra, problem):
    with pytest.raises(ValueError, match=problem):
        cache.DOMAIN.extended(**extra)


def test_every_kind_needs_a_rule_and_every_capture_a_declared_kind():
    with pytest.raises(ValueError, match="recipe.changed has no rule"):
        declare.Domain(families=cache.FAMILIES, kinds=(cache.RecipeChanged,))
    with pytest.raises(ValueError, match="undeclared kind tag.changed"):
        declare.Domain(
            families=cache.FAMILIES,
            kinds=(cache.RecipeChanged,),
            captures=(Capture("planner_tag", declare.ALL, cache.TagChanged, {"tag_id": "{row}.id"}),),
            rules=(Rule(cache.RecipeChanged),),
        )


def test_use_installs_a_domain_for_a_block_only():
    extended = cache.DOMAIN.extended(families=(PLAN,))
    before = declare.domain()
    with declare.use(extended):
        assert declare.domain() is extended
    assert declare.domain() is before


@pytest.mark.parametrize("bad", ["abc\n", "Abc", "a" * 51, "a b", "ü"])
def test_a_slug_part_is_refused_unless_the_whole_value_is_a_slug(bad):
    with pytest.raises(declare.InvalidKeyPart):
        cache.recipe_list(bad, 1)
