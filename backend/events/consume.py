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

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from events import relay, schema
from events.models import OutboxEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumed:
    events: list  # the events applied (the message's and the coalesced rows', de-duplicated)
    coalesced_rows: int  # outbox rows applied beyond the message's own
    already_applied: bool  # every row of the message had been applied by an earlier batch: nothing done
    keys_dropped: int = 0
    keys_prewarmed: int = 0


_COLUMNS = "id, kind, data, created_at, sent_at, attempts, processed_at"


def _claim(outbox_ids: list[int], limit: int) -> list[OutboxEvent]:
    """Lock and return the message's unapplied rows, then up to `limit` other delivered, unapplied rows, oldest
    first. The message's rows are waited for: the relay sends the message before its claim commits, so they
    can still be locked by it for a moment (or by a worker applying them, after which they are processed).
    The other rows are taken only if nobody holds them (SKIP LOCKED), so this never waits on another batch."""
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    rows = []
    if outbox_ids:
        own = ", ".join(["%s"] * len(outbox_ids))
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        rows += OutboxEvent.objects.raw(
            f"SELECT {_COLUMNS} FROM {table} WHERE id IN ({own}) AND processed_at IS NULL ORDER BY id{lock}", outbox_ids
        )
    if limit > 0:
        skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        rows += OutboxEvent.objects.raw(
            f"SELECT {_COLUMNS} FROM {table} WHERE sent_at IS NOT NULL AND processed_at IS NULL "
            f"ORDER BY id LIMIT %s{skip_locked}",
            [limit],
        )
    return sorted({row.id: row for row in rows}.values(), key=lambda row: row.id)


def _merge(events: list, rows: list[OutboxEvent]) -> list:
    """The message's events followed by the rows' events that are not already among them."""
    def identity(event):
        return json.dumps(schema.to_dict(event)["data"], sort_keys=True), event.kind

    seen = {identity(e) for e in events}
    merged = list(events)
    for event in relay.deduplicate(rows)[0]:
        if identity(event) not in seen:
            seen.add(identity(event))
            merged.append(event)
    return merged


def apply_message(events: list, outbox_ids: list[int]) -> Consumed:
    """Apply the message and every delivered-but-unapplied outbox row, marking the rows processed, in one
    transaction. `events` (validated schema events) are used as they are only when the message names no
    outbox rows; otherwise the rows are the source. Redis and database errors propagate (the task retries;
    nothing stays marked)."""
    from caching.invalidation import apply_events

    with transaction.atomic():
        relay.relax_commit_durability()
        rows = _claim(outbox_ids, settings.WORKER_COALESCE_MAX_ROWS)
        if outbox_ids and not rows:
            return Consumed(events=[], coalesced_rows=0, already_applied=True)
        batch = _merge([] if outbox_ids else events, rows)
        applied = apply_events(batch) if batch else None
        # Marked after applying, so processed_at is when the keys were gone (the lag bench reads it).
        relay.update_in_chunks([row.id for row in rows], processed_at=Now())
    own = set(outbox_ids)
    return Consumed(
        events=batch,
        coalesced_rows=sum(1 for row in rows if row.id not in own),
        already_applied=bool(own) and not own.intersection(row.id for row in rows),
        keys_dropped=applied.keys_dropped if applied else 0,
        keys_prewarmed=applied.keys_prewarmed if applied else 0,
    )
