"""The relay: from outbox rows to Redis, right after commit, and again from the sweep if that failed.

    after_commit()               on commit of a write to captured tables: in a request, drop the primary
                                 keys now (read-your-writes) and PUBLISH, and send to the queue after the
                                 response is sent; elsewhere, flush() at once
    flush()                      claim unsent rows and mark them sent (one UPDATE ... RETURNING), drop
                                 their primary keys, publish
    publish(events, covered)     PUBLISH each event on EVENTS_CHANNEL and send process_events batches
    sweep()                      beat: deliver rows the writer never sent, re-send unconfirmed ones, prune
    mark_processed(outbox_ids)   the worker confirms a batch
    mark_dropped({id: at})       the worker's pub/sub listener dropped their keys
    recover_after_outage()       apply every pending event inline when Redis comes back

Writes are noticed by a connection execute-wrapper (installed by eventcache/apps.py) that registers
`after_commit` on commit once per transaction. Inside an HTTP request (request_started/request_finished,
connected in eventcache/apps.py) the request pays only for one indexed SELECT of the rows its own connection
wrote (the outbox's writer_pid is the backend pid, known without a query) and one Redis round trip dropping
the keys they name, so the writer reads its own write; the events go on pub/sub in that same round trip, right
after the drop, so the worker's pub/sub listener starts dropping every key they touch at once
(eventcache/consume/listener.py). The Celery send runs when the response has been handed to the client (request_finished),
still in the same process, and the rows are marked sent after that; the Celery task applies the events again
from the outbox, which is the guarantee. The callbacks only live in memory: if the process dies between commit
and delivery, the rows stay unsent and the sweep delivers them (at least once; handling is idempotent).

The relay's own bookkeeping transactions (claim, mark processed) commit with synchronous_commit off on
PostgreSQL: losing one in a database crash only means a row is sent or applied again, which is harmless,
and not waiting for the WAL flush saves the disk's fsync on every write.

Tasks are sent with eventcache.tasks.process_events.apply_async, on the project's one Celery app.

(Over the ~300-line budget: this module is split by job into eventcache/relay/ in a later step of issue 11.)
"""

import functools
import json
import logging
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from eventcache import declare
from eventcache import events as schema
from eventcache.models import OutboxEvent

log = logging.getLogger(__name__)

CLAIM_LIMIT = 5000  # outbox rows per claim; also bounds the ids one Celery message covers
ID_CHUNK = 5000  # ids per UPDATE/DELETE ... WHERE id IN (...)
MAX_SWEEP_ROUNDS = 20  # claims per sweep, so one sweep stays bounded however large the backlog
# After a prune this large, a plain VACUUM makes the freed space reusable, so the table stays bounded even on
# a server whose autovacuum is off or lagging (bench: 1M events grew it to 419 MiB without this).
VACUUM_AFTER_PRUNED = 1_000
# Every row is updated twice (sent, processed), leaving dead versions that the outbox's indexes keep pointing
# at until a vacuum; on a server whose autovacuum is off or behind, the sweep also vacuums at this interval so
# the look-ups of unsent rows stay short (a VACUUM of the small live table costs milliseconds).
VACUUM_EVERY_SECONDS = 60.0
_last_vacuum = float("-inf")  # time.monotonic() of this process's last VACUUM
DELIVERY_ERRORS = (RedisError, BrokerError, OSError)


def _pubsub_client():
    """The cache's own redis-py client, or None when the cache is not Redis (no REDIS_URL)."""
    from django_redis import get_redis_connection

    try:
        return get_redis_connection("default")
    except NotImplementedError:
        return None


# --- Publishing ------------------------------------------------------------------------------------------


def pubsub_messages(events: list[schema.Event]) -> list[tuple[str, bytes]]:
    """The (channel, message) pairs that put `events` on pub/sub."""
    return [(settings.EVENTS_CHANNEL, schema.encode(event)) for event in events]


def publish(events: list[schema.Event], covered: dict[int, list[int]] | None = None, *, on_pubsub: bool = True) -> None:
    """The single publish entry point: every event on pub/sub (one pipeline), then the Celery batches.

    `covered` maps an event id to the outbox ids it stands for (after de-duplication); by default an
    event covers its own id. `on_pubsub=False` when they are on pub/sub already (a request's commit published
    them with its primary-key drop). Raises the Redis/broker error if delivery fails, so the caller keeps the
    rows unsent."""
    if not events:
        return
    covered = covered or {}
    client = _pubsub_client() if on_pubsub else None
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for channel, message in pubsub_messages(events):
            pipe.publish(channel, message)
        pipe.execute()

    from eventcache import tasks  # tasks imports this module (until the relay is split by job)

    size = settings.EVENT_BATCH_SIZE
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    # Without a broker (no REDIS_URL) the app runs tasks eagerly: the batch is applied right here.
    with tasks.process_events.app.producer_or_acquire() as producer:
        for batch in batches:
            ids = _ids_of(batch, covered)
            tasks.process_events.apply_async(
                args=[[schema.to_dict(e) for e in batch], ids],
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


def _ids_of(batch, covered) -> list[int]:
    return [outbox_id for event in batch for outbox_id in covered.get(event.id, [event.id])]


def _event_of(row: OutboxEvent) -> schema.Event:
    return schema.from_dict(
        {"v": schema.SCHEMA_VERSION, "id": row.id, "kind": row.kind, "at": row.created_at.timestamp(), "data": row.data}
    )


def deduplicate(rows) -> tuple[list[schema.Event], dict[int, list[int]]]:
    """One event per distinct (kind, data), in first-seen order; the survivor covers every row it stands for.

    A row that is not a valid event (it cannot happen with the triggers, but the table is writable) is
    logged and covered by no event."""
    survivors: dict[tuple, schema.Event] = {}
    covered: dict[int, list[int]] = {}
    for row in rows:
        try:
            event = _event_of(row)
        except schema.InvalidEvent as exc:
            log.error("outbox row %s is not a valid event, skipped: %s", row.id, exc)
            continue
        key = (row.kind, tuple(sorted(row.data.items())))
        survivor = survivors.setdefault(key, event)
        covered.setdefault(survivor.id, []).append(row.id)
    return list(survivors.values()), covered


def _deliver(rows, *, drop_primary_keys: bool) -> None:
    """Publish claimed rows (already marked sent by the claim); runs inside the claim's transaction, so if
    delivery fails the claim rolls back and the rows stay unsent."""
    _crash_if_testing()
    events, covered = deduplicate(rows)
    if drop_primary_keys and events:
        from eventcache.store import invalidation

        invalidation.drop_primary_keys(events)
    publish(events, covered)
    valid = {outbox_id for ids in covered.values() for outbox_id in ids}
    # Invalid rows can never be applied: close them now rather than re-send them forever.
    update_in_chunks([row.id for row in rows if row.id not in valid], processed_at=Now())


_ROW_COLUMNS = ("id", "kind", "data", "created_at", "sent_at", "attempts", "processed_at")


def _claim(queryset, limit=CLAIM_LIMIT) -> list[OutboxEvent]:
    """Lock, mark sent and return up to `limit` rows of `queryset` in one statement (UPDATE ... RETURNING),
    skipping rows another relay holds."""
    inner = queryset.select_for_update(skip_locked=True).order_by("id").values("id")[:limit]
    inner_sql, inner_params = inner.query.sql_with_params()
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    returning = ", ".join(f"{table}.{column}" for column in _ROW_COLUMNS)
    if connection.vendor == "postgresql":
        # `id = ANY(ARRAY(subquery))`: the locking subquery is an InitPlan, run once, and the update is index
        # look-ups of its ids. Written as `id IN (subquery)` or as a join with a CTE, a planner with stale
        # statistics (the outbox looked empty when last analyzed) picks a nested loop over the whole table -
        # minutes for a 100k-row backlog.
        sql = (
            f"UPDATE {table} SET sent_at = %s, attempts = attempts + 1 WHERE id = ANY(ARRAY({inner_sql})) "
            f"RETURNING {returning}"
        )
    else:
        sql = (
            f"UPDATE {table} SET sent_at = %s, attempts = attempts + 1 WHERE id IN ({inner_sql}) RETURNING {returning}"
        )
    params = (timezone.now(), *inner_params)
    rows = list(OutboxEvent.objects.raw(sql, params))
    rows.sort(key=lambda row: row.id)
    return rows


def _crash_if_testing() -> None:
    if settings.EVENTS_CRASH_BEFORE_PUBLISH:
        # Test hook (tests/faults/test_web_crash_after_commit.py): die after the write committed and
        # before anything reached Redis, so only the sweep can deliver these rows.
        os.kill(os.getpid(), signal.SIGKILL)


def relax_commit_durability() -> None:
    """For the current transaction only: commit without waiting for the WAL flush (PostgreSQL). Only for the
    relay's bookkeeping, whose loss in a database crash means a harmless re-send."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim_and_deliver(queryset, *, drop_primary_keys: bool, what: str) -> int:
    """Claim up to MAX_SWEEP_ROUNDS * CLAIM_LIMIT rows round by round; return how many were delivered.

    If Redis or the broker is down, the round's transaction rolls back: its rows stay as they were for
    the sweep or the outage recovery, and nothing is raised (the writes themselves are committed)."""
    delivered = 0
    for _ in range(MAX_SWEEP_ROUNDS):
        rows = []
        try:
            with transaction.atomic():
                relax_commit_durability()
                rows = _claim(queryset)
                if rows:
                    _deliver(rows, drop_primary_keys=drop_primary_keys)
        except DELIVERY_ERRORS as exc:
            log.warning("events not delivered (%s), %d row(s) kept in the outbox for later: %s", what, len(rows), exc)
            _note_outage(exc)
            break
        delivered += len(rows)
        if len(rows) < CLAIM_LIMIT:
            break
    return delivered


def _note_outage(exc) -> None:
    """Tell the read path Redis is failing: its first read after Redis answers again then runs the recovery
    (recover_after_outage) before serving anything cached before the outage."""
    from eventcache.store import readthrough

    readthrough.note_redis_error(exc)


# --- The three ways rows leave the outbox ----------------------------------------------------------------


def _unsent():
    return OutboxEvent.objects.filter(sent_at__isnull=True, processed_at__isnull=True)


def flush() -> int:
    """Deliver every unsent row now, dropping their primary keys first. Safe to call any time."""
    return _claim_and_deliver(_unsent(), drop_primary_keys=True, what="flush")


# --- After a commit: now, or after the response -----------------------------------------------------------

_request = threading.local()  # .active: inside an HTTP request; .rows: {id: row} its commits wrote, unsent


def after_commit() -> int:
    """Registered on commit by the write watcher. Outside a request: flush() now. Inside one: find the rows
    this connection wrote and nobody sent yet, drop the keys they name now (the response must not be older
    than the write) and keep them for request_finished, which sends them after the response is out.
    Returns how many rows were delivered, or found."""
    if not getattr(_request, "active", False):
        return flush()
    rows = _own_unsent_rows()
    if not rows:
        return 0
    _crash_if_testing()
    _request.rows.update((row.id, row) for row in rows)
    events, _ = deduplicate(rows)
    if events:
        from eventcache.store import invalidation

        try:
            # The events go on pub/sub in the same round trip, right after the drop: the worker's listener starts
            # on the dependents now, and the delivery after the response is only the Celery send and the mark.
            invalidation.drop_primary_keys(events, then_publish=pubsub_messages(events))
            _request.on_pubsub.update(row.id for row in rows)
        except DELIVERY_ERRORS as exc:
            log.warning("primary keys of %d event(s) not dropped: %s", len(events), exc)
            _note_outage(exc)
    return len(rows)


def _backend_pid() -> int | None:
    """This connection's PostgreSQL backend pid (the outbox's writer_pid of the rows it writes); no query."""
    if connection.vendor != "postgresql" or connection.connection is None:
        return None
    return connection.connection.info.backend_pid


@dataclass(frozen=True)
class OutboxRow:
    """An outbox row as plain values, for the hot paths that read many rows or read them often (building model
    instances costs more than the query there). `data_text` is the JSON as stored: the database writes equal
    data as equal text."""

    id: int
    kind: str
    data_text: str
    created_at: datetime

    @property
    def data(self) -> dict:
        return json.loads(self.data_text)


def select_rows(sql: str, params) -> list[OutboxRow]:
    """Run a SELECT of `id, kind, data, created_at` on the outbox and return OutboxRows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [
        OutboxRow(id_, kind, data if isinstance(data, str) else json.dumps(data), _aware(created))
        for id_, kind, data, created in found
    ]


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands back the stored text
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _own_unsent_rows() -> list[OutboxRow]:
    """One indexed SELECT in plain SQL. Without a writer pid (SQLite) every unsent row counts as our own."""
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    pid = _backend_pid()
    mine, params = ("AND writer_pid = %s ", [pid]) if pid is not None else ("", [])
    return select_rows(
        f"SELECT id, kind, data, created_at FROM {table} WHERE sent_at IS NULL AND processed_at IS NULL {mine}ORDER BY id LIMIT %s",
        [*params, CLAIM_LIMIT],
    )


def request_started(**kwargs) -> None:
    _request.active = True
    _request.rows = {}
    _request.on_pubsub = set()  # ids of the rows whose events were published at commit (with the key drop)


def request_finished(**kwargs) -> None:
    """The response has been sent: publish what this request's commits wrote, then mark it sent (errors are
    logged, never raised: unsent rows are the sweep's)."""
    rows = list(getattr(_request, "rows", {}).values())
    on_pubsub = getattr(_request, "on_pubsub", set())
    _request.active, _request.rows, _request.on_pubsub = False, {}, set()
    if not rows:
        return
    try:
        _send_then_mark(rows, on_pubsub=not on_pubsub.issuperset(row.id for row in rows))
    except Exception:  # the rows stay unsent; the sweep delivers them
        log.exception("delivering events after the response failed; the outbox sweep will send them")


def _send_then_mark(rows: list[OutboxRow], *, on_pubsub: bool = True) -> None:
    """Send first, so nothing stands between the response and the worker; then mark the rows sent, skipping any
    a worker is already applying (it marks them processed). Dying in between only means the sweep sends them
    again. `on_pubsub=False`: their events were published at commit already."""
    events, covered = deduplicate(rows)
    try:
        publish(events, covered, on_pubsub=on_pubsub)
    except DELIVERY_ERRORS as exc:
        log.warning("events not delivered (after the response), %d row(s) kept in the outbox: %s", len(rows), exc)
        _note_outage(exc)
        return
    valid = {outbox_id for ids in covered.values() for outbox_id in ids}
    _mark_sent([row.id for row in rows if row.id in valid])
    update_in_chunks([row.id for row in rows if row.id not in valid], processed_at=Now())


def _mark_sent(ids: list[int]) -> None:
    """One statement, one round trip: mark the rows sent unless a worker holds them (it is applying them).
    On PostgreSQL the statement runs as its own transaction with synchronous_commit off (both statements go in
    one simple-query message, which PostgreSQL runs as one implicit transaction)."""
    if not ids:
        return
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Plain integers formatted in: the simple-query protocol that allows two statements takes no parameters.
        id_list = ",".join(str(int(i)) for i in ids)
        sql = (
            "SET LOCAL synchronous_commit TO OFF; "
            f"UPDATE {table} SET sent_at = statement_timestamp(), attempts = attempts + 1 WHERE id = ANY(ARRAY("
            f"SELECT id FROM {table} WHERE id IN ({id_list}) AND sent_at IS NULL AND processed_at IS NULL "
            "FOR UPDATE SKIP LOCKED))"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
        return
    _claim(_unsent().filter(id__in=ids))


def mark_dropped(dropped: dict[int, float]) -> set[int]:
    """The worker's pub/sub listener dropped the keys of these rows (outbox id -> time.time() of the drop;
    eventcache/consume/listener.py); returns the ids marked. One statement, committed with synchronous_commit off like the
    relay's other bookkeeping. A row already marked keeps its first time; a row a batch holds is skipped, never
    waited for (waiting could deadlock with that batch's claim; the listener tries it again later)."""
    if not dropped:
        return set()
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    with transaction.atomic():
        relax_commit_durability()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} AS o SET dropped_at = to_timestamp(d.at) FROM unnest(%s::bigint[], %s::float8[]) "
                    f"AS d(id, at) WHERE o.id = d.id AND o.id = ANY(ARRAY(SELECT id FROM {table} WHERE id = ANY(%s) "
                    "AND dropped_at IS NULL FOR UPDATE SKIP LOCKED)) RETURNING o.id",
                    [list(dropped), list(dropped.values()), list(dropped)],
                )
                return {row[0] for row in cursor.fetchall()}
            marked = set()
            for outbox_id, at in dropped.items():
                at_time = datetime.fromtimestamp(at, tz=UTC)
                if OutboxEvent.objects.filter(id=outbox_id, dropped_at__isnull=True).update(dropped_at=at_time):
                    marked.add(outbox_id)
            return marked


def sweep() -> dict[str, int]:
    """Deliver rows nobody sent, re-send rows nobody confirmed, prune old processed rows."""
    now = timezone.now()
    unsent = _unsent().filter(created_at__lt=now - timedelta(seconds=settings.OUTBOX_UNSENT_GRACE_SECONDS))
    unconfirmed = OutboxEvent.objects.filter(
        processed_at__isnull=True, sent_at__lt=now - timedelta(seconds=settings.OUTBOX_RESEND_AFTER_SECONDS)
    )
    counts = {
        "sent": _claim_and_deliver(unsent, drop_primary_keys=False, what="sweep"),
        "resent": _claim_and_deliver(unconfirmed, drop_primary_keys=False, what="sweep re-send"),
        "pruned": _prune(now - timedelta(seconds=settings.OUTBOX_RETENTION_SECONDS)),
    }
    if counts["sent"] or counts["resent"]:
        log.info("outbox sweep: %(sent)d sent, %(resent)d re-sent, %(pruned)d pruned", counts)
    return counts


def _prune(older_than) -> int:
    pruned = 0
    for _ in range(MAX_SWEEP_ROUNDS):
        ids = list(
            OutboxEvent.objects.filter(processed_at__lt=older_than).order_by().values_list("id", flat=True)[:ID_CHUNK]
        )
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
        cursor.execute(f"VACUUM {OutboxEvent._meta.db_table}")


def mark_processed(outbox_ids) -> int:
    """The cache has applied these rows' events (called by the worker after apply_events)."""
    with transaction.atomic():
        relax_commit_durability()
        return update_in_chunks(list(outbox_ids), processed_at=Now(), only_unprocessed=True)


def update_in_chunks(ids: list[int], *, only_unprocessed=False, **changes) -> int:
    queryset = OutboxEvent.objects.filter(processed_at__isnull=True) if only_unprocessed else OutboxEvent.objects
    return sum(queryset.filter(id__in=ids[i : i + ID_CHUNK]).update(**changes) for i in range(0, len(ids), ID_CHUNK))


def recover_after_outage() -> int:
    """Apply every unprocessed event inline, oldest first, in chunks; returns how many rows were applied.

    Called when Redis answers again (eventcache.store.readthrough), so entries cached before the outage are
    dropped before anyone can read them, without waiting for the broker round trip."""
    from eventcache.store.invalidation import apply_events

    applied = 0
    last_id = 0
    while True:
        rows = list(OutboxEvent.objects.filter(processed_at__isnull=True, id__gt=last_id).order_by("id")[:CLAIM_LIMIT])
        if not rows:
            break
        events, _ = deduplicate(rows)
        apply_events(events)
        ids = [row.id for row in rows]
        update_in_chunks(ids, processed_at=Now(), sent_at=Now())
        applied += len(ids)
        last_id = ids[-1]
    if applied:
        log.info("Redis is back: applied %d pending outbox event(s) inline", applied)
    return applied


# --- Noticing writes: an execute-wrapper on every database connection ------------------------------------


@functools.lru_cache(maxsize=4)
def _captured_write(domain: declare.Domain) -> re.Pattern:
    """Matches only the head of a write to one of the domain's captured tables: one anchored regex match per query."""
    tables = "|".join(map(re.escape, domain.captured_tables))
    return re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?(?:" + tables + r")\b", re.IGNORECASE)


_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def notice_writes(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if isinstance(sql, str) and _captured_write(declare.domain()).match(sql):
        schedule_flush(context["connection"], sql)
    return result


def schedule_flush(connection, sql="") -> None:
    """after_commit() once after this transaction commits; right away in autocommit (the write is committed)."""
    if connection.in_atomic_block:
        if not any(func is after_commit for _, func, _ in connection.run_on_commit):
            connection.on_commit(after_commit, robust=True)
    elif not connection.get_autocommit():
        return  # manual transaction management (set_autocommit(False)): no commit hook exists; the sweep delivers
    elif connection.vendor == "sqlite" and _RETURNING.search(sql):
        # SQLite steps INSERT ... RETURNING lazily: the statement (and its implicit transaction) is still
        # open until Django fetches the row, so flushing now would break the write. Left to the next
        # flush or the sweep (OUTBOX_UNSENT_GRACE_SECONDS); PostgreSQL has the result in hand already.
        return
    else:
        connection.on_commit(after_commit, robust=True)  # in autocommit this runs it now


def install_write_watcher(sender=None, connection=None, **kwargs) -> None:
    """connection_created receiver. Inserted first so that code popping its own temporary wrapper
    (`with connection.execute_wrapper(...)`) never pops this one."""
    if notice_writes not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, notice_writes)
