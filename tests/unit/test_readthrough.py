"""eventcache/store/readthrough.py on fakeredis: hits, one filler per miss, waiting, Redis failures, refresh."""

import datetime as dt
import decimal
import logging
import threading
import time

import pytest
import redis

from eventcache import stats
from eventcache.store import ops, plain, readthrough
from planner import cache

KEY = cache.recipe(42)


def fail():
    raise AssertionError("compute must not run")


@pytest.fixture
def down(monkeypatch, fake_redis):
    """Switch the store between fakeredis and a port where nothing listens."""
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))

    def switch(is_down: bool):
        monkeypatch.setattr(ops, "connection", (lambda: dead) if is_down else (lambda: fake_redis))

    monkeypatch.setattr(readthrough, "RECOVERY_PROBE_SECONDS", 0.0)
    return switch


def test_miss_computes_once_then_hits_with_the_same_bytes(fake_redis, counting_compute):
    compute = counting_compute({"when": dt.date(2030, 1, 7), "qty": decimal.Decimal("1.50"), "name": "Soup"})
    first = readthrough.read(KEY, compute)
    assert first == readthrough.CacheRead(b'{"when":"2030-01-07","qty":"1.50","name":"Soup"}', False)
    second = readthrough.read(KEY, compute)
    assert second == readthrough.CacheRead(first.body, True)
    assert compute.calls == 1
    assert stats.snapshot()["recipe:computations"] == 1


def test_a_failing_compute_gives_the_lease_back(fake_redis):
    def broken():
        raise LookupError("no such recipe")

    with pytest.raises(LookupError):
        readthrough.read(KEY, broken)
    assert ops.read_or_lease(KEY).lease is not None  # the next reader does not have to wait it out


def test_a_waiter_is_served_the_holders_value_as_a_hit(fake_redis):
    holder = ops.read_or_lease(KEY).lease

    def fill_once_the_reader_waits():
        while stats.snapshot().get("recipe:lease_waits", 0) == 0:
            time.sleep(0.001)
        ops.fill(KEY, holder, b'{"from":"holder"}')

    filler = threading.Thread(target=fill_once_the_reader_waits)
    filler.start()
    result = readthrough.read(KEY, fail)
    filler.join()
    assert result == readthrough.CacheRead(b'{"from":"holder"}', True)


def test_a_waiter_computes_without_filling_after_the_wait_bound(fake_redis, settings, counting_compute):
    settings.CACHE_LEASE_WAIT_SECONDS = 0.05
    ops.read_or_lease(KEY)  # someone takes the lease and never fills
    compute = counting_compute()
    assert readthrough.read(KEY, compute) == readthrough.CacheRead(b'{"call":1}', False)
    assert fake_redis.get(ops.full_name(KEY.name)) is None
    assert stats.snapshot()["recipe:lease_wait_timeouts"] == 1


def test_a_waiter_whose_holder_was_invalidated_takes_over(fake_redis, counting_compute):
    ops.read_or_lease(KEY)

    def invalidate_once_the_reader_waits():
        while stats.snapshot().get("recipe:lease_waits", 0) == 0:
            time.sleep(0.001)
        ops.invalidate([KEY])

    thread = threading.Thread(target=invalidate_once_the_reader_waits)
    thread.start()
    compute = counting_compute()
    assert readthrough.read(KEY, compute).hit is False
    thread.join()
    assert readthrough.read(KEY, fail).body == b'{"call":1}'  # it filled under its own lease


def test_redis_down_reads_compute_and_count_and_log_once(down, counting_compute, caplog):
    down(True)
    compute = counting_compute()
    with caplog.at_level(logging.ERROR, logger="eventcache.store.readthrough"):
        assert readthrough.read(KEY, compute) == readthrough.CacheRead(b'{"call":1}', False)
        assert readthrough.read(KEY, compute) == readthrough.CacheRead(b'{"call":2}', False)
    assert readthrough.is_degraded()
    assert stats.snapshot()[stats.REDIS_ERRORS] >= 1
    assert len([r for r in caplog.records if "Redis is unavailable" in r.getMessage()]) == 1


def test_recovery_callbacks_run_once_before_the_cache_is_used_again(down, fake_redis, counting_compute):
    calls = []
    readthrough.register_recovery_callback(lambda: calls.append(fake_redis.get(ops.full_name(KEY.name))))
    readthrough.read(KEY, counting_compute({"v": "cached before the outage"}))
    down(True)
    readthrough.read(KEY, counting_compute())
    down(False)
    compute = counting_compute({"v": "after"})
    assert readthrough.read(KEY, compute).hit is True
    assert readthrough.read(KEY, compute).hit is True
    assert len(calls) == 1 and not readthrough.is_degraded()


def test_a_failing_recovery_callback_keeps_reads_on_the_database(down, counting_compute):
    def still_broken():
        raise RuntimeError("cannot deliver pending events yet")

    readthrough.register_recovery_callback(still_broken)
    down(True)
    readthrough.read(KEY, counting_compute())
    down(False)
    assert readthrough.read(KEY, counting_compute()).hit is False
    assert readthrough.read(KEY, counting_compute()).hit is False  # never filled while degraded
    assert readthrough.is_degraded()


def test_reads_can_be_switched_off(fake_redis, settings, counting_compute):
    settings.CACHE_READS_ENABLED = False
    compute = counting_compute()
    readthrough.read(KEY, compute)
    assert readthrough.read(KEY, compute).hit is False and compute.calls == 2


def test_refresh_replaces_the_value_without_dropping_it(fake_redis):
    readthrough.read(KEY, lambda: {"v": 1})
    assert readthrough.refresh(KEY, lambda: {"v": 2}, ttl=60)
    assert readthrough.read(KEY, fail).body == b'{"v":2}'
    assert fake_redis.pttl(ops.full_name(KEY.name)) <= 60_000


def test_refresh_gives_way_to_a_lease_holder(fake_redis):
    ops.read_or_lease(KEY)
    assert readthrough.refresh(KEY, fail) is False


def test_refresh_is_voided_by_an_invalidation_during_its_computation(fake_redis):
    def compute_while_invalidated():
        ops.invalidate([KEY])
        return {"v": "old"}

    assert readthrough.refresh(KEY, compute_while_invalidated) is False
    assert fake_redis.get(ops.full_name(KEY.name)) is None


def test_without_redis_the_plain_cache_does_the_same(plain_cache, counting_compute):
    assert readthrough.cache_ops() is plain
    compute = counting_compute()
    assert readthrough.read(KEY, compute) == readthrough.CacheRead(b'{"call":1}', False)
    assert readthrough.read(KEY, compute) == readthrough.CacheRead(b'{"call":1}', True)
    plain.invalidate([KEY])
    assert readthrough.read(KEY, compute).body == b'{"call":2}'
    plain.bump_namespace(cache.RECIPE)
    assert readthrough.read(KEY, compute).body == b'{"call":3}'
    assert readthrough.refresh(KEY, lambda: {"v": 9})
    assert readthrough.read(KEY, fail).body == b'{"v":9}'
    assert stats.snapshot()["recipe:hits"] == 2
