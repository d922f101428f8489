"""The write watcher: after a transaction that wrote to a captured table commits, run commit.after_commit once.

An execute-wrapper on every database connection (installed by eventcache/apps.py) matches the head of each
statement against the captured tables. The outbox rows themselves are written by the database's triggers, which
the client never sees without a query, and Django's model signals miss QuerySet.update(), bulk writes and raw SQL;
so one anchored regex match per statement is what tells a transaction that needs the after-commit look-up from one
that does not (most do not: reads, sessions), without adding a query to either.
"""

import functools
import re

from eventcache import declare
from eventcache.relay import notices
from eventcache.relay.commit import after_commit


@functools.lru_cache(maxsize=4)
def captured_write(domain: declare.Domain) -> re.Pattern:
    """Matches only the head of a write to one of the domain's captured tables."""
    tables = "|".join(map(re.escape, domain.captured_tables))
    head = r"\s*(?:(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?(?:" + tables + r")\b"
    # TRUNCATE names its tables in a list (`manage.py flush` empties them all in one statement): any of them counts.
    truncate = r"|TRUNCATE\b[^;]*?[\s,\"`](?:" + tables + r")\b)"
    return re.compile(head + truncate, re.IGNORECASE)


_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def notice_writes(execute, sql, params, many, context):
    connection = context["connection"]
    captured = isinstance(sql, str) and captured_write(declare.domain()).match(sql) is not None
    if captured and not _flush_scheduled(connection):
        notices.forget(connection)  # what was noticed before belongs to transactions that committed or rolled back
    result = execute(sql, params, many, context)
    if captured:
        schedule_flush(connection, sql)
    return result


def _flush_scheduled(connection) -> bool:
    """after_commit is registered for this transaction (in autocommit there is none between statements)."""
    return connection.in_atomic_block and any(func is after_commit for _, func, _ in connection.run_on_commit)


def schedule_flush(connection, sql: str = "") -> None:
    """after_commit() once after this transaction commits; right away in autocommit (the write is committed)."""
    if connection.in_atomic_block:
        if not _flush_scheduled(connection):
            connection.on_commit(after_commit, robust=True)
    elif not connection.get_autocommit():
        return  # manual transaction management (set_autocommit(False)): no commit hook exists; the sweep delivers
    elif connection.vendor == "sqlite" and _RETURNING.search(sql):
        # SQLite steps INSERT ... RETURNING lazily: the statement (and its implicit transaction) is still open until
        # Django fetches the row, so flushing now would break the write. Left to the next flush or the sweep
        # (OUTBOX_UNSENT_GRACE_SECONDS); PostgreSQL has the result in hand already.
        return
    else:
        connection.on_commit(after_commit, robust=True)  # in autocommit this runs it now


def install(sender=None, connection=None, **kwargs) -> None:
    """connection_created receiver. Inserted first so that code popping its own temporary wrapper
    (`with connection.execute_wrapper(...)`) never pops this one. On PostgreSQL the connection also asks for the
    writer's notices (notices.py)."""
    if notice_writes not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, notice_writes)
    if connection.connection is not None:
        notices.install(connection)
