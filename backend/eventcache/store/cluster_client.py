"""django-redis on a Redis Cluster: a CONNECTION_FACTORY (django-redis's public extension point) that returns
redis-py's `RedisCluster` instead of a `Redis` on one connection pool.

django-redis has no cluster client (jazzband/django-redis#208, #606, #710), but everything the cache, sessions and
the engine ask of it is single-key (GET/SET/DEL/EVALSHA on one slot) or split by redis-py itself (DEL of many keys,
FLUSHDB on every primary), so the default client works on a RedisCluster once it gets one. LOCATION is a one-item
list holding REDIS_CLUSTER_URL (`redis://[user:password@]host:port,host:port,...`): a string would be split on its
commas into django-redis's master/replica list. Every listed node is a startup node, so the client starts while any
of them answers; redis-py discovers the rest (and follows MOVED/ASK, and re-reads the slot map on a failover).

One adaptation (ClusterClient): redis-py raises a few cluster failures that django-redis's IGNORE_EXCEPTIONS does not
catch (it catches ConnectionError, TimeoutError and ResponseError only): SlotNotCoveredError (not even a RedisError)
while a master is down and no replica has taken over yet, and ClusterError when its retries run out. Those are
"Redis is unavailable" for a cache, so they are re-raised as ConnectionError: sessions and reads then degrade to the
database exactly as on a single Redis that is down. A cross-slot command stays a RedisClusterException: a bug.
"""

from typing import Any

from django_redis.pool import ConnectionFactory
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterError,
    ConnectionError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.retry import Retry

from eventcache.redis_url import parse_cluster_url

UNAVAILABLE = (SlotNotCoveredError, ClusterError)


class ClusterClient(RedisCluster):
    """RedisCluster whose "cluster unavailable" failures are ConnectionErrors (the module doc says why)."""

    def execute_command(self, *args, **kwargs):
        try:
            return super().execute_command(*args, **kwargs)
        except UNAVAILABLE as exc:
            if isinstance(exc, ResponseError):  # ClusterDownError: django-redis and the engine catch it already
                raise
            raise ConnectionError(f"Redis Cluster unavailable: {exc}") from exc


def client_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """RedisCluster's options from the cache's OPTIONS (settings.py fills them from the environment)."""
    timeout = options.get("SOCKET_TIMEOUT")
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": options.get("SOCKET_CONNECT_TIMEOUT", timeout),
        # A failover shows as connection errors until a replica is promoted; each retry re-reads the slot map,
        # with a short capped backoff so a request falls back to the database quickly instead of waiting it out.
        "retry": Retry(
            ExponentialWithJitterBackoff(
                cap=options.get("CLUSTER_RETRY_BACKOFF_CAP", 0.1), base=options.get("CLUSTER_RETRY_BACKOFF_BASE", 0.01)
            ),
            options.get("CLUSTER_RETRIES", 3),
        ),
        # A master down with no replica yet: the other masters' slots keep working (servers need
        # cluster-require-full-coverage no for that too).
        "require_full_coverage": False,
        **options.get("CLUSTER_KWARGS", {}),
    }


def connect(url: str, **overrides) -> ClusterClient:
    nodes, auth = parse_cluster_url(url)
    return ClusterClient(startup_nodes=[ClusterNode(host, port) for host, port in nodes], **auth, **overrides)


class LazyClusterClient:
    """A ClusterClient made on first use. RedisCluster reads the slot map in its constructor, so a cluster that does
    not answer would fail django-redis's get_client(), which runs outside the try that IGNORE_EXCEPTIONS covers
    (every cache call would raise). Here the failure comes from the first attribute used, inside that try, as a
    ConnectionError; the next use tries again. A plain Redis client connects lazily already."""

    def __init__(self, url: str, kwargs: dict[str, Any]):
        self._url, self._kwargs = url, kwargs
        self._client: ClusterClient | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    def __getattr__(self, name: str):
        if self._client is None:
            try:
                self._client = connect(self._url, **self._kwargs)
            except (RedisClusterException, RedisError) as exc:
                raise ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
        return getattr(self._client, name)


class ClusterConnectionFactory(ConnectionFactory):
    """django-redis CONNECTION_FACTORY: `connect(LOCATION item)` returns a LazyClusterClient (one per process and
    URL)."""

    _clusters: dict[str, LazyClusterClient] = {}

    def connect(self, url: str) -> LazyClusterClient:
        client = self._clusters.get(url)
        if client is None:
            client = self._clusters[url] = LazyClusterClient(url, client_kwargs(self.options))
        return client

    def disconnect(self, connection: Any) -> None:
        if getattr(connection, "connected", True):
            connection.disconnect_connection_pools()
