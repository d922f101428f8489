"""The listener role (eventcache/consume/lease.py) against real Redis: one holder at a time, renewed within its term,
taken over when the holder stops renewing or gives it up; and two real EventMonitors (the worker's listener) in
threads of this process: one drops each published event, the other stands by and takes over when it stops.
The same with worker processes killed by SIGKILL: tests/faults/test_listener_failover.py."""

import time

import pytest
from django.core.signals import request_finished, request_started

from eventcache import stats
from eventcache.consume import listener as monitor_module
from eventcache.consume.lease import RoleLease
from eventcache.models import OutboxEvent
from planner.models import Recipe
from tests.fixtures.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TERM, RENEW = 0.6, 0.15  # short, so expiry is seen quickly; the defaults are in settings


def test_one_holder_at_a_time_and_the_term_ends_an_unrenewed_lease(redis_conn):
    first, second = RoleLease("test", TERM, RENEW), RoleLease("test", TERM, RENEW)

    assert first.hold() and not second.hold()
    assert first.holder() == first.token and first.token != second.token
    assert 0 < redis_conn.pttl(first.key) <= TERM * 1000

    time.sleep(TERM / 2)
    assert first.hold()  # renewed: a full term from now
    time.sleep(TERM * 0.75)
    assert not second.hold()  # past the first term, but renewed within it

    assert wait_until(second.hold, TERM + 1.0, RENEW)  # `first` stopped renewing (it died): its term ends
    assert not first.hold() and not first.held  # it finds the role another's and knows it lost it


def test_giving_up_hands_the_role_over_at_once_and_never_removes_another_holders_lease(redis_conn):
    first, second = RoleLease("test", 30.0, RENEW), RoleLease("test", 30.0, RENEW)
    assert first.hold() and not second.hold()

    second.held = True  # even a process that wrongly believes it holds the role
    second.release()
    assert first.holder() == first.token

    first.release()
    assert second.hold()  # at once, not after the 30 s term


def test_renew_within_the_term_is_required(redis_conn):
    with pytest.raises(ValueError):
        RoleLease("test", 1.0, 1.0)


@pytest.fixture
def world(family_world, outbox, broker_conn, redis_conn):
    broker_conn.flushdb()
    return family_world


@pytest.fixture
def listeners(settings):
    """Start n EventMonitors (the worker's listener, each with its own token, as in K worker processes)."""
    settings.EVENTS_DROP_ON_PUBLISH = True
    settings.EVENTS_LISTENER_LEASE_SECONDS = TERM
    settings.EVENTS_LISTENER_RENEW_SECONDS = RENEW
    started = []

    def start(n):
        for _ in range(n):
            started.append(monitor_module.EventMonitor())
            started[-1].start()
        assert wait_until(lambda: sum(m.subscribed.is_set() for m in started) == 1, 5), "no listener took the role"
        return list(started)

    yield start
    for monitor in started:
        monitor.stop()


def _writes(recipe, n):
    for i in range(n):
        request_started.send(sender=None)
        try:
            Recipe.objects.filter(id=recipe.id).update(title=f"Soup {i}")
        finally:
            request_finished.send(sender=None)  # the relay publishes


def _counter(name):
    return stats.snapshot().get(name, 0)


def test_of_three_listeners_one_looks_each_event_up_and_the_next_takes_over_when_it_stops(world, listeners):
    monitors = listeners(3)
    holder = next(m for m in monitors if m.subscribed.is_set())
    time.sleep(3 * RENEW)  # stand-bys have tried for the role meanwhile, and failed
    assert sum(m.subscribed.is_set() for m in monitors) == 1

    _writes(world["soup"], 5)
    events = OutboxEvent.objects.count()
    assert wait_until(lambda: _counter(monitor_module.DROPPED) >= events, 5)
    time.sleep(0.3)  # a second listener's look-ups would have been counted by now
    assert _counter(stats.lookups("listener")) == events  # one look-up per event, not three
    assert _counter(stats.EVENTS_SEEN) == events

    holder.stop()  # a clean stop gives the role up: a stand-by takes it at its next try
    assert wait_until(lambda: sum(m.subscribed.is_set() for m in monitors) == 1, RENEW + 2.0)
    _writes(world["salad"], 1)
    more = OutboxEvent.objects.count()
    assert wait_until(lambda: _counter(stats.lookups("listener")) == more, 5)


def test_without_the_lease_every_listener_looks_every_event_up(world, settings):
    """What the role saves: with EVENTS_LISTENER_LEASE_SECONDS=0 (as before it) K listeners look each event up K times."""
    settings.EVENTS_DROP_ON_PUBLISH = True
    settings.EVENTS_LISTENER_LEASE_SECONDS = 0
    started = [monitor_module.EventMonitor() for _ in range(2)]
    try:
        for monitor in started:
            monitor.start()
        assert all(monitor.subscribed.wait(5) for monitor in started)
        _writes(world["soup"], 3)
        events = OutboxEvent.objects.count()
        assert wait_until(lambda: _counter(stats.lookups("listener")) == 2 * events, 5)
    finally:
        for monitor in started:
            monitor.stop()
