"""The database snapshot a cached value is computed under, for the invalidation's visibility check
(lua/all_visible.lua).

Taken on the miss path only (one SQL round trip), before the payload's queries: in autocommit each of those runs
under a later snapshot, so recording this earlier one is conservative (it sees no write those queries missed).
None - the invalidations then void the fill as they always did - without PostgreSQL, and inside a transaction
block, whose reads may include its own uncommitted writes.
"""

from django.db import connection


def current() -> str | None:
    """pg_current_snapshot() as text ('xmin:xmax:xip,...'), or None (see the module doc)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text")
        return cursor.fetchone()[0]
