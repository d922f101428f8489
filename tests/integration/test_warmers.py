"""Beat warmers on the real Redis and PostgreSQL: hot lists refreshed, preferences at 24 h minus jitter."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from eventcache import warm
from eventcache.store import hotness, ops, readthrough
from planner import cache
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def users(db):
    """Five users who logged in yesterday, two who last did 90 days ago, one who never did."""
    now = timezone.now()
    active = [UserFactory(username=f"active{n}", last_login=now - dt.timedelta(days=1)) for n in range(5)]
    stale = [UserFactory(username=f"stale{n}", last_login=now - dt.timedelta(days=90)) for n in range(2)]
    never = UserFactory(username="never")
    return {"active": [u.id for u in active], "inactive": [u.id for u in stale] + [never.id]}


def test_preferences_of_active_users_are_refreshed_with_ttl_jitter(real_cache, users, settings):
    from planner.models import UserPreferences

    settings.PREFERENCES_REFRESH_CHUNK = 2
    settings.PREFERENCES_TTL_JITTER_SECONDS = 3600
    UserPreferences.objects.create(user_id=users["active"][0], diet="vegan")
    readthrough.read(cache.preferences(users["active"][0]), lambda: {"diet": "stale value"})

    assert warm.run("refresh_preferences") == 5

    for uid in users["active"]:
        name = ops.full_name(cache.preferences(uid).name)
        assert 24 * 3600 - 3600 <= real_cache.ttl(name) <= 24 * 3600
    assert (
        json.loads(real_cache.get(ops.full_name(cache.preferences(users["active"][0]).name)))["body"]["diet"] == "vegan"
    )
    assert all(real_cache.get(ops.full_name(cache.preferences(uid).name)) is None for uid in users["inactive"])


def test_active_users_are_read_in_bounded_keyset_pages(users, django_assert_num_queries, settings):
    settings.PREFERENCES_REFRESH_CHUNK = 2
    with django_assert_num_queries(3):  # one query per page; a short page is the last
        pages = list(cache.active_user_pages())
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [values["user_id"] for page in pages for values in page] == sorted(users["active"])


def test_jitter_spreads_expiry(settings):
    settings.PREFERENCES_TTL_JITTER_SECONDS = 3600
    ttls = {cache.preferences_ttl() for _ in range(200)}
    assert len(ttls) > 1 and all(20 * 3600 <= ttl <= 24 * 3600 for ttl in ttls)


def test_hot_lists_are_refreshed_ahead_of_expiry(real_cache, users, settings):
    from planner import payloads

    settings.HOT_LISTS_TOP_N = 2
    hot, cold = users["active"][:2], users["active"][2]
    for uid in hot:
        hotness.record(cache.shopping_lists(uid))
        readthrough.read(cache.shopping_lists(uid), lambda: {"results": ["old"]})
    hotness.record(cache.shopping_lists(hot[0]))

    assert warm.run("refresh_hot_lists") == 2

    for uid in hot:
        body = json.loads(real_cache.get(ops.full_name(cache.shopping_lists(uid).name)))["body"]
        assert body == payloads.shopping_lists(uid, 1, 10)
    assert real_cache.get(ops.full_name(cache.shopping_lists(cold).name)) is None
