"""The worker's side of the outbox: apply one message's events together with every other delivered row.

    apply_message(events, outbox_ids) -> Consumed

Each committed write sends its own small Celery message, so under a steady write rate the queue holds many
messages of a few events each, and applying them one by one repeats the same per-batch work (dependents
look-up, Redis round trip, outbox UPDATE, task overhead) for each. Instead, the first message a worker takes
also claims every row that was delivered but not yet applied (up to WORKER_COALESCE_MAX_ROWS, oldest first,
FOR UPDATE SKIP LOCKED so two workers never take the same row) and applies them all as one batch; the
messages whose rows were applied that way find them processed and are acknowledged after that one query.

The rows are claimed (relay.outbox.claim_for_batch: SELECT ... FOR UPDATE SKIP LOCKED), de-duplicated with the
relay's one function (relay.dedup) and marked processed in the batch's transaction: if
applying fails, nothing is marked and the task retries. Applying a row before its own message arrives is
safe: the event describes a committed change, and applying it is idempotent. Rows another worker holds are
skipped: it is applying them, and if it dies its transaction rolls back and its message is delivered again.
A message's own rows are waited for instead.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from eventcache import stats
from eventcache.relay import dedup, outbox
from eventcache.store import invalidation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumed:
    events: list  # the events applied (the message's and the coalesced rows', de-duplicated)
    coalesced_rows: int  # outbox rows applied beyond the message's own
    already_applied: bool  # every row of the message had been applied by an earlier batch: nothing done
    keys_dropped: int = 0
    keys_prewarmed: int = 0


def apply_message(events: list, outbox_ids: list[int]) -> Consumed:
    """Apply the message and every delivered-but-unapplied outbox row, marking the rows processed, in one
    transaction. `events` (validated schema events) are used as they are only when the message names no
    outbox rows; otherwise the rows are the source. Redis and database errors propagate (the task retries;
    nothing stays marked)."""
    with transaction.atomic():
        rows = outbox.claim_for_batch(outbox_ids, settings.WORKER_COALESCE_MAX_ROWS)
        if outbox_ids and not rows:
            return Consumed(events=[], coalesced_rows=0, already_applied=True)
        # The message's own events are used as they are only when it names no outbox rows.
        given = [] if outbox_ids else list(events)
        coalesced, _ = dedup.deduplicate(rows, already=given)
        batch = given + coalesced
        applied = invalidation.apply_events(batch) if batch else None
        # Marked after applying, so processed_at is when the keys were gone (the lag bench reads it). Invalid rows
        # are marked too: they can never apply.
        outbox.mark_processed([row.id for row in rows])
    if batch:
        stats.incr(stats.lookups("task"), len(batch))
    own = set(outbox_ids)
    return Consumed(
        events=batch,
        coalesced_rows=sum(1 for row in rows if row.id not in own),
        already_applied=bool(own) and not own.intersection(row.id for row in rows),
        keys_dropped=applied.keys_dropped if applied else 0,
        keys_prewarmed=applied.keys_prewarmed if applied else 0,
    )
