"""No stampede: 100 concurrent readers of a just-invalidated shopping list cause exactly one computation.
Real Redis and PostgreSQL; the one computation holds until every other reader is waiting on its lease."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection

from eventcache import stats
from eventcache.store import invalidation, readthrough
from planner import cache
from tests.factories import FamilyFactory, MealPlanFactory, RecipeFactory, UserFactory

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

READERS = 100
WAIT = 10  # seconds; a bound for a broken test only


@pytest.fixture
def shopper(transactional_db):
    from planner import shopping

    family = FamilyFactory(name="Hungry")
    user = UserFactory(username="shopper", family=family)
    monday = dt.date(2030, 1, 7)
    for day in range(7):
        lines = [(f"item {day}-{n}", n + 1, "g") for n in range(3)]
        recipe = RecipeFactory(author=user, title=f"Dish {day}", ingredients=lines)
        MealPlanFactory(family=family, date=monday + dt.timedelta(days=day), entries=[(recipe, 2)])
    shopping.create_list(user.id, family.id, monday, monday + dt.timedelta(days=6))
    return user.id


def test_one_computation_for_a_hundred_readers_of_a_just_invalidated_list(real_cache, shopper, settings):
    from planner import payloads

    settings.CACHE_LEASE_WAIT_SECONDS = WAIT  # waiters must outlast the deliberately slow computation
    settings.HOT_LISTS_TOP_N = (
        0  # the read below makes the list hot, and a hot list is re-filled at once, not left empty
    )
    key = cache.shopping_lists(shopper)
    readthrough.read(key, lambda: payloads.shopping_lists(shopper, 1, 10))
    invalidation.apply_events([cache.ShoppingListChanged(id=1, at=0.0, user_id=shopper)])
    waits_before = stats.snapshot().get("shopping_lists:lease_waits", 0)

    computations = []

    def compute():
        computations.append(1)
        payload = payloads.shopping_lists(shopper, 1, 10)
        deadline = time.monotonic() + WAIT
        # Hold the lease until the 99 others are all waiting for it (each counts itself before polling).
        while stats.snapshot().get("shopping_lists:lease_waits", 0) - waits_before < READERS - 1:
            assert time.monotonic() < deadline, "the other readers never started waiting"
            time.sleep(0.005)
        return payload

    start = threading.Barrier(READERS)
    results = [None] * READERS

    def reader(index):
        try:
            start.wait(WAIT)
            results[index] = readthrough.read(key, compute)
        finally:
            connection.close()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2 * WAIT)

    assert len(computations) == 1
    assert all(result is not None for result in results)
    assert len({result.body for result in results}) == 1
    assert sorted(result.hit for result in results) == [False] + [True] * (READERS - 1)
    assert stats.snapshot().get("shopping_lists:lease_wait_timeouts", 0) == 0
