"""The cluster session: with TEST_REDIS_CLUSTER=1 the tests run the cache, sessions and pub/sub on a real Redis Cluster.

Loaded with `-p tests.redis_cluster` (pytest.ini), after tests.redis_server and before pytest-django imports the
settings: it starts a 3-master/3-replica cluster on free loopback ports (scripts/dev_redis_cluster.py) and sets
TEST_REDIS_CLUSTER_URL, which config.test_settings turns into REDIS_CLUSTER_URL for this process and every worker,
web process or command the tests start. The session's standalone Redis (tests/redis_server.py) stays the Celery
broker: kombu has no cluster transport. The nodes keep nothing on disk and are stopped when the session ends.

Tests marked `cluster` need the cluster (the failover test): they are deselected in a session without one, and
tests marked `single_redis` (what only a single Redis does) are deselected in a cluster session - deselected, not
skipped, because CI fails on skips. `make test-cluster` runs the cache tests this way.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import dev_redis_cluster  # noqa: E402

_started: list = []  # the cluster of this session, if we started one


def on_cluster() -> bool:
    return bool(os.environ.get("TEST_REDIS_CLUSTER_URL"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if os.environ.get("TEST_REDIS_CLUSTER") == "1" and not os.environ.get("TEST_REDIS_CLUSTER_URL"):
        cluster = dev_redis_cluster.start_cluster()
        _started.append(cluster)
        os.environ["TEST_REDIS_CLUSTER_URL"] = cluster.url
    return (yield)


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: needs the Redis Cluster of a TEST_REDIS_CLUSTER=1 session")
    config.addinivalue_line("markers", "single_redis: proves what only a single Redis does (not run on a cluster)")


def pytest_report_header(config):
    if on_cluster():
        origin = "started for this session" if _started else "TEST_REDIS_CLUSTER_URL"
        return f"redis cluster (cache, sessions, pub/sub): {os.environ['TEST_REDIS_CLUSTER_URL']} ({origin})"
    return None


# Fixtures that observe one server: MONITOR (redis_commands) and the exact round-trip list of the single Redis's
# one-script reads (redis_round_trips). On a cluster a read is several round trips to several nodes by design
# (eventcache/store/cluster.py); tests/integration/test_cluster_cache.py counts those instead.
SINGLE_SERVER_FIXTURES = {"redis_commands", "redis_round_trips"}


def _unwanted(item) -> bool:
    if on_cluster():
        return bool(item.get_closest_marker("single_redis")) or bool(
            SINGLE_SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
    return bool(item.get_closest_marker("cluster"))


def pytest_collection_modifyitems(config, items):
    deselected = [item for item in items if _unwanted(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _unwanted(item)]


@pytest.fixture(scope="session")
def redis_cluster():
    """The session's EmbeddedCluster (scripts/dev_redis_cluster.py), for tests that kill and restart its nodes."""
    if not _started:
        pytest.fail(
            "this test needs the cluster this session started (TEST_REDIS_CLUSTER=1, no TEST_REDIS_CLUSTER_URL)"
        )
    return _started[0]


def pytest_unconfigure(config):
    while _started:
        _started.pop().stop()
