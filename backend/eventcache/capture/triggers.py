"""The capture triggers: SQL generated for PostgreSQL and SQLite from the domain's Captures (which table and
operation produce which event; eventcache.declare.Capture).

Row-level AFTER triggers insert an `events_outbox` row in the same transaction as the change, so every
write path (save, delete, QuerySet.update, bulk_create, bulk_update, many-to-many changes, admin, raw
SQL, another program) produces its event, and a rolled-back transaction produces none.

Each data field is an SQL expression over `{row}`, which becomes NEW (after insert/update) or OLD
(before update/delete). On UPDATE the NEW payload is recorded, and the OLD one too when it differs (an
entry moved to another plan touches both days). A payload with a NULL field is skipped: that happens
only when the parent row is already gone in the same transaction (e.g. raw SQL deleting a meal plan
before its entries), and the parent's own trigger has recorded the event that matters.

TRUNCATE (and `manage.py flush`, which truncates) fires no row trigger. On PostgreSQL each captured table also has a
statement-level AFTER TRUNCATE trigger writing one "table.truncated" event naming the table (events.TableTruncated,
whose engine rule bumps every family). PostgreSQL fires it after the whole statement, so a TRUNCATE that empties
the outbox too (flush) keeps the event. SQLite has no TRUNCATE: its flush deletes rows, which the row triggers see.

The triggers are installed by migration 0002 (the TRUNCATE ones by 0006, the writer's notice on the outbox by 0008;
a change to the domain's Captures needs a migration calling `install` again). After every `migrate`, missing triggers are re-installed (eventcache/apps.py), because
SQLite rebuilds a table, dropping its triggers, whenever a later migration alters it.
"""

from dataclasses import dataclass

from eventcache import declare
from eventcache.declare import ALL, DELETE, INSERT, UPDATE, Capture
from eventcache.events import TableTruncated

OUTBOX_TABLE = "events_outbox"


def _captures() -> tuple[Capture, ...]:
    return declare.domain().captures


def captured_tables() -> tuple[str, ...]:
    return declare.domain().captured_tables


# --- SQL generation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dialect:
    json_object: str  # builds the JSON data value from 'name', value pairs
    is_distinct: str  # NULL-safe "differs"


POSTGRESQL = _Dialect(json_object="jsonb_build_object", is_distinct="IS DISTINCT FROM")
SQLITE = _Dialect(json_object="json_object", is_distinct="IS NOT")


def _values(capture: Capture, row: str) -> str:
    return ", ".join(f'{expr.format(row=row)} AS "{name}"' for name, expr in capture.data.items())


def _insert(capture: Capture, row: str, dialect: _Dialect, *, unless_same_as_new: bool = False) -> str:
    """INSERT INTO events_outbox the payload of `row` (NEW or OLD), skipping NULL payloads."""
    pairs = ", ".join(f"'{name}', r.\"{name}\"" for name in capture.data)
    conditions = [f'r."{name}" IS NOT NULL' for name in capture.data]
    sources = f"(SELECT {_values(capture, row)}) AS r"
    if unless_same_as_new:
        sources += f", (SELECT {_values(capture, 'NEW')}) AS n"
        conditions.append(
            "(" + " OR ".join(f'r."{name}" {dialect.is_distinct} n."{name}"' for name in capture.data) + ")"
        )
    return (
        f"INSERT INTO {OUTBOX_TABLE} (kind, data) SELECT '{capture.kind.kind}', {dialect.json_object}({pairs}) "
        f"FROM {sources} WHERE {' AND '.join(conditions)};"
    )


def _statements(capture: Capture, operation: str, dialect: _Dialect) -> list[str]:
    if operation == INSERT:
        return [_insert(capture, "NEW", dialect)]
    if operation == DELETE:
        return [_insert(capture, "OLD", dialect)]
    return [_insert(capture, "NEW", dialect), _insert(capture, "OLD", dialect, unless_same_as_new=True)]


def _captures_of(table: str) -> list[Capture]:
    return [c for c in _captures() if c.table == table]


def _trigger_name(table: str, operation: str | None = None) -> str:
    return f"events_capture_{table}" + (f"_{operation.lower()}" if operation else "")


def _event_clause(operation: str, captures: list[Capture]) -> str:
    columns = {col for c in captures if operation in c.operations for col in c.update_of}
    return f"UPDATE OF {', '.join(sorted(columns))}" if operation == UPDATE and columns else operation


def postgresql_install_sql() -> list[str]:
    """One plpgsql function per table (branching on TG_OP) and one AFTER ... FOR EACH ROW trigger."""
    statements = []
    for table in captured_tables():
        captures = _captures_of(table)
        operations = [op for op in ALL if any(op in c.operations for c in captures)]
        branches = []
        for op in operations:
            body = "\n    ".join(s for c in captures if op in c.operations for s in _statements(c, op, POSTGRESQL))
            branches.append(f"IF TG_OP = '{op}' THEN\n    {body}\n  END IF;")
        function = _trigger_name(table)
        statements.append(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n  " + "\n  ".join(branches) + "\n  RETURN NULL;\nEND;\n$$;"
        )
        statements.append(f"DROP TRIGGER IF EXISTS {function} ON {table};")
        events = " OR ".join(_event_clause(op, captures) for op in operations)
        statements.append(
            f"CREATE TRIGGER {function} AFTER {events} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();"
        )
    return statements + postgresql_truncate_sql()


TRUNCATE_FUNCTION = "events_capture_truncate"


def _truncate_trigger_name(table: str) -> str:
    return f"events_truncate_{table}"


def postgresql_truncate_sql() -> list[str]:
    """One shared function (the table's name comes from TG_TABLE_NAME) and an AFTER TRUNCATE ... FOR EACH
    STATEMENT trigger on every captured table."""
    statements = [
        f"CREATE OR REPLACE FUNCTION {TRUNCATE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n  INSERT INTO {OUTBOX_TABLE} (kind, data) "
        f"VALUES ('{TableTruncated.kind}', jsonb_build_object('table', TG_TABLE_NAME));\n  RETURN NULL;\nEND;\n$$;"
    ]
    for table in captured_tables():
        name = _truncate_trigger_name(table)
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table};")
        statements.append(
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {TRUNCATE_FUNCTION}();"
        )
    return statements


def postgresql_truncate_uninstall_sql() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {_truncate_trigger_name(table)} ON {table};" for table in captured_tables()] + [
        f"DROP FUNCTION IF EXISTS {TRUNCATE_FUNCTION}();"
    ]


# --- The writer's notice (PostgreSQL) ---------------------------------------------------------------------------
# An AFTER INSERT trigger on the outbox itself hands each new row to the connection that wrote it, as a NOTICE in
# the writing statement's own response, so a request's commit has its rows without a look-up (relay/notices.py).
# Only connections that turned it on get it (the WHEN clause, evaluated without calling the function): psql, the
# worker and other programs see nothing. It covers every way a row is written: the capture triggers above, the
# TRUNCATE trigger, an INSERT by hand. Migration 0008 alone installs it (and its reverse removes it): it reads the
# outbox's xid column, which 0007 adds, so `install` (migrations 0002 and planner's, the post-migrate repair) leaves
# it out.

NOTICE_FUNCTION = "events_outbox_notice_writer"
NOTICE_SETTING = "eventcache.writer_notices"  # a session setting: 'on' where the relay listens (relay/notices.py)
NOTICE_MESSAGE = "eventcache.outbox"  # the notice's message; its detail is the row


def postgresql_notice_sql() -> list[str]:
    # The detail is a JSON array [id, kind, data as the database writes it, created_at, xid]: data travels as the
    # jsonb's own text, which is what a SELECT of the row returns (and what de-duplication compares).
    return [
        f"CREATE OR REPLACE FUNCTION {NOTICE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n  RAISE NOTICE USING MESSAGE = '{NOTICE_MESSAGE}', "
        "DETAIL = json_build_array(NEW.id, NEW.kind, NEW.data::text, NEW.created_at, NEW.xid)::text;\n"
        "  RETURN NULL;\nEND;\n$$;",
        f"DROP TRIGGER IF EXISTS {NOTICE_FUNCTION} ON {OUTBOX_TABLE};",
        f"CREATE TRIGGER {NOTICE_FUNCTION} AFTER INSERT ON {OUTBOX_TABLE} FOR EACH ROW "
        f"WHEN (current_setting('{NOTICE_SETTING}', true) = 'on') EXECUTE FUNCTION {NOTICE_FUNCTION}();",
    ]


def postgresql_notice_uninstall_sql() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {NOTICE_FUNCTION} ON {OUTBOX_TABLE};",
        f"DROP FUNCTION IF EXISTS {NOTICE_FUNCTION}();",
    ]


def postgresql_uninstall_sql() -> list[str]:
    return [
        s
        for table in captured_tables()
        for s in (
            f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table};",
            f"DROP FUNCTION IF EXISTS {_trigger_name(table)}();",
        )
    ] + postgresql_truncate_uninstall_sql()


def sqlite_install_sql() -> list[str]:
    """One CREATE TRIGGER per table and operation (SQLite triggers fire on a single operation)."""
    statements = []
    for table in captured_tables():
        captures = _captures_of(table)
        for op in ALL:
            body = [s for c in captures if op in c.operations for s in _statements(c, op, SQLITE)]
            if not body:
                continue
            name = _trigger_name(table, op)
            statements.append(f"DROP TRIGGER IF EXISTS {name};")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {_event_clause(op, captures)} ON {table} FOR EACH ROW BEGIN\n  "
                + "\n  ".join(body)
                + "\nEND;"
            )
    return statements


def sqlite_uninstall_sql() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {_trigger_name(table, op)};"
        for table in captured_tables()
        for op in ALL
        if any(op in c.operations for c in _captures_of(table))
    ]


_SQL = {
    "postgresql": (postgresql_install_sql, postgresql_uninstall_sql),
    "sqlite": (sqlite_install_sql, sqlite_uninstall_sql),
}


def _for_vendor(connection):
    if connection.vendor not in _SQL:
        raise NotImplementedError(f"no capture triggers for {connection.vendor}; events need PostgreSQL or SQLite")
    return _SQL[connection.vendor]


def expected_triggers(vendor: str) -> set[str]:
    if vendor == "postgresql":
        return {name for table in captured_tables() for name in (_trigger_name(table), _truncate_trigger_name(table))}
    return {
        _trigger_name(table, op)
        for table in captured_tables()
        for op in ALL
        if any(op in c.operations for c in _captures_of(table))
    }


_INSTALLED_SQL = {
    "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
}


def missing_triggers(connection) -> set[str]:
    """The capture triggers this database lacks (e.g. dropped by SQLite rebuilding a table)."""
    _for_vendor(connection)
    with connection.cursor() as cursor:
        cursor.execute(_INSTALLED_SQL[connection.vendor])
        installed = {name for (name,) in cursor.fetchall()}
    return expected_triggers(connection.vendor) - installed


def install(connection) -> None:
    """Create (or replace) every capture trigger on this connection's database."""
    _run(connection, _for_vendor(connection)[0]())


def uninstall(connection) -> None:
    _run(connection, _for_vendor(connection)[1]())


def _run(connection, statements) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install_truncate_on_postgresql(apps, schema_editor) -> None:
    """Migration 0006: the TRUNCATE triggers on a database whose row triggers 0002 installed before they existed."""
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor.connection, postgresql_truncate_sql())


def uninstall_truncate_on_postgresql(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor.connection, postgresql_truncate_uninstall_sql())


def install_notice_on_postgresql(apps, schema_editor) -> None:
    """Migration 0008, the notice trigger's only installer (`install` leaves it out: it reads 0007's xid column)."""
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor.connection, postgresql_notice_sql())


def uninstall_notice_on_postgresql(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor.connection, postgresql_notice_uninstall_sql())


# --- Migrations that rebuild the outbox on SQLite -------------------------------------------------------------
# SQLite alters a table by rebuilding it (create new__events_outbox, copy, drop, rename), and the rename refuses
# a schema whose triggers name the table it just dropped ("error in trigger ...: no such table"). A migration that
# changes events_outbox wraps its operations in these two: the triggers go before the rebuild and come back after
# (RunPython(uninstall_on_sqlite, install_on_sqlite), ..., RunPython(install_on_sqlite, uninstall_on_sqlite)).
# PostgreSQL alters in place: nothing to do there.


def uninstall_on_sqlite(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        uninstall(schema_editor.connection)


def install_on_sqlite(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        install(schema_editor.connection)
