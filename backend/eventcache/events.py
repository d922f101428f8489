"""Events: the Event base class the domain's event kinds derive from, and their JSON wire format.

A kind is a frozen dataclass with a `kind` name and data fields that are positive integer ids (`int`), ISO dates
(`IsoDate`) or table names (`TableName`); the domain lists its kinds in its Domain (eventcache.declare), and only
those decode, plus the engine's own TableTruncated (written by the TRUNCATE triggers of eventcache/capture).

Wire format (JSON, on the pub/sub channel and inside Celery task arguments):

    {"v": 1, "id": 1234, "kind": "recipe.changed", "at": 1764100000.123, "data": {"recipe_id": 42}, "xid": 7731}

`id` is the outbox row id (unique, increasing), `at` the commit-side creation time in Unix seconds, `xid` (optional:
absent on SQLite) the writing transaction's id (PostgreSQL's pg_current_xact_id()), which lets the invalidation
spare values computed after that transaction committed (eventcache/store/lua/invalidate_seen.lua). An event that
stands for equal rows of several transactions (relay/dedup.py) carries `"xids": [7731, 7735]` instead (at most
MAX_XIDS; beyond that, or when any of its rows has no xid, it carries none and its invalidation spares nothing).
A reader that knows only `xid` sees no xid in such a message, which is the safe reading.
`decode` accepts only this shape and raises InvalidEvent on anything else (whatever the bytes: NaN or Infinity,
numbers no float holds, ids beyond a bigint, nesting deep enough to exhaust the parser's recursion, a message
larger than any event); nothing here ever unpickles. An `at` far from now still decodes (an outbox row re-sent
after a long outage is a real event), but `lag_ms` leaves it out of the lag figures.
Events are produced by database triggers (eventcache/capture/triggers.py) and published by `publish` in
eventcache/relay/.
"""

import dataclasses
import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, NewType

from eventcache import declare

SCHEMA_VERSION = 1
MAX_ID = 2**63 - 1  # the outbox's bigint ids; a larger one can only make a database query fail
MAX_MESSAGE_BYTES = 64 * 1024  # an event is a few hundred bytes; anything far larger is not one
LAG_PLAUSIBLE_SECONDS = 24 * 3600  # an `at` further from now than this says nothing about the live path's lag
MAX_XIDS = 64  # transactions one event may name; more (a burst on one row) and it names none, voiding as before


class InvalidEvent(ValueError):
    """A message that is not a valid event of a known kind and version."""


@dataclass(frozen=True)
class Event:
    """`id`: the outbox row id (unique, increasing); `at`: the commit-side creation time in Unix seconds; `xids`: the
    writing transactions' ids, sorted (one, or several for an event standing for equal rows of several
    transactions); empty when unknown."""

    kind: ClassVar[str]
    id: int
    at: float
    xids: tuple[int, ...] = dataclasses.field(default=(), kw_only=True)

    @property
    def xid(self) -> int | None:
        """The one writing transaction's id; None when unknown or when the event stands for several."""
        return self.xids[0] if len(self.xids) == 1 else None


_ENVELOPE = ("id", "at", "xids")  # the Event fields every kind has; the rest are its data

IsoDate = NewType("IsoDate", str)  # a data field holding a date as YYYY-MM-DD
TableName = NewType("TableName", str)  # a data field holding a lower-case SQL table name


@dataclass(frozen=True)
class TableTruncated(Event):
    """A captured table was emptied by TRUNCATE (or `manage.py flush`), which no row trigger sees. The engine
    declares it for every domain (eventcache.declare.Domain), with a rule bumping every family's namespace."""

    kind: ClassVar[str] = "table.truncated"
    table: TableName


@cache
def data_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _ENVELOPE)


@cache
def _checks(cls: type) -> dict:
    """Data field -> its wire check, from the field's type: IsoDate, TableName, else a positive integer id."""
    by_type = {IsoDate: _iso_date, "IsoDate": _iso_date, TableName: _table_name, "TableName": _table_name}
    return {f.name: by_type.get(f.type, _positive_int) for f in dataclasses.fields(cls) if f.name not in _ENVELOPE}


def to_dict(event: Event) -> dict:
    kind_class: type = type(event)  # as plain `type`: mypy takes type[Event] for unhashable (Event.__hash__)
    message = {
        "v": SCHEMA_VERSION,
        "id": event.id,
        "kind": event.kind,
        "at": event.at,
        "data": {name: getattr(event, name) for name in data_fields(kind_class)},
    }
    if len(event.xids) == 1:
        message["xid"] = event.xids[0]
    elif event.xids:
        message["xids"] = list(event.xids)
    return message


def merged_xids(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """The xids of an event standing for the rows of both: empty (unknown) when either is, or beyond MAX_XIDS."""
    if not first or not second:
        return ()
    merged = tuple(sorted(set(first) | set(second)))
    return merged if len(merged) <= MAX_XIDS else ()


def encode(event: Event) -> str:
    return json.dumps(to_dict(event), separators=(",", ":"))


def is_id(value) -> bool:
    """A positive integer that fits the outbox's bigint ids."""
    return type(value) is int and 0 < value <= MAX_ID


def _positive_int(name, value):
    if not is_id(value):
        raise InvalidEvent(f"{name} must be a positive integer of at most {MAX_ID}, got {value!r:.50}")
    return value


def _at(value) -> float:
    """A finite, non-negative number of Unix seconds as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent(f"at must be a number, got {value!r:.50}")
    try:
        at = float(value)
    except OverflowError:  # an int too large for a float
        raise InvalidEvent("at must be a finite number, got a huge integer") from None
    if not math.isfinite(at) or at < 0:
        raise InvalidEvent(f"at must be a finite, non-negative number, got {value!r:.50}")
    return at


def lag_ms(event: Event, now: float) -> int | None:
    """Milliseconds from the event's `at` to `now` (0 when the clocks put it a little ahead), or None when `at`
    is more than LAG_PLAUSIBLE_SECONDS away: such a value (`at: 1`, a clock a year off) would swamp any total."""
    lag = now - event.at
    if not -LAG_PLAUSIBLE_SECONDS <= lag <= LAG_PLAUSIBLE_SECONDS:
        return None
    return max(0, round(lag * 1000))


def _iso_date(name, value):
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidEvent(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}")


_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _table_name(name, value):
    if isinstance(value, str) and _TABLE_NAME.fullmatch(value):
        return value
    raise InvalidEvent(f"{name} must be a lower-case SQL table name, got {value!r:.100}")


def from_dict(message) -> Event:
    if not isinstance(message, dict):
        raise InvalidEvent(f"an event is a JSON object, got {type(message).__name__}")
    if message.get("v") != SCHEMA_VERSION:
        raise InvalidEvent(f"unknown schema version {message.get('v')!r} (this code reads {SCHEMA_VERSION})")
    kind = message.get("kind")
    cls = declare.domain().kinds_by_name.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidEvent(f"unknown event kind {kind!r:.100}")
    data = message.get("data")
    if not isinstance(data, dict) or set(data) != set(data_fields(cls)):
        raise InvalidEvent(f"{cls.kind} needs exactly the fields {sorted(data_fields(cls))}, got {data!r:.200}")
    at = _at(message.get("at"))
    checks = _checks(cls)
    values = {name: checks[name](name, value) for name, value in data.items()}
    return cls(id=_positive_int("id", message.get("id")), at=at, xids=_xids(message), **values)


def _xids(message: dict) -> tuple[int, ...]:
    """`xid` (one) or `xids` (several, at most MAX_XIDS), never both; none when absent."""
    xid, xids = message.get("xid"), message.get("xids")
    if xid is not None and xids is not None:
        raise InvalidEvent("an event carries xid or xids, not both")
    if xid is not None:
        return (_positive_int("xid", xid),)
    if xids is None:
        return ()
    if not isinstance(xids, list) or not 1 <= len(xids) <= MAX_XIDS:
        raise InvalidEvent(f"xids must be a list of 1 to {MAX_XIDS} transaction ids, got {xids!r:.100}")
    return tuple(sorted({_positive_int("xids", value) for value in xids}))


def decode(raw: str | bytes) -> Event:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidEvent(f"{len(raw)} bytes, more than any event ({MAX_MESSAGE_BYTES})")
    try:
        message = json.loads(raw)
    except (TypeError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidEvent(f"not JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser's recursion limit
        raise InvalidEvent("not JSON: nested too deeply") from None
    return from_dict(message)
