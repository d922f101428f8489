"""One REDIS_URL, split into logical databases, and printed without its password.

The cache (with sessions) and the Celery broker never share a logical database: `cache.clear()` is
FLUSHDB and would otherwise delete queued tasks. The cache uses the URL's own database (default 0);
the broker uses the next one.
"""

from urllib.parse import urlsplit, urlunsplit


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def cache_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def cache_url(url: str) -> str:
    return _with_db(url, cache_db(url))


def broker_url(url: str) -> str:
    return _with_db(url, cache_db(url) + 1)


def mask(url: str) -> str:
    """redis://:secret@host:6379/0 -> redis://:***@host:6379/0 (user names are kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
