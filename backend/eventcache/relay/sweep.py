"""The outbox sweep (beat runs eventcache.tasks.sweep_outbox every OUTBOX_SWEEP_SECONDS): deliver rows nobody sent
(their writer died, or Redis was down), re-send rows nobody confirmed (a lost message or a worker that gave up),
prune old processed rows and keep the table vacuumed.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg import sql

from eventcache.models import OutboxEvent
from eventcache.relay import outbox, publish

log = logging.getLogger(__name__)

# After a prune this large, a plain VACUUM makes the freed space reusable, so the table stays bounded even on a
# server whose autovacuum is off or lagging.
VACUUM_AFTER_PRUNED = 1_000
# Every row is updated twice (sent, processed), leaving dead versions that the outbox's indexes keep pointing at
# until a vacuum; on a server whose autovacuum is off or behind, the sweep also vacuums at this interval so the
# look-ups of unsent rows stay short (a VACUUM of the small live table is cheap).
VACUUM_EVERY_SECONDS = 60.0
_last_vacuum = float("-inf")  # time.monotonic() of this process's last VACUUM


def sweep() -> dict[str, int]:
    """Deliver rows nobody sent, re-send rows nobody confirmed, prune old processed rows."""
    now = timezone.now()
    unsent = outbox.unsent().filter(created_at__lt=now - timedelta(seconds=settings.OUTBOX_UNSENT_GRACE_SECONDS))
    unconfirmed = OutboxEvent.objects.filter(
        processed_at__isnull=True, sent_at__lt=now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER_SECONDS)
    )
    counts = {
        "sent": publish.claim_and_deliver(unsent, drop_primary_keys=False, what="sweep"),
        "resent": publish.claim_and_deliver(unconfirmed, drop_primary_keys=False, what="sweep re-send"),
        "pruned": prune(now - timedelta(seconds=settings.OUTBOX_RETENTION_SECONDS)),
    }
    if counts["sent"] or counts["resent"]:
        log.info("outbox sweep: %(sent)d sent, %(resent)d re-sent, %(pruned)d pruned", counts)
    return counts


def prune(older_than: datetime) -> int:
    """Delete rows processed before `older_than`, in bounded chunks; vacuum after a large prune or every interval."""
    pruned = 0
    for _ in range(publish.MAX_ROUNDS):
        processed = OutboxEvent.objects.filter(processed_at__lt=older_than).order_by()
        ids = list(processed.values_list("id", flat=True)[: outbox.ID_CHUNK])
        if not ids:
            break
        pruned += OutboxEvent.objects.filter(id__in=ids).delete()[0]
    if pruned >= VACUUM_AFTER_PRUNED or time.monotonic() - _last_vacuum >= VACUUM_EVERY_SECONDS:
        _vacuum()
    return pruned


def _vacuum() -> None:
    global _last_vacuum
    if connection.vendor != "postgresql" or connection.in_atomic_block:  # VACUUM cannot run in a transaction
        return
    _last_vacuum = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("VACUUM {table}").format(table=outbox.TABLE))
