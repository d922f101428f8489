"""The writer's notices: the outbox rows a connection's own statements wrote, handed to it by PostgreSQL inside those
statements' responses, so a request's commit has its rows without a look-up (docs/ARCHITECTURE.md, "Writes").

    install(connection)   connection_created (relay/watcher.py): turn the notices on and collect them
    take(connection)      a request's commit (relay/commit.py): the last transaction's rows, or None: look them up
    forget(connection)    any other commit: the relay claims every unsent row itself

The outbox's notice trigger (capture/triggers.py, migration 0008) raises one NOTICE per inserted row on connections
whose session has eventcache.writer_notices = on. psycopg runs the handler installed here while it reads the
statement's result, so when the write returns its rows are already here: the commit's SELECT of the connection's
unsent rows (outbox.own_unsent_rows), one round trip inside the request, is not needed.

Why take() may answer None, and the caller looks the rows up as before: nothing was noticed (SQLite; notices off;
client_min_messages above NOTICE; a write that inserted no outbox row), or more rows than one claim holds were.
Rows of a transaction that rolled back were noticed too. The write watcher forgets what was noticed before a
transaction's first write to a captured table (and before every such statement in autocommit), so a commit never
takes an earlier transaction's rows; take() also keeps only the last transaction's (the rows of one transaction
share its xid). A savepoint rolled back inside the committed transaction after its first write still leaves its
rows here: their keys are dropped for nothing, and marking or sending ids that do not exist changes nothing.

Like the outbox's writer_pid, this needs a session that stays on one server connection: behind a
transaction-pooling pgbouncer, set WRITER_NOTICES=0 (a SET does not follow the client there).
"""

import json
import logging
import weakref
from datetime import datetime

from django.conf import settings

from eventcache.capture.triggers import NOTICE_MESSAGE, NOTICE_SETTING
from eventcache.relay.outbox import CLAIM_LIMIT, OutboxRow

log = logging.getLogger(__name__)


class _Noticed:
    """The rows one connection was handed since the last take(), as the notices' raw text (parsed at take())."""

    __slots__ = ("details", "overflow", "__weakref__")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.details: list[str] = []
        self.overflow = False

    def __call__(self, diagnostic) -> None:  # psycopg's notice handler
        if diagnostic.message_primary != NOTICE_MESSAGE:
            return
        if len(self.details) >= CLAIM_LIMIT:
            self.overflow = True  # more than one claim's worth: the caller looks them up, CLAIM_LIMIT at a time
            return
        self.details.append(diagnostic.message_detail)


# psycopg connection -> its _Noticed. Keyed by the psycopg connection, not Django's wrapper: the wrapper outlives
# its connections, and each new one is turned on again by connection_created.
_noticed: "weakref.WeakKeyDictionary[object, _Noticed]" = weakref.WeakKeyDictionary()


def install(connection) -> None:
    """Turn the notices on for this (new) PostgreSQL connection and collect them."""
    if connection.vendor != "postgresql" or not settings.WRITER_NOTICES:
        return
    raw = connection.connection
    if raw in _noticed:
        return
    noticed = _Noticed()
    raw.add_notice_handler(noticed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', false)", [NOTICE_SETTING])
    _noticed[raw] = noticed


def _of(connection) -> _Noticed | None:
    if connection.vendor != "postgresql" or connection.connection is None:  # a sqlite3 connection takes no weakref
        return None
    return _noticed.get(connection.connection)


def take(connection) -> list[OutboxRow] | None:
    """The rows the last transaction on this connection wrote, oldest first, and forget everything noticed; None
    when there is nothing to go by (see the module doc): the caller looks the rows up."""
    noticed = _of(connection)
    if noticed is None or not noticed.details:
        return None
    details, overflow = noticed.details, noticed.overflow
    noticed.reset()
    if overflow:
        return None
    try:
        rows = [_row(detail) for detail in details]
    except (TypeError, ValueError) as exc:  # not our trigger's detail: look the rows up
        log.warning("an outbox notice could not be read (%s); the rows are looked up instead", exc)
        return None
    last = rows[-1].xid
    return [row for row in rows if row.xid == last]


def forget(connection) -> None:
    """Drop what was noticed: before a transaction's first write to a captured table (relay/watcher.py), so only
    that transaction's rows are taken at its commit; and at a commit outside a request (the relay claims every unsent
    row by itself)."""
    noticed = _of(connection)
    if noticed is not None:
        noticed.reset()


def _row(detail: str) -> OutboxRow:
    id_, kind, data_text, created_at, xid = json.loads(detail)
    return OutboxRow(int(id_), kind, data_text, datetime.fromisoformat(created_at), int(xid))
