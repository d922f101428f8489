"""Delivery: events onto pub/sub and the Celery queue, and the claim-then-deliver loop that flush and the sweep run.

    publish(events, covered)     PUBLISH each event on EVENTS_CHANNEL (one pipeline), then send process_events
                                 batches with .apply_async on the project's Celery app
    flush()                      claim every unsent row (marking it sent), drop its primary keys, publish
    claim_and_deliver(queryset)  the same for any set of rows, round by round (the sweep's re-sends)

A failed delivery (Redis or the broker down) rolls the claim back: the rows stay unsent for the sweep or the
outage recovery, and the read path is told that Redis is failing.
"""

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from eventcache import events as schema
from eventcache import tasks
from eventcache.relay import dedup, outbox, signals
from eventcache.store import cluster, invalidation, readthrough

log = logging.getLogger(__name__)

MAX_ROUNDS = 20  # claims per flush or sweep step, so one stays bounded however large the backlog
DELIVERY_ERRORS = (RedisError, BrokerError, OSError)


def _pubsub_client():
    """The cache's own redis-py client, or None when the cache is not Redis (no REDIS_URL)."""
    from django_redis import get_redis_connection

    try:
        return get_redis_connection("default")
    except NotImplementedError:
        return None


def pubsub_messages(events: Sequence[schema.Event]) -> list[tuple[str, str]]:
    """The (channel, message) pairs that put `events` on pub/sub."""
    return [(settings.EVENTS_CHANNEL, schema.encode(event)) for event in events]


def publish(
    events: Sequence[schema.Event], covered: dict[int, list[int]] | None = None, *, on_pubsub: bool = True
) -> None:
    """Every event on pub/sub (one pipeline), then the Celery batches.

    `covered` maps an event id to the outbox ids it stands for (dedup.deduplicate); by default an event covers its
    own id. `on_pubsub=False` when they are on pub/sub already (a request's commit published them with its
    primary-key drop). Raises the Redis/broker error if delivery fails, so the caller keeps the rows unsent."""
    if not events:
        return
    covered = covered or {}
    client = _pubsub_client() if on_pubsub else None
    if client is not None and cluster.on_cluster(client):
        cluster.publish_all(client, pubsub_messages(events))
    elif client is not None:
        pipe = client.pipeline(transaction=False)
        for channel, message in pubsub_messages(events):
            pipe.publish(channel, message)
        pipe.execute()

    size = settings.EVENT_BATCH_SIZE
    # Without a broker (no REDIS_URL) the app runs tasks eagerly (CELERY_TASK_ALWAYS_EAGER): applied right here.
    with tasks.process_events.app.producer_or_acquire() as producer:
        for start in range(0, len(events), size):
            batch = events[start : start + size]
            ids = [outbox_id for event in batch for outbox_id in covered.get(event.id, [event.id])]
            tasks.process_events.apply_async(
                args=[[schema.to_dict(event) for event in batch], ids],
                producer=producer,
                # What logs and monitors show for the message; without it Celery builds a repr of the arguments
                # on every send.
                argsrepr=f"[{len(batch)} event(s), outbox ids {ids[0]}..{ids[-1]}]"
                if ids
                else f"[{len(batch)} event(s)]",
                kwargsrepr="{}",
                ignore_result=True,
                add_to_parent=False,
            )


def note_outage(exc: Exception) -> None:
    """Tell the read path Redis is failing: its first read after Redis answers again then runs the recovery
    (eventcache/relay/recovery.py) before serving anything cached before the outage."""
    readthrough.note_redis_error(exc)


def _deliver(rows: list[outbox.OutboxRow], *, drop_primary_keys: bool, sender: str) -> None:
    """Publish claimed rows (marked sent by the claim); runs inside the claim's transaction."""
    signals.delivering.send(sender=sender, rows=rows)
    events, covered = dedup.deduplicate(rows)
    if drop_primary_keys and events:
        invalidation.drop_primary_keys(events)
    publish(events, covered)
    valid = {outbox_id for ids in covered.values() for outbox_id in ids}
    outbox.close([row.id for row in rows if row.id not in valid])


def claim_and_deliver(queryset: QuerySet, *, drop_primary_keys: bool, what: str, sender: str = "sweep") -> int:
    """Claim up to MAX_ROUNDS * CLAIM_LIMIT rows of `queryset` round by round; return how many were delivered.

    If Redis or the broker is down, the round's transaction rolls back: its rows stay as they were for the sweep
    or the outage recovery, and nothing is raised (the writes themselves are committed)."""
    delivered = 0
    for _ in range(MAX_ROUNDS):
        rows: list[outbox.OutboxRow] = []
        try:
            with transaction.atomic():
                rows = outbox.claim(queryset)
                if rows:
                    _deliver(rows, drop_primary_keys=drop_primary_keys, sender=sender)
        except DELIVERY_ERRORS as exc:
            log.warning("events not delivered (%s), %d row(s) kept in the outbox for later: %s", what, len(rows), exc)
            note_outage(exc)
            break
        delivered += len(rows)
        if len(rows) < outbox.CLAIM_LIMIT:
            break
    return delivered


def flush() -> int:
    """Deliver every unsent row now, dropping their primary keys first. Safe to call any time."""
    return claim_and_deliver(outbox.unsent(), drop_primary_keys=True, what="flush", sender="commit")
