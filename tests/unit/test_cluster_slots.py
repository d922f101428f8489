"""On a Redis Cluster every script the engine runs touches one hash slot (eventcache/store/cluster.py, keys.py).

The store's cluster path runs here on fakeredis (the cluster's choice of path is switched on; the scripts are the
real ones) while every script call is collected, then each call's KEYS are hashed with redis-py's own slot function
(redis.crc.key_slot, what RedisCluster routes by). The single-Redis read script is shown to span slots, which is why
the cluster needs its own path. The same calls on a real cluster run in `make test-cluster`, where RedisCluster
refuses any cross-slot script.
"""

import datetime as dt

import pytest
from redis.crc import key_slot

from eventcache.store import cluster, keys, ops, scripts
from planner import cache

KEYS = [
    cache.recipe(42),
    cache.recipe(43),
    cache.shopping_lists(5),  # a hot family: its read also counts in the hot set
    cache.meal_plan(dt.date(2030, 1, 7), 3),
    cache.identity(5),
    cache.static_config("units"),
]


def _slots(names) -> set[int]:
    return {key_slot(name.encode() if isinstance(name, str) else name) for name in names}


@pytest.fixture
def script_calls(monkeypatch, fake_redis):
    calls = []
    real = scripts.run

    def recording(name, script_keys, args, client):
        calls.append((name, list(script_keys)))
        return real(name, script_keys, args, client)

    monkeypatch.setattr(scripts, "run", recording)
    return calls


def _exercise_the_store():
    for key in KEYS:
        result = ops.read_or_lease(key)
        assert result.lease is not None
        assert ops.fill(key, result.lease, b'{"v":1}')
        assert ops.read_or_lease(key).body == b'{"v":1}'
    ops.read_authenticated("a-session", 5, cache.identity(5), KEYS[0])
    lease = ops.take_lease(KEYS[0])
    ops.release(KEYS[0], lease)
    leases = {key: ops.read_or_lease(key).lease for key in KEYS[:2]}
    ops.fill_many([(key, lease, b"{}") for key, lease in leases.items() if lease])
    ops.invalidate(KEYS[:4], [cache.RECIPE, cache.SHOPPING_LISTS])
    ops.invalidate(KEYS, [cache.RECIPE], xids=[1001, 1002])
    ops.invalidate_and_lease(KEYS[:2], KEYS[2:4], [cache.MEAL_PLAN])
    ops.invalidate_and_lease(KEYS[:2], KEYS[2:4], [cache.MEAL_PLAN], xids=[1003])
    ops.bump_namespace(cache.RECIPE)
    # Per-target transaction ids (a mapping), as the engine's per-key xids pass them: one group per distinct set.
    ops.invalidate_and_lease(
        KEYS[:3], KEYS[3:4], [cache.RECIPE], xids={KEYS[0]: [7], KEYS[3]: [7, 8], cache.RECIPE: [8]}
    )


def test_every_script_call_on_the_cluster_path_touches_one_slot(monkeypatch, script_calls):
    monkeypatch.setattr(cluster, "on_cluster", lambda client: True)
    _exercise_the_store()
    names = {name for name, _ in script_calls}
    assert {"family_read", "read_at_ns", "fill_if_lease", "invalidate_seen", "drop_and_lease"} <= names, names
    spanning = [(name, script_keys) for name, script_keys in script_calls if len(_slots(script_keys)) != 1]
    assert spanning == []


def test_the_single_redis_read_spans_slots(script_calls):
    ops.read_or_lease(KEYS[0])
    [(name, script_keys)] = script_calls
    assert name == "read" and len(_slots(script_keys)) > 1


def test_a_key_its_lease_and_a_familys_bookkeeping_share_slots():
    for key in KEYS:
        assert _slots([ops.full_name(key.name), ops.full_name(keys.lease(key))]) == {key_slot(key.name[1:-1].encode())}
    family = cache.SHOPPING_LISTS
    family_names = [keys.namespace(family), keys.bumped_xids(family), keys.hot_set(family), keys.hot_epoch(family)]
    assert len(_slots(ops.full_names(*family_names))) == 1
    # Per-key tags, not family-wide ones: a family's keys spread over the slots.
    assert len(_slots(ops.full_name(cache.recipe(n).name) for n in range(1, 51))) > 40
