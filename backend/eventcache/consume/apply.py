"""The worker's side of the outbox: apply one message's events together with every other delivered row.

    apply_message(events, outbox_ids) -> Consumed

Each committed write sends its own small Celery message, so under a steady write rate the queue holds many
messages of a few events each, and applying them one by one repeats the same per-batch work (dependents
look-up, Redis round trip, outbox UPDATE, task overhead) for each. Instead, the first message a worker takes
also claims every row that was delivered but not yet applied (up to WORKER_COALESCE_MAX_ROWS, oldest first,
FOR UPDATE SKIP LOCKED so two workers never take the same row) and applies them all as one batch; the
messages whose rows were applied that way find them processed and are acknowledged after that one query.

The rows are claimed (SELECT ... FOR UPDATE SKIP LOCKED) and marked processed in the batch's transaction: if
applying fails, nothing is marked and the task retries. Applying a row before its own message arrives is
safe: the event describes a committed change, and applying it is idempotent. Rows another worker holds are
skipped: it is applying them, and if it dies its transaction rolls back and its message is delivered again.
A message's own rows are waited for instead (see _claim).
"""

import dataclasses
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from eventcache import events as schema
from eventcache import relay
from eventcache.models import OutboxEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumed:
    events: list  # the events applied (the message's and the coalesced rows', de-duplicated)
    coalesced_rows: int  # outbox rows applied beyond the message's own
    already_applied: bool  # every row of the message had been applied by an earlier batch: nothing done
    keys_dropped: int = 0
    keys_prewarmed: int = 0


def _id_match(ids: list[int]) -> tuple[str, list]:
    """`id = ANY(%s)` with one array parameter on PostgreSQL (cheap for thousands of ids), `id IN (...)` elsewhere."""
    if connection.vendor == "postgresql":
        return "id = ANY(%s)", [list(ids)]
    return f"id IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _claim(outbox_ids: list[int], limit: int) -> list[relay.OutboxRow]:
    """Lock and return the message's unapplied rows, then up to `limit` other delivered, unapplied rows, oldest
    first. The message's rows are waited for: the relay may have sent the message before its claim committed,
    so they can still be locked by it for a moment (or by a worker applying them, after which they are
    processed). The other rows are taken only if nobody holds them (SKIP LOCKED): this never waits on a batch.
    On PostgreSQL both are one statement (two locking CTEs): one round trip."""
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    columns = relay.ROW_SELECT
    own = extra = None
    if outbox_ids:
        match, own_params = _id_match(outbox_ids)
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        own = f"SELECT {columns} FROM {table} WHERE {match} AND processed_at IS NULL ORDER BY id{lock}"
    if limit > 0:
        skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        extra = f"SELECT {columns} FROM {table} WHERE sent_at IS NOT NULL AND processed_at IS NULL ORDER BY id LIMIT %s{skip_locked}"
    if own and extra and connection.vendor == "postgresql":
        rows = relay.select_rows(
            f"WITH own AS ({own}), extra AS ({extra}) SELECT * FROM own UNION ALL SELECT * FROM extra",
            [*own_params, limit],
        )
    else:
        rows = (relay.select_rows(own, own_params) if own else []) + (
            relay.select_rows(extra, [limit]) if extra else []
        )
    return sorted({row.id: row for row in rows}.values(), key=lambda row: row.id)


def _mark_processed(ids: list[int]) -> None:
    """Mark the rows processed; on PostgreSQL with the transaction's synchronous_commit turned off in the same
    round trip (a lost mark only means a row is applied again; see relay.relax_commit_durability)."""
    if not ids:
        return
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Numbers formatted in: the simple-query protocol that allows two statements takes no parameters.
            cursor.execute(
                "SET LOCAL synchronous_commit TO OFF; "
                f"UPDATE {table} SET processed_at = to_timestamp({float(now.timestamp())!r}) "
                f"WHERE id IN ({','.join(str(int(i)) for i in ids)})"
            )
        else:
            match, params = _id_match(ids)
            cursor.execute(f"UPDATE {table} SET processed_at = %s WHERE {match}", [now, *params])


def _merge(events: list, rows: list[relay.OutboxRow]) -> list:
    """The message's events followed by one event per distinct (kind, data) of the rows not already among them.
    An event standing for rows of several transactions loses its xid (the invalidation then spares nothing).
    A row that is not a valid event is logged and skipped (it is still marked processed: it can never apply)."""
    merged = list(events)
    index = {(e.kind, json.dumps(schema.to_dict(e)["data"], sort_keys=True)): i for i, e in enumerate(events)}
    index_text: dict[tuple, int] = {}  # (kind, stored JSON text): the database writes equal data as equal text
    for row in rows:
        at = index_text.get((row.kind, row.data_text))
        if at is None and index:
            at = index.get((row.kind, json.dumps(row.data, sort_keys=True)))
        if at is not None:
            if merged[at].xid != row.xid:
                merged[at] = dataclasses.replace(merged[at], xid=None)
            index_text[(row.kind, row.data_text)] = at
            continue
        try:
            event = schema.from_dict(
                {
                    "v": schema.SCHEMA_VERSION,
                    "id": row.id,
                    "kind": row.kind,
                    "at": row.created_at.timestamp(),
                    "data": row.data,
                    "xid": row.xid,
                }
            )
        except schema.InvalidEvent as exc:
            log.error("outbox row %s is not a valid event, skipped: %s", row.id, exc)
            continue
        index_text[(row.kind, row.data_text)] = len(merged)
        merged.append(event)
    return merged


def apply_message(events: list, outbox_ids: list[int]) -> Consumed:
    """Apply the message and every delivered-but-unapplied outbox row, marking the rows processed, in one
    transaction. `events` (validated schema events) are used as they are only when the message names no
    outbox rows; otherwise the rows are the source. Redis and database errors propagate (the task retries;
    nothing stays marked)."""
    from eventcache.store.invalidation import apply_events

    with transaction.atomic():
        rows = _claim(outbox_ids, settings.WORKER_COALESCE_MAX_ROWS)
        if outbox_ids and not rows:
            return Consumed(events=[], coalesced_rows=0, already_applied=True)
        batch = _merge([] if outbox_ids else events, rows)
        applied = apply_events(batch) if batch else None
        # Marked after applying, so processed_at is when the keys were gone (the lag bench reads it).
        _mark_processed([row.id for row in rows])
    own = set(outbox_ids)
    return Consumed(
        events=batch,
        coalesced_rows=sum(1 for row in rows if row.id not in own),
        already_applied=bool(own) and not own.intersection(row.id for row in rows),
        keys_dropped=applied.keys_dropped if applied else 0,
        keys_prewarmed=applied.keys_prewarmed if applied else 0,
    )
