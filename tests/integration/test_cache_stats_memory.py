"""Issue 12 item 5 (the cache_stats half): `manage.py cache_stats` reports Redis's memory against its maxmemory and
the eviction policy, warns when used memory reaches REDIS_MEMORY_DEGRADED_RATIO of maxmemory or when the policy
can evict the broker's queue and the cache's bookkeeping, and with --check exits non-zero on either. Against a
redis-server of the test's own (its maxmemory and policy set with CONFIG SET), through manage.py in a subprocess,
as an operator or a monitoring probe runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each test starts its own single redis-server and points cache_stats at it (REDIS_URL): single_redis. On a cluster,
# cache_stats reports the master nearest its maxmemory (eventcache.store.cluster.worst_info).
pytestmark = [pytest.mark.integration, pytest.mark.single_redis]

MANAGE = Path(__file__).resolve().parents[2] / "backend" / "manage.py"


def cache_stats(server, *args):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "TEST_REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DEBUG="1", DATABASE_URL="", REDIS_URL=server.url)
    command = [sys.executable, str(MANAGE), "cache_stats", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def configure(server, *, policy: str, headroom: float | None) -> int:
    """Set the policy, and maxmemory to used_memory * headroom (None: 1 GB, far above it); returns maxmemory."""
    client = server.client()
    client.config_set("maxmemory-policy", policy)
    used = int(client.info("memory")["used_memory"])
    limit = 1024**3 if headroom is None else int(used * headroom)
    client.config_set("maxmemory", limit)
    return limit


def test_a_healthy_redis_reports_its_memory_and_policy_and_passes_the_check(redis_server):
    server = redis_server.start()
    limit = configure(server, policy="noeviction", headroom=None)

    report = json.loads(cache_stats(server, "--json").stdout)
    checked = cache_stats(server, "--check")

    assert report["redis"]["maxmemory"] == limit and report["redis"]["maxmemory_policy"] == "noeviction"
    assert 0 < report["redis"]["memory_ratio"] < 0.01
    assert report["warnings"] == []
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "maxmemory=1.00G" in checked.stdout and "policy=noeviction" in checked.stdout
    assert "WARNING" not in checked.stdout + checked.stderr


def test_memory_near_maxmemory_is_a_warning_and_fails_the_check(redis_server, settings):
    server = redis_server.start()
    configure(server, policy="noeviction", headroom=1.02)  # used_memory is ~98% of maxmemory

    plain = cache_stats(server)
    checked = cache_stats(server, "--check")
    report = json.loads(cache_stats(server, "--json").stdout)

    assert plain.returncode == 0, plain.stderr  # without --check it reports, whatever it finds
    assert "WARNING: used_memory is" in plain.stdout and "of maxmemory" in plain.stdout
    assert checked.returncode == 1 and "used_memory is" in checked.stderr, checked.stdout + checked.stderr
    assert report["redis"]["memory_ratio"] >= settings.REDIS_MEMORY_DEGRADED_RATIO
    assert len(report["warnings"]) == 1 and "maxmemory" in report["warnings"][0]


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl", "allkeys-random"])
def test_an_evicting_policy_is_a_warning_and_fails_the_check(redis_server, policy):
    server = redis_server.start()
    configure(server, policy=policy, headroom=None)

    plain = cache_stats(server)
    checked = cache_stats(server, "--check")

    assert plain.returncode == 0, plain.stderr
    assert f"WARNING: maxmemory-policy {policy} can evict" in plain.stdout
    assert checked.returncode == 1 and policy in checked.stderr and "noeviction" in checked.stderr


def test_no_maxmemory_is_reported_and_passes(redis_server):
    server = redis_server.start()
    server.client().config_set("maxmemory", 0)  # unlimited: the policy never applies

    checked = cache_stats(server, "--check")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "maxmemory=unlimited" in checked.stdout
