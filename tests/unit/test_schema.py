"""eventcache/events.py: every kind round-trips through JSON; decode accepts nothing else."""

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventcache import events as schema
from eventcache.events import InvalidEvent
from planner import cache

SAMPLE_DATA = {
    "recipe_id": 42,
    "tag_id": 7,
    "family_id": 3,
    "user_id": 9,
    "list_id": 11,
    "rank": 2,
    "date": "2030-01-07",
    "table": "planner_recipe",
}


def sample(cls, event_id=1):
    return cls(id=event_id, at=1764100000.25, **{name: SAMPLE_DATA[name] for name in schema.data_fields(cls)})


def valid_message(kind="recipe.changed"):
    return schema.to_dict(sample(cache.DOMAIN.kinds_by_name[kind]))


@pytest.mark.parametrize("kind", sorted(cache.DOMAIN.kinds_by_name))
def test_every_kind_round_trips_through_json(kind):
    event = sample(cache.DOMAIN.kinds_by_name[kind], event_id=123)

    wire = schema.encode(event)

    assert json.loads(wire)["kind"] == kind
    assert json.loads(wire)["v"] == schema.SCHEMA_VERSION
    assert schema.decode(wire) == event
    assert schema.decode(wire.encode()) == event
    assert schema.from_dict(schema.to_dict(event)) == event


def test_one_xid_goes_on_the_wire_as_xid_several_as_xids():
    one = sample(cache.RecipeChanged)
    one = type(one)(id=1, at=one.at, recipe_id=42, xids=(7731,))
    several = type(one)(id=1, at=one.at, recipe_id=42, xids=(7731, 7735))

    assert schema.to_dict(one)["xid"] == 7731 and "xids" not in schema.to_dict(one)
    assert schema.to_dict(several)["xids"] == [7731, 7735] and "xid" not in schema.to_dict(several)
    assert schema.decode(schema.encode(several)) == several and schema.decode(schema.encode(one)).xid == 7731
    assert several.xid is None  # the one-transaction view of an event standing for several


def test_wire_format_is_readable_json():
    assert json.loads(schema.encode(sample(cache.MealPlanChanged))) == {
        "v": 1,
        "id": 1,
        "kind": "meal_plan.changed",
        "at": 1764100000.25,
        "data": {"family_id": 3, "date": "2030-01-07"},
    }


def _with(**changes):
    message = valid_message()
    message.update(changes)
    return message


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe\x00garbage",
        "[1, 2, 3]",
        "null",
        "42",
        '"recipe.changed"',
        pickle.dumps(valid_message()),  # a pickled event is refused, never unpickled
        pickle.dumps(valid_message(), protocol=0),
        json.dumps(_with(v=2)),
        json.dumps(_with(v="1")),
        json.dumps({k: v for k, v in valid_message().items() if k != "v"}),
        json.dumps(_with(kind="recipe.exploded")),
        json.dumps(_with(kind=None)),
        json.dumps(_with(data={})),
        json.dumps(_with(data={"recipe_id": 1, "extra": 2})),
        json.dumps(_with(data={"recipe_id": "42"})),
        json.dumps(_with(data={"recipe_id": 0})),
        json.dumps(_with(data={"recipe_id": -5})),
        json.dumps(_with(data={"recipe_id": True})),
        json.dumps(_with(data={"recipe_id": 4.5})),
        json.dumps(_with(data=[42])),
        json.dumps(_with(id=0)),
        json.dumps(_with(id="1")),
        json.dumps({k: v for k, v in valid_message().items() if k != "id"}),
        json.dumps(_with(at=-1)),
        json.dumps(_with(at="yesterday")),
        json.dumps(_with(at=None)),
        json.dumps(_with(xid=5, xids=[6])),
        json.dumps(_with(xids=[])),
        json.dumps(_with(xids=7)),
        json.dumps(_with(xids=[1, "2"])),
        json.dumps(_with(xids=[0])),
        json.dumps(_with(xids=list(range(1, schema.MAX_XIDS + 2)))),
        json.dumps({**valid_message("meal_plan.changed"), "data": {"family_id": 3, "date": "2030-02-30"}}),
        json.dumps({**valid_message("meal_plan.changed"), "data": {"family_id": 3, "date": "20300107"}}),
        json.dumps({**valid_message("meal_plan.changed"), "data": {"family_id": 3, "date": 20300107}}),
        json.dumps({**valid_message("meal_plan.changed"), "data": {"family_id": 3, "date": "2030-1-7\n"}}),
    ],
)
def test_decode_rejects_anything_but_a_valid_event(raw):
    with pytest.raises(InvalidEvent):
        schema.decode(raw)


def test_decode_does_not_unpickle(monkeypatch):
    """Even a pickle that would run code on load only ever reaches json.loads."""
    called = []

    class Exploit:
        def __reduce__(self):
            return (called.append, ("pwned",))

    with pytest.raises(InvalidEvent):
        schema.decode(pickle.dumps(Exploit()))
    assert called == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
near_valid = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1", None]) | json_values,
        "id": st.integers(-3, 10**20) | json_values,
        "kind": st.sampled_from(sorted(cache.DOMAIN.kinds_by_name)) | st.text(max_size=30),
        "at": st.floats(allow_nan=False) | st.integers() | json_values,
        "data": st.dictionaries(
            st.sampled_from(sorted(SAMPLE_DATA)) | st.text(max_size=10),
            st.integers() | st.text(max_size=12) | json_values,
            max_size=3,
        )
        | json_values,
    },
)


@given(st.binary(max_size=200) | st.text(max_size=200) | json_values.map(json.dumps) | near_valid.map(json.dumps))
def test_decode_never_raises_anything_but_invalid_event(raw):
    try:
        event = schema.decode(raw)
    except InvalidEvent:
        return
    # Whatever it accepts is a well-formed event that encodes back to the same thing.
    assert isinstance(event, schema.Event)
    assert schema.decode(schema.encode(event)) == event


# --- Issue 12 item 12: input that used to escape decode or poison what follows it -------------------------


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_with(at=float("nan"))),  # Python's json writes and reads NaN and Infinity
        json.dumps(_with(at=float("inf"))),
        json.dumps(_with(at=float("-inf"))),
        json.dumps(_with(at=1e999)).replace("Infinity", "1e999"),  # a literal that overflows to inf
        json.dumps(_with(at=10**400)),  # too large for a float: float() would raise OverflowError
        json.dumps(_with(id=2**63)),  # not a bigint: the outbox could never hold it
        json.dumps(_with(data={"recipe_id": 2**63})),
        json.dumps(_with(kind=["recipe.changed"])),  # unhashable: a dict look-up would raise TypeError
        json.dumps(_with(kind={"a": 1})),
        json.dumps(_with(data="recipe_id")),
        json.dumps(_with(data=None)),
        "[" * 20_000 + "]" * 20_000,  # json.loads raises RecursionError (and it is under the size limit)
        '{"v": 1, "data": ' + "[" * 20_000 + "]" * 20_000 + "}",
        "[" * 100_000 + "]" * 100_000,
        b'{"v": 1, "pad": "' + b"x" * 100_000 + b'"}',  # far larger than any event
    ],
)
def test_decode_rejects_hostile_input_with_invalid_event_only(raw):
    with pytest.raises(InvalidEvent):
        schema.decode(raw)


def test_from_dict_rejects_a_non_finite_at():
    for at in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(InvalidEvent):
            schema.from_dict(_with(at=at))


def test_an_old_at_still_decodes_but_has_no_lag():
    """An outbox row re-sent after a long outage is a real event (rejecting it would drop an invalidation), but an
    `at` more than a day from now says nothing about the live path's lag."""
    now = 1764100000.0
    old = schema.decode(json.dumps(_with(at=1)))
    assert old.at == 1.0 and schema.lag_ms(old, now) is None
    assert schema.lag_ms(schema.decode(json.dumps(_with(at=now + 3 * 86400))), now) is None
    assert schema.lag_ms(schema.decode(json.dumps(_with(at=now - 0.25))), now) == 250
    assert schema.lag_ms(schema.decode(json.dumps(_with(at=now + 0.5))), now) == 0  # clocks a little apart
