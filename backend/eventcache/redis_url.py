"""One REDIS_URL, split into logical databases, and printed without its password.

The cache (with sessions) and the Celery broker never share a logical database: `cache.clear()` is
FLUSHDB and would otherwise delete queued tasks. The cache uses the URL's own database (default 0);
the broker uses the next one.
"""

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


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
    """redis://:secret@host:6379/0 -> redis://:***@host:6379/0 (user names are kept); a cluster's
    redis://user:secret@h1:7000,h2:7001 likewise."""
    scheme, _, rest = url.partition("://")
    credentials, at, hosts = rest.partition("/")[0].rpartition("@")
    if "," in hosts:
        user, has_password, _ = credentials.partition(":")
        return f"{scheme}://{user}:***@{rest.partition('@')[2]}" if at and has_password else url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """`redis://user:secret@h1:7000,h2:7001` -> ([("h1", 7000), ("h2", 7001)], {"username": ..., "password": ...}).
    `rediss://` turns TLS on. A database number is refused: a cluster has only database 0."""
    scheme, _, rest = url.partition("://")
    if scheme not in {"redis", "rediss"} or not rest:
        raise ValueError("REDIS_CLUSTER_URL is redis://[user:password@]host:port[,host:port...]")
    credentials, _, hosts = rest.rpartition("@")
    hosts, _, path = hosts.partition("/")
    if path.strip("/") not in {"", "0"}:
        raise ValueError("REDIS_CLUSTER_URL names a database: a Redis Cluster has only database 0")
    nodes = []
    for host in filter(None, hosts.split(",")):
        parts = urlsplit(f"redis://{host}")
        if not parts.hostname or not parts.port:
            raise ValueError(f"REDIS_CLUSTER_URL: {host!r} is not host:port")
        nodes.append((parts.hostname, parts.port))
    if not nodes:
        raise ValueError("REDIS_CLUSTER_URL names no node")
    auth: dict[str, Any] = {"ssl": scheme == "rediss"}
    if credentials:
        user, has_password, password = credentials.partition(":")
        if user:
            auth["username"] = unquote(user)
        if has_password:
            auth["password"] = unquote(password)
    return nodes, auth
