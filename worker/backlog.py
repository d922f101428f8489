"""A (re)starting worker applies the outbox rows that were delivered but never applied (issue 12, item 3).

kombu's Redis transport pops a message (BRPOP) before it records it as unacknowledged, so a worker that dies while
its BRPOP is pending at the server (a SIGKILL whose teardown is still running, a frozen VM, a half-open connection)
can be handed a message that nobody then owns: it is gone from the list and never restored. The same happens to a
reply in flight when the broker connection drops. Its outbox rows stay delivered-but-unapplied, and until the
outbox sweep re-sends them (OUTBOX_RESEND_AFTER_SECONDS) their dependents are stale; later messages would apply them
too (every batch coalesces the delivered backlog), but the last write before a crash has no later message.

So every time the consumer (re)connects, before it takes its first message, this consumer bootstep applies that
backlog itself with the consumer's own entry point, eventcache.consume.apply.apply_message, given no message of
its own: one bounded batch (WORKER_COALESCE_MAX_ROWS rows, oldest first; rows another worker is applying are
skipped, never waited for). Applying a row twice is harmless, so a message still on its way finds its rows done.
A failure here (Redis or the database down) is logged and the consumer starts anyway: the queue's messages and the
sweep still deliver everything.

Off on RabbitMQ (CELERY_BROKER_URL=amqp://...): the broker hands a delivery to a consumer and keeps it until that
consumer acknowledges it; a consumer whose channel closes (killed, frozen then dropped by heartbeat, disconnected)
has its unacknowledged deliveries requeued for another. No message can be delivered and owned by nobody, so there
is no backlog to chase, and with many workers each (re)connection would otherwise race the others for the same rows.
"""

import logging

from celery import bootsteps
from django.conf import settings
from django.db import connections

from eventcache.broker import is_amqp

logger = logging.getLogger("worker.backlog")


def apply_backlog() -> int:
    """Apply up to WORKER_COALESCE_MAX_ROWS delivered-but-unapplied outbox rows; returns how many were applied."""
    from eventcache.consume.apply import apply_message

    try:
        consumed = apply_message([], [])
    except Exception:  # noqa: BLE001 - a start-up step must never keep the consumer from starting
        logger.warning("delivered outbox backlog not applied at start-up; the queue and the sweep will", exc_info=True)
        return 0
    finally:
        connections.close_all()  # the consumer's thread holds no database connection between tasks
    if consumed.coalesced_rows:
        logger.info(
            "applied %d delivered outbox row(s) nobody had applied (%d keys dropped)",
            consumed.coalesced_rows,
            consumed.keys_dropped,
        )
    return consumed.coalesced_rows


class ApplyBacklog(bootsteps.StartStopStep):
    """Consumer step: apply the delivered-but-unapplied outbox backlog on every (re)connection."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        self.enabled = bool(settings.REDIS_URL) and not is_amqp(settings.CELERY_BROKER_URL)

    def start(self, c):
        apply_backlog()
