"""Issue 12 item 12: one hostile message on the real pub/sub channel must not knock the worker's listener offline.

Each message below used to escape the listener's per-message handling (ValueError from round(NaN), OverflowError
from an `at` near the float limit, RecursionError from json.loads, TypeError from an unhashable kind), so the
listener dropped its subscription and reconnected after a 0.5 s backoff: the events published meanwhile were
missed. Here each one is published on the real channel, to a real listener thread on real Redis and PostgreSQL,
immediately followed by a real event: the listener must reject the first (logged, counted), stay subscribed, and
drop the keys of the second. `at: 1` is a real event whose lag is left out of the lag total (events.lag_ms)."""

import json
import logging
import time
import uuid

import pytest
import redis

from eventcache import events as schema
from eventcache import stats
from eventcache.consume import listener as listener_module
from eventcache.store import readthrough
from planner import cache
from tests.fixtures.worker import raw_cache_value, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

DROP_SECONDS = 5.0  # a bound for a busy machine, never slept


def _event(recipe_id: int, **changes) -> str:
    message = schema.to_dict(cache.RecipeChanged(id=1, at=time.time(), recipe_id=recipe_id))
    message.update(changes)
    return json.dumps(message)


HOSTILE = {
    "at NaN": lambda rid: _event(rid, at=float("nan")),
    "at Infinity": lambda rid: _event(rid, at=float("inf")),
    "at huge int": lambda rid: _event(rid, at=10**400),
    "deep nesting": lambda rid: "[" * 20_000 + "]" * 20_000,
    "kind is a list": lambda rid: _event(rid, kind=["recipe.changed"]),
    "data is a string": lambda rid: _event(rid, data="recipe_id"),
    "id beyond bigint": lambda rid: _event(rid, id=2**63),
}


@pytest.fixture
def soup(transactional_db, real_cache):
    from django.contrib.auth.models import User

    from planner.models import Recipe

    recipe = Recipe.objects.create(author=User.objects.create_user("cook"), title="Soup")
    real_cache.flushdb()
    return recipe


@pytest.fixture
def running_listener(settings):
    settings.EVENTS_CHANNEL = f"{settings.EVENTS_CHANNEL}:test-{uuid.uuid4().hex}"  # channels are server-wide
    settings.EVENTS_DROP_ON_PUBLISH = True
    monitor = listener_module.EventMonitor()
    monitor.start()
    assert monitor.subscribed.wait(5), "the listener did not subscribe"
    yield monitor
    monitor.stop()


def _warm(recipe_id: int):
    key = cache.recipe(recipe_id)
    readthrough.read(key, lambda: {"title": "Soup"})
    assert readthrough.read(key, lambda: None).hit
    return key


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_message_is_rejected_and_the_next_event_is_not_missed(
    name, soup, running_listener, real_cache, settings, caplog
):
    caplog.set_level(logging.INFO, logger="eventcache.consume.listener")
    key = _warm(soup.id)
    publisher = redis.Redis.from_url(settings.REDIS_URL)

    assert publisher.publish(settings.EVENTS_CHANNEL, HOSTILE[name](soup.id)) == 1
    assert publisher.publish(settings.EVENTS_CHANNEL, _event(soup.id)) == 1  # right behind it

    assert wait_until(lambda: raw_cache_value(real_cache, key) is None, DROP_SECONDS), "the next event was missed"
    assert wait_until(lambda: stats.snapshot().get(stats.EVENTS_REJECTED) == 1, DROP_SECONDS)
    assert "pub/sub message rejected" in caplog.text
    assert "reconnecting" not in caplog.text
    assert running_listener.subscribed.is_set()
    assert publisher.pubsub_numsub(settings.EVENTS_CHANNEL) == [(settings.EVENTS_CHANNEL.encode(), 1)]
    publisher.close()


@pytest.mark.parametrize("at", [1, 1e308], ids=["at 1", "at 1e308"])
def test_an_at_far_from_now_is_dropped_but_kept_out_of_the_lag(at, soup, running_listener, real_cache, settings):
    key = _warm(soup.id)
    publisher = redis.Redis.from_url(settings.REDIS_URL)

    publisher.publish(settings.EVENTS_CHANNEL, _event(soup.id, at=at))
    assert wait_until(lambda: raw_cache_value(real_cache, key) is None, DROP_SECONDS)
    key = _warm(soup.id)
    publisher.publish(settings.EVENTS_CHANNEL, _event(soup.id))
    assert wait_until(lambda: raw_cache_value(real_cache, key) is None, DROP_SECONDS)

    assert wait_until(lambda: stats.snapshot().get(stats.EVENTS_SEEN) == 2, DROP_SECONDS)
    counts = stats.snapshot()
    assert counts.get(listener_module.LAG_IGNORED) == 1
    assert 0 <= counts.get(listener_module.LAG_TOTAL, 0) < DROP_SECONDS * 1000, "the lag total holds only real lag"
    assert stats.EVENTS_REJECTED not in counts
    publisher.close()
