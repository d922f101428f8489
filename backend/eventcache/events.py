"""Events: the Event base class the domain's event kinds derive from, and their JSON wire format.

A kind is a frozen dataclass with a `kind` name and data fields that are positive integer ids (`int`) or ISO dates
(`IsoDate`); the domain lists its kinds in its Domain (eventcache.declare), and only those decode.

Wire format (JSON, on the pub/sub channel and inside Celery task arguments):

    {"v": 1, "id": 1234, "kind": "recipe.changed", "at": 1764100000.123, "data": {"recipe_id": 42}}

`id` is the outbox row id (unique, increasing), `at` the commit-side creation time in Unix seconds.
`decode` accepts only this shape and raises InvalidEvent on anything else; nothing here ever unpickles.
Events are produced by database triggers (eventcache/capture/triggers.py) and published by `publish` in
eventcache/relay/.
"""

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, NewType

from eventcache import declare

SCHEMA_VERSION = 1


class InvalidEvent(ValueError):
    """A message that is not a valid event of a known kind and version."""


@dataclass(frozen=True)
class Event:
    """`id`: the outbox row id (unique, increasing); `at`: the commit-side creation time in Unix seconds."""

    kind: ClassVar[str]
    id: int
    at: float


IsoDate = NewType("IsoDate", str)  # a data field holding a date as YYYY-MM-DD


@cache
def data_fields(cls: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("id", "at"))


@cache
def _checks(cls: type[Event]) -> dict:
    """Data field -> its wire check, from the field's type: IsoDate, else a positive integer id."""
    return {
        f.name: _iso_date if f.type in (IsoDate, "IsoDate") else _positive_int
        for f in dataclasses.fields(cls)
        if f.name not in ("id", "at")
    }


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
    cls = declare.domain().kinds_by_name.get(message.get("kind"))
    if cls is None:
        raise InvalidEvent(f"unknown event kind {message.get('kind')!r}")
    data = message.get("data")
    if not isinstance(data, dict) or set(data) != set(data_fields(cls)):
        raise InvalidEvent(f"{cls.kind} needs exactly the fields {sorted(data_fields(cls))}, got {data!r}")
    at = message.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
        raise InvalidEvent(f"at must be a non-negative number, got {at!r}")
    checks = _checks(cls)
    values = {name: checks[name](name, value) for name, value in data.items()}
    return cls(id=_positive_int("id", message.get("id")), at=float(at), **values)


def decode(raw: str | bytes) -> Event:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    return from_dict(message)
