"""A slot no master serves is "Redis unavailable" for the cache (eventcache/store/cluster_client.py).

While a master is down and no replica has taken over, redis-py's RedisCluster raises SlotNotCoveredError for its
slots: not a RedisError, so django-redis's IGNORE_EXCEPTIONS (ConnectionError, TimeoutError, ResponseError) lets it
through and a cached read would answer 500 instead of falling back to the database. ClusterClient re-raises it as a
ConnectionError. The failover test (tests/faults/test_cluster_failover.py) meets this state only when its timing
does; here it is made on purpose, on a 3-master cluster of this module's own: CLUSTER DELSLOTS on every node leaves
one slot unassigned (the other slots keep working: the nodes run with cluster-require-full-coverage no).
"""

import time

import pytest
import redis
from django_redis.cache import RedisCache
from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError, RedisError, SlotNotCoveredError

from eventcache.redis_url import parse_cluster_url
from eventcache.store import cluster_client
from tests.redis_cluster import dev_redis_cluster

pytestmark = [pytest.mark.integration]

UNCOVERED = "{uncovered}:probe"  # a hash tag: the slot depends on "uncovered" only, whatever prefix the cache adds
SERVED = "{served}:probe"


def _slots_served(port: int) -> set[int]:
    served = set()
    for low, high, *_nodes in redis.Redis(port=port).execute_command("CLUSTER", "SLOTS"):
        served.update(range(int(low), int(high) + 1))
    return served


@pytest.fixture(scope="module")
def cluster():
    """3 masters, no replicas; the slot of UNCOVERED assigned to no node (seen so by every node)."""
    started = dev_redis_cluster.start_cluster(masters=3, replicas=0)
    try:
        slot = redis.Redis(port=started.ports[0]).execute_command("CLUSTER", "KEYSLOT", UNCOVERED)
        assert slot != redis.Redis(port=started.ports[0]).execute_command("CLUSTER", "KEYSLOT", SERVED)
        for port in started.ports:
            redis.Redis(port=port).execute_command("CLUSTER", "DELSLOTS", slot)
        deadline = time.monotonic() + 10
        while any(slot in _slots_served(port) for port in started.ports):
            assert time.monotonic() < deadline, "a node still serves the slot after DELSLOTS on every node"
            time.sleep(0.1)
        yield started
    finally:
        started.stop()


def _plain(url: str) -> RedisCluster:
    nodes, _ = parse_cluster_url(url)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], require_full_coverage=False)


def test_redis_py_raises_slot_not_covered_which_is_not_a_redis_error(cluster):
    """The upstream behaviour the translation exists for."""
    client = _plain(cluster.url)
    assert client.set(SERVED, b"1")
    with pytest.raises(SlotNotCoveredError) as raised:
        client.get(UNCOVERED)
    assert not isinstance(raised.value, RedisError)


def test_the_cluster_client_makes_it_a_connection_error(cluster):
    client = cluster_client.connect(cluster.url, **cluster_client.client_kwargs({}))
    assert client.set(SERVED, b"1") and client.get(SERVED) == b"1"  # the other slots keep working
    with pytest.raises(ConnectionError) as raised:
        client.get(UNCOVERED)
    assert isinstance(raised.value.__cause__, SlotNotCoveredError)


class PlainClusterFactory(ConnectionFactory):
    """The contrast: django-redis handed a plain RedisCluster, without ClusterClient's translation."""

    def connect(self, url: str):
        return _plain(url)


def _cache(url: str, factory: str) -> RedisCache:
    """The project's cluster cache settings (config/settings.py), with the given CONNECTION_FACTORY."""
    return RedisCache(
        [url],
        {
            "KEY_PREFIX": "recipe_planner",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_FACTORY": factory,
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        },
    )


def test_the_cache_treats_an_uncovered_slot_as_redis_down(cluster):
    cache = _cache(cluster.url, "eventcache.store.cluster_client.ClusterConnectionFactory")
    cache.set(SERVED, {"ok": 1})
    assert cache.get(SERVED) == {"ok": 1}
    assert cache.get(UNCOVERED, "fell back") == "fell back"  # IGNORE_EXCEPTIONS: as on a Redis that is down
    cache.set(UNCOVERED, {"ok": 1})  # ignored, no exception


def test_without_the_translation_the_cache_raises(cluster):
    cache = _cache(cluster.url, f"{__name__}.PlainClusterFactory")
    cache.set(SERVED, {"ok": 2})
    assert cache.get(SERVED) == {"ok": 2}
    with pytest.raises(SlotNotCoveredError):
        cache.get(UNCOVERED)
