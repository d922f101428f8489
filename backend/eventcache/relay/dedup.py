"""Outbox rows -> events, one per distinct (kind, data): the one de-duplication of the relay and the worker.

A burst of writes to one row (or to rows whose events are equal) leaves many outbox rows with the same event;
delivering or applying it once is enough, and the survivor covers the ids of every row it stands for. A survivor
standing for rows of several transactions names all their xids (store/lua/invalidate_seen.lua spares a value only
if its snapshot saw every one), or none when one of its rows has none or there are more than events.MAX_XIDS: its
invalidation then spares nothing.
"""

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence

from eventcache import events as schema
from eventcache.relay.outbox import OutboxRow

log = logging.getLogger(__name__)


def event_of(row: OutboxRow, data: dict | None = None) -> schema.Event:
    """The row's event; raises schema.InvalidEvent for a row that is not one (the table is writable)."""
    return schema.from_dict(
        {
            "v": schema.SCHEMA_VERSION,
            "id": row.id,
            "kind": row.kind,
            "at": row.created_at.timestamp(),
            "data": row.data if data is None else data,
            **({"xid": row.xid} if row.xid is not None else {}),
        }
    )


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True)


def deduplicate(
    rows: Iterable[OutboxRow], already: Sequence[schema.Event] = ()
) -> tuple[list[schema.Event], dict[int, list[int]]]:
    """One event per distinct (kind, data) of `rows`, first seen first, leaving out those equal to an event of
    `already` (a message's own events). Returns the events and `covered`: event id (a survivor's, or the equal
    event's of `already`) -> ids of the rows it stands for. A row that is not a valid event is logged and covered
    by none, so the caller can close it. Rows are compared by their stored JSON text first (equal data is equal
    text), so a duplicate is never parsed; `already` is compared by canonical JSON."""
    equal_to = {(event.kind, _canonical(schema.to_dict(event)["data"])): event for event in already}
    given: dict[tuple[str, str], schema.Event | None] = {}  # (kind, stored text) -> the equal event of `already`
    covering: dict[tuple[str, str], int | None] = {}  # (kind, stored text) -> id of the survivor that covers it
    events: list[schema.Event] = []
    position: dict[int, int] = {}  # survivor's id -> its index in events
    covered: dict[int, list[int]] = {}
    for row in rows:
        key = (row.kind, row.data_text)
        if equal_to:
            if key not in given:
                given[key] = equal_to.get((row.kind, _canonical(row.data)))
            equal = given[key]
            # An event of `already` covers only rows of the transactions it names (or any, naming none: it voids
            # everything); a row of another transaction survives itself.
            if equal is not None and (not equal.xids or row.xid in equal.xids):
                covered.setdefault(equal.id, []).append(row.id)
                continue
        if key not in covering:
            covering[key] = _survivor(row, events, position)
        event_id = covering[key]
        if event_id is None:
            continue
        at = position[event_id]
        if events[at].xids != _own_xids(row):
            events[at] = dataclasses.replace(events[at], xids=schema.merged_xids(events[at].xids, _own_xids(row)))
        covered.setdefault(event_id, []).append(row.id)
    return events, covered


def _own_xids(row: OutboxRow) -> tuple[int, ...]:
    return () if row.xid is None else (row.xid,)


def _survivor(row: OutboxRow, events: list[schema.Event], position: dict) -> int | None:
    data = row.data
    try:
        event = event_of(row, data)
    except schema.InvalidEvent as exc:
        log.error("outbox row %s is not a valid event, skipped: %s", row.id, exc)
        return None
    position[event.id] = len(events)
    events.append(event)
    return event.id
