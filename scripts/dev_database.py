"""Choose the database for `make run` / `make test`.

DATABASE_URL when set; else PostgreSQL on 127.0.0.1:5432 if it answers (user postgres, no password:
postgres://postgres@127.0.0.1:5432/recipe_planner, created when missing); else the SQLite file the
settings fall back to, and we say so.
"""

from __future__ import annotations

import os
import sys

LOCAL_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
LOCAL_URL = "postgres://postgres@127.0.0.1:5432/recipe_planner"
LOCAL_DB_NAME = "recipe_planner"


def say(message: str) -> None:
    print(f"[dev-database] {message}", file=sys.stderr, flush=True)


def _local_postgres_answers() -> bool:
    try:
        import psycopg
    except ImportError:  # requirements not installed yet: no way to talk to PostgreSQL
        return False
    try:
        with psycopg.connect(LOCAL_SERVER_URL, connect_timeout=2, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [LOCAL_DB_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{LOCAL_DB_NAME}"')
                say(f"created database {LOCAL_DB_NAME}")
        return True
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
        say(f"no usable PostgreSQL on 127.0.0.1:5432 as user postgres without a password ({reason})")
        return False


def resolve() -> str | None:
    """The DATABASE_URL to use, or None for the settings' SQLite fallback."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    if _local_postgres_answers():
        say(f"DATABASE_URL not set; using the PostgreSQL on 127.0.0.1:5432 ({LOCAL_URL})")
        return LOCAL_URL
    say(
        "DATABASE_URL not set and no PostgreSQL answers on 127.0.0.1:5432: using SQLite "
        "(backend/db.sqlite3; tests use an in-memory SQLite database). Set DATABASE_URL for PostgreSQL."
    )
    return None


if __name__ == "__main__":
    print(resolve() or "sqlite")
