"""Issue 12 item 4: a cached read inside a transaction that wrote to captured tables answers from that transaction
but never fills the cache (cacheops and cachalot refuse to cache in a dirty transaction too), so a rollback
cannot leave data that never existed cached. Real PostgreSQL (committed rows, real rollbacks) and real Redis."""

import datetime as dt

import pytest
from django.db import transaction

from eventcache.store import readthrough
from planner import cache, payloads
from tests.fixtures.worker import raw_cache_value

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DAY = dt.date(2031, 1, 6)


class Rollback(Exception):
    pass


@pytest.fixture
def planned_soup(transactional_db, real_cache):
    """A committed recipe "Soup" on a family's meal plan; nothing cached yet."""
    from django.contrib.auth.models import User

    from planner.models import Family, MealPlan, MealPlanEntry, Recipe

    soup = Recipe.objects.create(author=User.objects.create_user("cook"), title="Soup", servings=2)
    family = Family.objects.create(name="Smiths")
    plan = MealPlan.objects.create(family=family, date=DAY)
    MealPlanEntry.objects.create(meal_plan=plan, meal="dinner", recipe=soup, servings=2)
    real_cache.flushdb()  # the set-up's own commits dropped keys and bumped namespaces: start from nothing
    return soup, family


def _read_recipe(recipe_id):
    return readthrough.read(cache.recipe(recipe_id), lambda: payloads.recipe_detail(recipe_id))


def _read_plan(family_id):
    return readthrough.read(cache.meal_plan(DAY, family_id), lambda: payloads.meal_plan(family_id, DAY))


def _titles(body: bytes) -> bool:
    return b"Ghost" in body, b"Soup" in body


def test_a_read_after_a_write_in_a_transaction_answers_it_but_a_rollback_leaves_nothing_cached(
    planned_soup, real_cache
):
    """Row 11 of issue 13's matrix: cold keys, write, read inside the transaction, roll back."""
    from planner.models import Recipe

    soup, family = planned_soup
    try:
        with transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="Ghost")
            inside = [_read_recipe(soup.id), _read_plan(family.id)]
            raise Rollback
    except Rollback:
        pass

    assert [_titles(read.body) for read in inside] == [(True, False)] * 2, "the transaction reads its own write"
    assert raw_cache_value(real_cache, cache.recipe(soup.id)) is None
    assert raw_cache_value(real_cache, cache.meal_plan(DAY, family.id)) is None
    after = [_read_recipe(soup.id), _read_plan(family.id)]
    assert [(_titles(read.body), read.hit) for read in after] == [((False, True), False)] * 2
    assert [_read_recipe(soup.id).hit, _read_plan(family.id).hit] == [True, True], "committed data fills as usual"


def test_a_cached_value_is_not_served_to_a_transaction_that_changed_its_rows(planned_soup, real_cache):
    """Inside the transaction the cached value is older than the transaction's own write: it computes instead."""
    from planner.models import Recipe

    soup, _ = planned_soup
    assert not _read_recipe(soup.id).hit and _read_recipe(soup.id).hit
    try:
        with transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="Ghost")
            inside = _read_recipe(soup.id)
            raise Rollback
    except Rollback:
        pass
    assert (_titles(inside.body), inside.hit) == ((True, False), False)
    after = _read_recipe(soup.id)
    assert (_titles(after.body), after.hit) == ((False, True), True), "the committed value stayed cached"


def test_a_write_in_a_rolled_back_savepoint_leaves_the_transaction_clean(planned_soup, real_cache):
    from planner.models import Recipe

    soup, _ = planned_soup
    with transaction.atomic():
        try:
            with transaction.atomic():
                Recipe.objects.filter(id=soup.id).update(title="Ghost")
                raise Rollback
        except Rollback:
            pass
        first = _read_recipe(soup.id)
    assert (_titles(first.body), first.hit) == ((False, True), False)
    assert _read_recipe(soup.id).hit


def test_reads_in_a_transaction_that_wrote_nothing_captured_still_fill(planned_soup, real_cache):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    soup, _ = planned_soup
    with transaction.atomic():
        Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now())  # not captured
        assert not _read_recipe(soup.id).hit
        assert _read_recipe(soup.id).hit


def test_a_committed_write_then_a_read_fills_from_the_committed_rows(planned_soup, real_cache):
    from planner.models import Recipe

    soup, _ = planned_soup
    with transaction.atomic():
        Recipe.objects.filter(id=soup.id).update(title="Ghost")
        assert not _read_recipe(soup.id).hit
    after = _read_recipe(soup.id)
    assert (_titles(after.body), after.hit) == ((True, False), False)
    assert _read_recipe(soup.id).hit


def test_a_lease_taken_in_a_combined_round_trip_is_given_back(planned_soup, real_cache):
    """read_authenticated (api.identity) takes the value's read-or-lease before read() knows the transaction is
    dirty: read() gives that lease back, so the next reader fills at once instead of waiting it out."""
    from eventcache.store import ops
    from planner.models import Recipe

    soup, _ = planned_soup
    key = cache.recipe(soup.id)
    try:
        with transaction.atomic():
            Recipe.objects.filter(id=soup.id).update(title="Ghost")
            first = ops.read_or_lease(key)
            assert first.lease is not None
            inside = readthrough.read(key, lambda: payloads.recipe_detail(soup.id), first=first)
            raise Rollback
    except Rollback:
        pass
    assert b"Ghost" in inside.body
    assert ops.read_or_lease(key).lease is not None, "the lease was left to expire"
