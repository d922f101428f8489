"""eventcache/store/ops.py on fakeredis: the Lua scripts' contract (read-or-lease, fill-if-lease, invalidation)."""

import json
import time

import pytest

from eventcache.store import keys, ops
from planner import cache

pytestmark = pytest.mark.usefixtures("fake_redis")

KEY = cache.recipe(42)
BODY = b'{"id":42,"title":"Soup \\u00e9","tags":["a/b"],"q":1.50}'


def raw(fake_redis, name):
    return fake_redis.get(ops.full_name(name))


def fill_now(key=KEY, body=BODY, **kwargs):
    lease = ops.read_or_lease(key).lease
    assert lease is not None
    assert ops.fill(key, lease, body, **kwargs)
    return lease


def test_full_names_carry_the_django_redis_prefix():
    assert ops.full_name("recipe:42") == "recipe_planner:1:recipe:42"


def test_first_reader_gets_the_lease_and_the_next_is_told_to_wait():
    first = ops.read_or_lease(KEY)
    assert first.body is None and first.lease is not None
    second = ops.read_or_lease(KEY)
    assert second.body is None and second.lease is None


def test_filled_value_is_json_with_namespace_and_the_body_comes_back_byte_for_byte(fake_redis):
    fill_now()
    stored = json.loads(raw(fake_redis, KEY.name))
    assert set(stored) == {"ns", "body"} and stored["body"]["title"] == "Soup é"
    assert stored["ns"] == int(raw(fake_redis, keys.namespace(cache.RECIPE)))
    assert ops.read_or_lease(KEY).body == BODY
    assert raw(fake_redis, keys.lease(KEY)) is None  # the fill released the lease


def test_fill_uses_the_family_ttl_or_an_override_or_none(fake_redis):
    fill_now()
    assert 30 * 60 * 1000 - 1000 < fake_redis.pttl(ops.full_name(KEY.name)) <= 30 * 60 * 1000
    fill_now(cache.preferences(1), b"{}", ttl=100)
    assert 99_000 < fake_redis.pttl(ops.full_name("{user:1:preferences}")) <= 100_000
    fill_now(cache.static_config("units"), b"{}")
    assert fake_redis.pttl(ops.full_name("{config:units}")) == -1


def test_a_fill_with_someone_elses_token_is_refused(fake_redis):
    lease = ops.read_or_lease(KEY).lease
    assert not ops.fill(KEY, ops.Lease(token="not-mine", ns=lease.ns), BODY)
    assert raw(fake_redis, KEY.name) is None


def test_invalidation_voids_a_fill_in_flight(fake_redis):
    lease = ops.read_or_lease(KEY).lease
    ops.invalidate([KEY])
    assert not ops.fill(KEY, lease, b'{"old":true}')
    assert raw(fake_redis, KEY.name) is None


def test_invalidate_drops_value_and_lease_of_every_key_and_leaves_others(fake_redis):
    other = cache.recipe(43)
    fill_now()
    fill_now(other)
    held = cache.recipe(44)
    ops.read_or_lease(held)
    ops.invalidate([KEY, held])
    assert raw(fake_redis, KEY.name) is None and raw(fake_redis, keys.lease(held)) is None
    assert ops.read_or_lease(other).body == BODY


def test_namespace_bump_makes_every_key_of_the_family_a_miss_but_not_other_families():
    fill_now()
    other_family = cache.meal_plan(__import__("datetime").date(2030, 1, 1), 1)
    fill_now(other_family)
    ops.bump_namespace(cache.RECIPE)
    assert ops.read_or_lease(KEY).body is None
    assert ops.read_or_lease(other_family).body == BODY


def test_a_lost_namespace_key_never_revives_old_values(fake_redis):
    fill_now()
    fake_redis.delete(ops.full_name(keys.namespace(cache.RECIPE)))  # e.g. evicted
    assert ops.read_or_lease(KEY).body is None


def test_a_bump_of_a_lost_namespace_key_never_revives_values_of_an_old_small_version(fake_redis):
    version = ops.full_name(keys.namespace(cache.RECIPE))
    fake_redis.set(
        ops.full_name(KEY.name), ops.wrap(1, BODY)
    )  # stored under version 1 (a counter once re-made by INCR)
    fake_redis.delete(version)  # lost again
    before = time.time_ns() // 1000
    ops.bump_namespace(cache.RECIPE)
    assert int(fake_redis.get(version)) > before  # re-created from the clock, then bumped: never 1 again
    assert ops.read_or_lease(KEY).body is None


def test_fill_under_an_old_namespace_is_not_served():
    lease = ops.read_or_lease(KEY).lease
    ops.bump_namespace(cache.RECIPE)  # no DEL of this key: only the version moved
    assert ops.fill(KEY, lease, BODY)  # lands, but under the old version...
    assert ops.read_or_lease(KEY).body is None  # ...so it is never served


def test_reads_count_hits_and_misses_per_family(fake_redis):
    ops.read_or_lease(KEY)
    ops.read_or_lease(KEY, count=False)
    fake_redis.delete(ops.full_name(keys.lease(KEY)))
    fill_now()
    ops.read_or_lease(KEY)
    counts = fake_redis.hgetall(ops.full_name(keys.STATS))
    assert counts == {b"recipe:misses": b"2", b"recipe:hits": b"1"}


def test_invalidate_and_lease_makes_readers_wait_for_the_callers_fill(fake_redis):
    fill_now()
    leases = ops.invalidate_and_lease([KEY], [KEY])
    reader = ops.read_or_lease(KEY)
    assert reader.body is None and reader.lease is None  # someone (the caller) is filling
    assert ops.fill_many([(KEY, leases[KEY], b'{"new":1}')]) == 1
    assert ops.read_or_lease(KEY).body == b'{"new":1}'


def test_invalidate_and_lease_returns_the_namespace_after_the_bump():
    listing = cache.recipe_list(None, 1)
    leases = ops.invalidate_and_lease([listing], [listing], [cache.RECIPE_LIST])
    assert ops.fill(listing, leases[listing], b"[]")
    assert ops.read_or_lease(listing).body == b"[]"


def test_take_lease_keeps_the_value_and_a_second_lease_is_refused():
    fill_now()
    lease = ops.take_lease(KEY)
    assert lease is not None and ops.take_lease(KEY) is None
    assert ops.read_or_lease(KEY).body == BODY  # readers keep hitting meanwhile
    assert ops.fill(KEY, lease, b'{"refreshed":1}')
    assert ops.read_or_lease(KEY).body == b'{"refreshed":1}'


def test_release_gives_the_lease_back_only_to_its_holder():
    lease = ops.read_or_lease(KEY).lease
    ops.release(KEY, ops.Lease("someone-else", lease.ns))
    assert ops.read_or_lease(KEY).lease is None
    ops.release(KEY, lease)
    assert ops.read_or_lease(KEY).lease is not None


def test_hot_reader_is_recorded_in_the_same_script(fake_redis):
    ops.read_or_lease(cache.shopping_lists(7))
    ops.read_or_lease(cache.shopping_lists(7), count=False)  # polls do not count
    assert fake_redis.zrange(ops.full_name(keys.hot_set(cache.SHOPPING_LISTS)), 0, -1, withscores=True) == [
        (b"7:10:1", 1.0)
    ]


def test_nothing_to_invalidate_is_no_round_trip():
    assert ops.invalidate_and_lease([], [], []) == {}


# --- Visibility of the writes' transaction ids (lua/all_visible.lua, lua/invalidate_seen.lua) -----------------
# Snapshots as pg_current_snapshot() prints them: 'xmin:xmax:xip,...'. Write 105 committed while 103 ran.
SAW_105 = "103:106:103"  # taken after 105 committed, while 103 was still in progress
BEFORE_105 = "103:105:103"  # taken before 105 was assigned


def fill_with_snapshot(snapshot, key=KEY, body=BODY):
    lease = ops.read_or_lease(key).lease
    assert ops.fill(key, lease, body, snapshot=snapshot)


@pytest.mark.parametrize(
    ("snapshot", "xids", "kept"),
    [
        (SAW_105, [105], True),  # below xmax, not in progress
        (SAW_105, [102], True),  # below xmin
        (SAW_105, [103], False),  # in progress when the value was computed
        (BEFORE_105, [105], False),  # at or above xmax
        (SAW_105, [102, 103], False),  # one unseen write is enough
        (None, [102], False),  # no snapshot: voided as before
    ],
)
def test_a_value_is_kept_only_if_its_snapshot_saw_every_write(fake_redis, snapshot, xids, kept):
    fill_with_snapshot(snapshot)
    ops.invalidate([KEY], xids=xids)
    assert (ops.read_or_lease(KEY).body == BODY) is kept


def test_a_value_with_a_snapshot_is_still_served_byte_for_byte_in_one_script(fake_redis):
    fill_with_snapshot(SAW_105)
    assert b'"snap":"103:106:103"' in raw(fake_redis, KEY.name)
    assert ops.read_or_lease(KEY).body == BODY


@pytest.mark.parametrize(("snapshot", "lands"), [(SAW_105, True), (BEFORE_105, False), ("", False)])
def test_a_fill_in_flight_lands_only_if_its_snapshot_saw_the_write(fake_redis, snapshot, lands):
    lease = ops.read_or_lease(KEY).lease
    ops.invalidate([KEY], xids=[105])  # marks the lease instead of deleting it
    ops.invalidate([KEY], xids=[105])  # the write's next pass: marked again
    assert ops.fill(KEY, lease, BODY, snapshot=snapshot) is lands
    assert fake_redis.get(ops.full_name(keys.lease(KEY))) is None  # released either way
    assert (ops.read_or_lease(KEY).body == BODY) is lands


def test_a_marked_lease_is_still_its_holders_to_release(fake_redis):
    lease = ops.read_or_lease(KEY).lease
    ops.invalidate([KEY], xids=[105])
    ops.release(KEY, ops.Lease("someone-else", lease.ns))
    assert ops.read_or_lease(KEY).lease is None
    ops.release(KEY, lease)
    assert ops.read_or_lease(KEY).lease is not None


def test_a_family_is_bumped_once_per_write_however_many_passes(fake_redis):
    listing = cache.recipe_list(None, 1)
    ops.invalidate([], [cache.RECIPE_LIST], xids=[105])
    fill_with_snapshot(SAW_105, listing)
    ops.invalidate([], [cache.RECIPE_LIST], xids=[105])  # the listener's and the task's passes of the same write
    ops.invalidate([], [cache.RECIPE_LIST], xids=[105])
    assert ops.read_or_lease(listing).body == BODY
    ops.invalidate([], [cache.RECIPE_LIST], xids=[105, 107])  # a batch with a new write bumps
    assert ops.read_or_lease(listing).body is None


def test_a_refill_lease_is_not_taken_for_a_value_that_saw_the_write(fake_redis):
    fill_with_snapshot(SAW_105)
    other = cache.recipe(43)
    leases = ops.invalidate_and_lease([], [KEY, other], xids=[105])
    assert set(leases) == {other}
    assert ops.read_or_lease(KEY).body == BODY


def test_the_writes_xids_pass_publishes_after_the_drop_in_the_same_script(fake_redis):
    pubsub = fake_redis.pubsub()
    pubsub.subscribe("events")
    pubsub.get_message(timeout=1)
    fill_now()
    ops.invalidate([KEY], then_publish=[("events", b"hello")], xids=[105])
    assert raw(fake_redis, KEY.name) is None
    assert pubsub.get_message(timeout=1)["data"] == b"hello"


def test_per_key_xids_spare_each_key_by_the_writes_that_touch_it(fake_redis):
    other, unknown = cache.recipe(43), cache.recipe(44)
    for key in (KEY, other, unknown):
        fill_with_snapshot(SAW_105, key)
    pubsub = fake_redis.pubsub()
    pubsub.subscribe("events")
    pubsub.get_message(timeout=1)

    ops.invalidate([KEY, other, unknown], then_publish=[("events", b"hello")], xids={KEY: (105,), other: (107,)})

    assert ops.read_or_lease(KEY).body == BODY  # saw its one write
    assert raw(fake_redis, other.name) is None  # did not see 107
    assert raw(fake_redis, unknown.name) is None  # no xids for it: dropped as without them
    assert pubsub.get_message(timeout=1)["data"] == b"hello"  # published once, after every drop


def test_more_distinct_xid_sets_than_the_bound_fall_back_to_their_union(fake_redis, monkeypatch):
    monkeypatch.setattr(ops, "XID_GROUPS_MAX", 1)
    other = cache.recipe(43)
    fill_with_snapshot(SAW_105, KEY)
    fill_with_snapshot(SAW_105, other)

    ops.invalidate([KEY, other], xids={KEY: (105,), other: (102,)})  # union 102, 105: both seen
    assert ops.read_or_lease(KEY).body == BODY and ops.read_or_lease(other).body == BODY
    ops.invalidate([KEY, other], xids={KEY: (105,), other: (107,)})  # union 105, 107: neither kept
    assert raw(fake_redis, KEY.name) is None and raw(fake_redis, other.name) is None
