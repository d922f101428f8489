"""The outbox's SQL: every statement the relay, the sweep and the worker run on events_outbox, in one module.

On PostgreSQL the statements are built with psycopg.sql (the table an Identifier, every value a parameter) and run
on Django's connection; the SQLite fallback (development without DATABASE_URL) goes through the ORM.

    OutboxRow                       a row as plain values (building model instances costs more than the query)
    own_unsent_rows(pid)            the rows a connection's commits wrote that nobody sent (a request's commit,
                                    when the writer's notices did not hand them over: relay/notices.py)
    claim(queryset)                 lock, mark sent and return rows in one statement (flush, sweep)
    claim_for_batch(ids, limit)     the worker: a message's rows plus other delivered, unapplied ones
    mark_sent / mark_processed / mark_dropped / close / rows_of
    relaxed(statement)              synchronous_commit off for the statement's transaction

The relay's bookkeeping (claim, marks) commits with synchronous_commit off: losing one in a database crash only
means a row is sent or applied again, which is harmless, and not waiting for the WAL flush saves an fsync per mark.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg import sql

from eventcache.models import OutboxEvent

CLAIM_LIMIT = 5000  # outbox rows per claim; also bounds the ids one Celery message covers
ID_CHUNK = 5000  # ids per ORM UPDATE ... WHERE id IN (...) (SQLite bounds the parameters of a statement)

TABLE = sql.Identifier(OutboxEvent._meta.db_table)
ROW_FIELDS = ("id", "kind", "data", "created_at", "xid")
_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, ROW_FIELDS))
_RELAX = sql.SQL("; SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class OutboxRow:
    """An outbox row as plain values. `data_text` is the JSON as stored: the database writes equal data as equal
    text, which is what de-duplication compares."""

    id: int
    kind: str
    data_text: str
    created_at: datetime
    xid: int | None = None  # the writing transaction's id (PostgreSQL); None on SQLite

    @property
    def data(self) -> dict:
        return json.loads(self.data_text)


def _row(id_: int, kind: str, data, created, xid: int | None = None) -> OutboxRow:
    if isinstance(created, str):  # SQLite hands back the stored text
        created = parse_datetime(created)
    created = timezone.make_aware(created, UTC) if timezone.is_naive(created) else created
    return OutboxRow(id_, kind, data if isinstance(data, str) else json.dumps(data), created, xid)


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def relaxed(statement: sql.Composable) -> sql.Composable:
    """`statement`, followed in the same message by SET LOCAL synchronous_commit TO OFF: its transaction (the atomic
    block around it, or the implicit one PostgreSQL runs a several-statement message in) commits without waiting for
    the WAL flush, at no extra round trip. The cursor stays on the statement's result (psycopg positions it on the
    first). Several statements with parameters in one message need client-side binding, Django's default for
    psycopg 3; with OPTIONS server_side_binding on, the statement runs alone and commits durably."""
    if connection.settings_dict["OPTIONS"].get("server_side_binding"):
        return statement
    return sql.Composed([statement, _RELAX])


def _fetch(statement: sql.Composable, params: list) -> list[OutboxRow]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [_row(*found) for found in cursor.fetchall()]


def _execute(statement: sql.Composable, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def rows_of(queryset: QuerySet) -> list[OutboxRow]:
    """The rows of an (ordered) queryset of outbox events."""
    return [_row(*found) for found in queryset.values_list(*ROW_FIELDS)]


def unsent() -> QuerySet:
    return OutboxEvent.objects.filter(sent_at__isnull=True, processed_at__isnull=True)


_OWN_UNSENT = sql.SQL(
    "SELECT {columns} FROM {table} WHERE sent_at IS NULL AND processed_at IS NULL AND writer_pid = %s "
    "ORDER BY id LIMIT %s"
).format(columns=_COLUMNS, table=TABLE)


def own_unsent_rows(pid: int | None) -> list[OutboxRow]:
    """One indexed SELECT (the request's commit pays for it). Without a writer pid (SQLite) every unsent row counts."""
    if pid is None:
        return rows_of(unsent().order_by("id")[:CLAIM_LIMIT])
    return _fetch(_OWN_UNSENT, [pid, CLAIM_LIMIT])


def claim(queryset: QuerySet, limit: int = CLAIM_LIMIT) -> list[OutboxRow]:
    """Lock, mark sent and return up to `limit` rows of `queryset`, oldest first, skipping rows another relay holds.
    Runs in the caller's transaction: if delivery fails, its rollback leaves the rows unsent."""
    now = timezone.now()
    if not _postgresql():  # one writer at a time (IMMEDIATE transactions): no row locks to skip
        ids = list(queryset.order_by("id").values_list("id", flat=True)[:limit])
        OutboxEvent.objects.filter(id__in=ids).update(sent_at=now, attempts=F("attempts") + 1)
        return rows_of(OutboxEvent.objects.filter(id__in=ids).order_by("id"))
    inner = queryset.select_for_update(skip_locked=True).order_by("id").values("id")[:limit]
    inner_sql, inner_params = inner.query.sql_with_params()
    # `id = ANY(ARRAY(subquery))`: the locking subquery is an InitPlan, run once, and the update is index look-ups
    # of its ids. As `id IN (subquery)` or a join with a CTE, a planner with stale statistics (the outbox looked
    # empty when last analyzed) picks a nested loop over the whole table.
    statement = sql.SQL(
        "UPDATE {table} SET sent_at = %s, attempts = attempts + 1 WHERE id = ANY(ARRAY({inner})) RETURNING {columns}"
    ).format(table=TABLE, inner=sql.SQL(inner_sql), columns=_COLUMNS)
    return sorted(_fetch(relaxed(statement), [now, *inner_params]), key=lambda row: row.id)


_MARK_SENT = sql.SQL(
    "UPDATE {table} SET sent_at = statement_timestamp(), attempts = attempts + 1 WHERE id = ANY(ARRAY("
    "SELECT id FROM {table} WHERE id = ANY(%s) AND sent_at IS NULL AND processed_at IS NULL FOR UPDATE SKIP LOCKED))"
).format(table=TABLE)


def mark_sent(ids: list[int]) -> None:
    """One statement, one round trip: mark the rows sent unless a worker holds them (it is applying them)."""
    if not ids:
        return
    if _postgresql():
        _execute(relaxed(_MARK_SENT), [ids])
    else:
        unsent().filter(id__in=ids).update(sent_at=Now(), attempts=F("attempts") + 1)


_MARK_PROCESSED = sql.SQL("UPDATE {table} SET processed_at = %s WHERE id = ANY(%s) AND processed_at IS NULL").format(
    table=TABLE
)


def mark_processed(ids: list[int]) -> int:
    """The cache has applied these rows' events (the worker, inside its batch's transaction); returns how many rows
    were not marked yet."""
    if not ids:
        return 0
    if _postgresql():
        return _execute(relaxed(_MARK_PROCESSED), [timezone.now(), ids])
    return update_in_chunks(ids, only_unprocessed=True, processed_at=timezone.now())


def close(ids: list[int]) -> None:
    """Rows that are not valid events can never be applied: mark them processed rather than re-send them forever."""
    update_in_chunks(ids, processed_at=Now())


def update_in_chunks(ids: list[int], *, only_unprocessed: bool = False, **changes) -> int:
    queryset = OutboxEvent.objects.filter(processed_at__isnull=True) if only_unprocessed else OutboxEvent.objects.all()
    return sum(queryset.filter(id__in=ids[i : i + ID_CHUNK]).update(**changes) for i in range(0, len(ids), ID_CHUNK))


_MARK_DROPPED = sql.SQL(
    "UPDATE {table} AS o SET dropped_at = to_timestamp(d.at) FROM unnest(%s::bigint[], %s::float8[]) AS d(id, at) "
    "WHERE o.id = d.id AND o.id = ANY(ARRAY(SELECT id FROM {table} WHERE id = ANY(%s) AND dropped_at IS NULL "
    "FOR UPDATE SKIP LOCKED)) RETURNING o.id"
).format(table=TABLE)


def mark_dropped(dropped: dict[int, float]) -> set[int]:
    """The worker's pub/sub listener dropped the keys of these rows (outbox id -> time.time() of the drop); returns
    the ids marked. A row already marked keeps its first time; a row a batch holds is skipped, never waited for
    (waiting could deadlock with that batch's claim; the listener tries it again later)."""
    if not dropped:
        return set()
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(relaxed(_MARK_DROPPED), [list(dropped), list(dropped.values()), list(dropped)])
            return {found[0] for found in cursor.fetchall()}
    marked = set()
    for outbox_id, at in dropped.items():
        at_time = datetime.fromtimestamp(at, tz=UTC)
        if OutboxEvent.objects.filter(id=outbox_id, dropped_at__isnull=True).update(dropped_at=at_time):
            marked.add(outbox_id)
    return marked


_BATCH_OWN = sql.SQL(
    "SELECT {columns} FROM {table} WHERE id = ANY(%s) AND processed_at IS NULL ORDER BY id FOR UPDATE"
).format(columns=_COLUMNS, table=TABLE)
_BATCH_EXTRA = sql.SQL(
    "SELECT {columns} FROM {table} WHERE sent_at IS NOT NULL AND processed_at IS NULL ORDER BY id LIMIT %s "
    "FOR UPDATE SKIP LOCKED"
).format(columns=_COLUMNS, table=TABLE)
_BATCH_BOTH = sql.SQL("WITH own AS ({own}), extra AS ({extra}) SELECT * FROM own UNION ALL SELECT * FROM extra").format(
    own=_BATCH_OWN, extra=_BATCH_EXTRA
)


def claim_for_batch(outbox_ids: list[int], limit: int) -> list[OutboxRow]:
    """The worker's claim, in its batch's transaction: lock and return the message's unapplied rows, then up to
    `limit` other delivered, unapplied rows, oldest first. The message's rows are waited for: the relay may have
    sent the message before its claim committed, so they can still be locked by it for a moment (or by a worker
    applying them, after which they are processed). The other rows are taken only if nobody holds them (SKIP
    LOCKED): this never waits on a batch. On PostgreSQL both are one statement (two locking CTEs)."""
    if not _postgresql():
        own = rows_of(OutboxEvent.objects.filter(id__in=outbox_ids, processed_at__isnull=True)) if outbox_ids else []
        extra = OutboxEvent.objects.filter(sent_at__isnull=False, processed_at__isnull=True).order_by("id")
        rows = own + (rows_of(extra[:limit]) if limit > 0 else [])
    elif outbox_ids and limit > 0:
        rows = _fetch(_BATCH_BOTH, [outbox_ids, limit])
    elif outbox_ids:
        rows = _fetch(_BATCH_OWN, [outbox_ids])
    else:
        rows = _fetch(_BATCH_EXTRA, [limit]) if limit > 0 else []
    return sorted({row.id: row for row in rows}.values(), key=lambda row: row.id)
