"""After a commit that wrote outbox rows: deliver them now, or, inside an HTTP request, after the response.

    after_commit()          registered on commit by the write watcher (watcher.py)
    request_started/finished  Django's request signals (connected in eventcache/apps.py)

Inside a request the request pays only for one Redis round trip dropping the keys its rows name, so the writer
reads its own write; the events go on pub/sub in that same round trip, right after the drop, so the worker's pub/sub
listener starts dropping every key they touch at once (eventcache/consume/listener.py). PostgreSQL hands the
connection the rows it wrote in the writes' own responses (notices.py); where it could not, one indexed SELECT
finds them (the outbox's writer_pid is the backend pid, known without a query). The Celery send runs when the
response has been handed to the client (request_finished), still in this process, and the rows are marked sent
after that; the Celery task applies the events again from the outbox, which is the guarantee. The callbacks only
live in memory: if the process dies between commit and delivery, the rows stay unsent and the sweep delivers them
(at least once; handling is idempotent).
"""

import logging
import threading

from django.db import connection

from eventcache.relay import dedup, notices, outbox, publish, signals
from eventcache.store import invalidation

log = logging.getLogger(__name__)


class _RequestState(threading.local):
    active = False  # inside an HTTP request
    rows: dict[int, outbox.OutboxRow]  # the unsent rows its commits wrote
    on_pubsub: set[int]  # ids of those whose events were published at commit (with the key drop)

    def __init__(self) -> None:
        self.reset()

    def reset(self, *, active: bool = False) -> None:
        self.active, self.rows, self.on_pubsub = active, {}, set()


_request = _RequestState()


def after_commit() -> int:
    """Outside a request: flush() now. Inside one: find the rows this connection wrote and nobody sent yet, drop the
    keys they name now (the response must not be older than the write) and keep them for request_finished, which
    sends them after the response is out. Returns how many rows were delivered, or found."""
    if not _request.active:
        notices.forget(connection)  # flush() claims every unsent row itself
        return publish.flush()
    rows = notices.take(connection)  # handed over in the writes' own responses; else one indexed look-up
    if rows is None:
        rows = outbox.own_unsent_rows(_backend_pid())
    if not rows:
        return 0
    signals.delivering.send(sender="commit", rows=rows)
    _request.rows.update((row.id, row) for row in rows)
    events, _ = dedup.deduplicate(rows)
    if events:
        try:
            # The events go on pub/sub in the same round trip, right after the drop: the worker's listener starts
            # on the dependents now, and the delivery after the response is only the Celery send and the mark.
            invalidation.drop_primary_keys(events, then_publish=publish.pubsub_messages(events))
            _request.on_pubsub.update(row.id for row in rows)
        except publish.DELIVERY_ERRORS as exc:
            log.warning("primary keys of %d event(s) not dropped: %s", len(events), exc)
            publish.note_outage(exc)
    return len(rows)


def _backend_pid() -> int | None:
    """This connection's PostgreSQL backend pid (the outbox's writer_pid of the rows it writes); no query."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return None
    return connection.connection.info.backend_pid


def request_started(**kwargs) -> None:
    _request.reset(active=True)


def request_finished(**kwargs) -> None:
    """The response has been sent: publish what this request's commits wrote, then mark it sent (errors are logged,
    never raised: unsent rows are the sweep's)."""
    rows, on_pubsub = list(_request.rows.values()), _request.on_pubsub
    _request.reset()
    if not rows:
        return
    try:
        _send_then_mark(rows, on_pubsub=not on_pubsub.issuperset(row.id for row in rows))
    except Exception:  # the rows stay unsent; the sweep delivers them
        log.exception("delivering events after the response failed; the outbox sweep will send them")


def _send_then_mark(rows: list[outbox.OutboxRow], *, on_pubsub: bool) -> None:
    """Send first, so nothing stands between the response and the worker; then mark the rows sent, skipping any a
    worker is already applying (it marks them processed). Dying in between only means the sweep sends them again.
    `on_pubsub=False`: their events were published at commit already."""
    events, covered = dedup.deduplicate(rows)
    try:
        publish.publish(events, covered, on_pubsub=on_pubsub)
    except publish.DELIVERY_ERRORS as exc:
        log.warning("events not delivered (after the response), %d row(s) kept in the outbox: %s", len(rows), exc)
        publish.note_outage(exc)
        return
    valid = {outbox_id for ids in covered.values() for outbox_id in ids}
    outbox.mark_sent([row.id for row in rows if row.id in valid])
    outbox.close([row.id for row in rows if row.id not in valid])
