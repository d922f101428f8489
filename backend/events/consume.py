"""The worker's side of the outbox: apply one message's events together with every other delivered row.

    apply_message(events, outbox_ids) -> Consumed

Each committed write sends its own small Celery message, so under a steady write rate the queue holds many
messages of a few events each, and applying them one by one repeats the same per-batch work (dependents
look-up, Redis round trip, outbox UPDATE, task overhead) for each. Instead, the first message a worker takes
also claims every row that was delivered but not yet applied (up to WORKER_COALESCE_MAX_ROWS, oldest first,
FOR UPDATE SKIP LOCKED so two workers never take the same row) and applies them all as one batch; the
messages whose rows were applied that way find them processed and are acknowledged after one indexed query.

Applying a row before its own message arrives is safe: the event describes a committed change, and applying
it is idempotent. The batch's rows stay locked until it commits, so a message whose rows another worker is
applying waits for that worker (and then skips); if that worker dies, its transaction rolls back and the rows
are applied by this one.
"""

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
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


def _lock_unapplied(outbox_ids: list[int]) -> list[int]:
    """The message's rows that still need applying, locked (waiting for a worker that holds them)."""
    if not outbox_ids:
        return []
    return list(
        OutboxEvent.objects.select_for_update()
        .filter(id__in=outbox_ids, processed_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _claim_delivered(exclude: list[int], limit: int) -> list[OutboxEvent]:
    """Rows sent but not applied, oldest first, that no other worker holds."""
    if limit <= 0:
        return []
    rows = OutboxEvent.objects.select_for_update(skip_locked=True).filter(sent_at__isnull=False, processed_at__isnull=True)
    if exclude:
        rows = rows.exclude(id__in=exclude)
    return list(rows.order_by("id")[:limit])


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
    """Apply `events` (validated schema events) and every delivered-but-unapplied outbox row, then mark the
    message's rows and the coalesced ones processed, all in one transaction. Redis and database errors
    propagate (the task retries; nothing is marked)."""
    from caching.invalidation import apply_events

    with transaction.atomic():
        relay.relax_commit_durability()
        own = _lock_unapplied(outbox_ids)
        if outbox_ids and not own:
            return Consumed(events=[], coalesced_rows=0, already_applied=True)
        extra = _claim_delivered(own, settings.WORKER_COALESCE_MAX_ROWS)
        batch = _merge(events, extra)
        applied = apply_events(batch) if batch else None
        relay.update_in_chunks([*own, *(row.id for row in extra)], processed_at=Now(), only_unprocessed=True)
    return Consumed(
        events=batch,
        coalesced_rows=len(extra),
        already_applied=False,
        keys_dropped=applied.keys_dropped if applied else 0,
        keys_prewarmed=applied.keys_prewarmed if applied else 0,
    )
