"""SQL the soak needs: a fresh database, and the outbox's figures (events_outbox is part of the system's outside:
its rows say which changes were captured and when the worker applied them)."""

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def recreate(url: str) -> None:
    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def unprocessed(url: str, since_id: int = 0) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        query = "SELECT count(*) FROM events_outbox WHERE processed_at IS NULL AND id > %s"
        return conn.execute(query, [since_id]).fetchone()[0]


def last_id(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM events_outbox").fetchone()[0]


def wait_drained(url: str, timeout: float, since_id: int = 0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if unprocessed(url, since_id) == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def outbox_figures(url: str, since_id: int, bound: float) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        total, unprocessed_rows, max_lag, slow = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE processed_at IS NULL),
                      coalesce(extract(epoch FROM max(processed_at - created_at)), 0),
                      count(*) FILTER (WHERE processed_at - created_at > make_interval(secs => %s))
               FROM events_outbox WHERE id > %s""",
            [bound, since_id],
        ).fetchone()
    return {"total": total, "unprocessed": unprocessed_rows, "max_lag": float(max_lag), "slow": slow}
