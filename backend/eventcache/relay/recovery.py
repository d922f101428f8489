"""Outage recovery: when Redis answers again (eventcache.store.readthrough runs the registered callback before its
first read), every unprocessed event is applied inline, so entries cached before the outage are dropped before
anyone can read them, without waiting for the broker round trip."""

import logging

from django.db.models.functions import Now

from eventcache import stats
from eventcache.models import OutboxEvent
from eventcache.relay import dedup, outbox
from eventcache.store import invalidation

log = logging.getLogger(__name__)


def recover_after_outage() -> int:
    """Apply every unprocessed event, oldest first, in chunks; returns how many rows were applied."""
    applied = 0
    last_id = 0
    while True:
        pending = OutboxEvent.objects.filter(processed_at__isnull=True, id__gt=last_id).order_by("id")
        rows = outbox.rows_of(pending[: outbox.CLAIM_LIMIT])
        if not rows:
            break
        events, _ = dedup.deduplicate(rows)
        invalidation.apply_events(events)
        stats.incr(stats.lookups("writer"), len(events))
        ids = [row.id for row in rows]
        outbox.update_in_chunks(ids, processed_at=Now(), sent_at=Now())
        applied += len(ids)
        last_id = ids[-1]
    if applied:
        log.info("Redis is back: applied %d pending outbox event(s) inline", applied)
    return applied
