"""The engine's Celery tasks (found by the app's autodiscover_tasks; sent with .apply_async/.delay, and by beat
from CELERY_BEAT_SCHEDULE). Each one checks its arguments and calls a plain engine function.

process_events is the delivery path of the cache's events (docs/ARCHITECTURE.md): it is idempotent (dropping
or re-filling a key twice is harmless, marking a row processed twice too), so acks_late redelivery and the
outbox sweep's re-sends are safe. Bad input is logged, counted and dropped; it never makes the task fail or
retry, so nothing can loop on it.
"""

import logging
import time

from celery import Task, shared_task
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from redis.exceptions import RedisError

from eventcache import stats, warm
from eventcache.consume import apply as consume
from eventcache.events import InvalidEvent, from_dict, is_id, lag_ms
from eventcache.relay import sweep

logger = logging.getLogger(__name__)

# Transient failures of Redis or PostgreSQL: retried with exponential backoff and jitter (1 s, 2 s, 4 s ...
# capped at 60 s, which the broker's visibility_timeout exceeds). After MAX_RETRIES (up to ~5 minutes) the task
# fails loudly (TransientTask.on_failure) and is acked; nothing is lost, because its outbox rows are still
# unprocessed and the outbox sweep re-sends them every OUTBOX_RESEND_AFTER_SECONDS until a worker applies them.
TRANSIENT_ERRORS = (RedisError, DatabaseOperationalError, DatabaseInterfaceError)
MAX_RETRIES = 10


class TransientTask(Task):
    """Retries on Redis/database errors; a task that finally fails says so and is counted."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = MAX_RETRIES

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        logger.error("%s[%s] gave up: %r (unprocessed outbox rows are re-sent by the sweep)", self.name, task_id, exc)
        stats.incr("task_failures")  # counted in this process if Redis is the failure


def _is_id_list(value) -> bool:
    return isinstance(value, list) and all(is_id(i) for i in value)


# typing=False: the task checks its arguments itself, so sending skips binding them to its signature.
@shared_task(base=TransientTask, typing=False)
def process_events(events, outbox_ids):
    """Apply a batch of events (wire dicts, eventcache/events.py) to the cache, together with any other delivered
    outbox rows not applied yet (eventcache/consume/apply.py), then mark their outbox rows processed."""
    if not isinstance(events, list) or not _is_id_list(outbox_ids):
        logger.warning(
            "process_events: malformed arguments dropped (events: %s, outbox_ids: %s)",
            type(events).__name__,
            type(outbox_ids).__name__,
        )
        stats.incr(stats.EVENTS_REJECTED)
        return {"events": 0, "rejected": 1}

    valid = []
    for message in events:
        try:
            valid.append(from_dict(message))
        except InvalidEvent as exc:
            logger.warning("event rejected: %s: %.200r", exc, message)
            stats.incr(stats.EVENTS_REJECTED)
    rejected = len(events) - len(valid)

    consumed = consume.apply_message(valid, outbox_ids)
    applied = consumed.events
    now = time.time()
    lags = [lag for event in applied if (lag := lag_ms(event, now)) is not None]  # an implausible `at` has none
    summary = {
        "events": len(events),
        "rejected": rejected,
        "coalesced": consumed.coalesced_rows,
        "already_applied": consumed.already_applied,
        "keys_dropped": consumed.keys_dropped,
        "keys_prewarmed": consumed.keys_prewarmed,
        "lag_ms": max(lags, default=0),
    }
    if consumed.already_applied:
        logger.debug("batch: the %(events)d events were already applied with an earlier batch", summary)
    else:
        logger.info(
            "batch: %(events)d events in (+%(coalesced)d coalesced outbox rows), %(rejected)d rejected, "
            "%(keys_dropped)d keys dropped, %(keys_prewarmed)d keys pre-warmed, lag %(lag_ms)d ms",
            summary,
        )
    return summary


@shared_task(base=TransientTask)
def sweep_outbox():
    """Re-send outbox rows that were never sent or never processed; prune old processed rows."""
    return sweep.sweep()


@shared_task(base=TransientTask)
def refresh_hot_lists():
    """Recompute the hottest shopping lists ahead of their expiry."""
    return warm.run("refresh_hot_lists")  # declared in planner/cache.py


@shared_task(base=TransientTask)
def refresh_preferences():
    """Recompute active users' cached preferences, in chunks, with jittered TTLs."""
    return warm.run("refresh_preferences")
