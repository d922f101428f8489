"""The event schema: one small dataclass per event kind, ids and plain values only.

Wire format (JSON, on the pub/sub channel and inside Celery task arguments):

    {"v": 1, "id": 1234, "kind": "recipe.changed", "at": 1764100000.123, "data": {"recipe_id": 42}}

`id` is the outbox row id (unique, increasing), `at` the commit-side creation time in Unix seconds.
`decode` accepts only this shape and raises InvalidEvent on anything else; nothing here ever unpickles.
Events are produced by database triggers (eventcache/capture/triggers.py) and published by `publish` in eventcache/relay.py.
"""

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import ClassVar

SCHEMA_VERSION = 1


class InvalidEvent(ValueError):
    """A message that is not a valid event of a known kind and version."""


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]
    id: int
    at: float


@dataclass(frozen=True)
class RecipeChanged(Event):
    kind: ClassVar[str] = "recipe.changed"
    recipe_id: int


@dataclass(frozen=True)
class RecipeDeleted(Event):
    kind: ClassVar[str] = "recipe.deleted"
    recipe_id: int


@dataclass(frozen=True)
class TagChanged(Event):
    kind: ClassVar[str] = "tag.changed"
    tag_id: int


@dataclass(frozen=True)
class MealPlanChanged(Event):
    kind: ClassVar[str] = "meal_plan.changed"
    family_id: int
    date: str  # ISO date, YYYY-MM-DD


@dataclass(frozen=True)
class ShoppingListChanged(Event):
    kind: ClassVar[str] = "shopping_list.changed"
    user_id: int


@dataclass(frozen=True)
class PreferencesChanged(Event):
    kind: ClassVar[str] = "preferences.changed"
    user_id: int


@dataclass(frozen=True)
class UserChanged(Event):
    kind: ClassVar[str] = "user.changed"
    user_id: int


@dataclass(frozen=True)
class FamilyMembershipChanged(Event):
    kind: ClassVar[str] = "family.membership_changed"
    family_id: int
    user_id: int


KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RecipeChanged,
        RecipeDeleted,
        TagChanged,
        MealPlanChanged,
        ShoppingListChanged,
        PreferencesChanged,
        UserChanged,
        FamilyMembershipChanged,
    )
}


def data_fields(cls: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("id", "at"))


def to_dict(event: Event) -> dict:
    return {
        "v": SCHEMA_VERSION,
        "id": event.id,
        "kind": event.kind,
        "at": event.at,
        "data": {name: getattr(event, name) for name in data_fields(type(event))},
    }


def encode(event: Event) -> str:
    return json.dumps(to_dict(event), separators=(",", ":"))


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEvent(f"{name} must be a positive integer, got {value!r}")
    return value


def _iso_date(name, value):
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidEvent(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}")


def from_dict(message) -> Event:
    if not isinstance(message, dict):
        raise InvalidEvent(f"an event is a JSON object, got {type(message).__name__}")
    if message.get("v") != SCHEMA_VERSION:
        raise InvalidEvent(f"unknown schema version {message.get('v')!r} (this code reads {SCHEMA_VERSION})")
    cls = KINDS.get(message.get("kind"))
    if cls is None:
        raise InvalidEvent(f"unknown event kind {message.get('kind')!r}")
    data = message.get("data")
    if not isinstance(data, dict) or set(data) != set(data_fields(cls)):
        raise InvalidEvent(f"{cls.kind} needs exactly the fields {sorted(data_fields(cls))}, got {data!r}")
    at = message.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
        raise InvalidEvent(f"at must be a non-negative number, got {at!r}")
    values = {
        name: _iso_date(name, value) if name == "date" else _positive_int(name, value) for name, value in data.items()
    }
    return cls(id=_positive_int("id", message.get("id")), at=float(at), **values)


def decode(raw: str | bytes) -> Event:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    return from_dict(message)
