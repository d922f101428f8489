"""The hit path of a logged-in cached read, against real Redis and PostgreSQL: with the hint cookie set at
login, the session, the identity and the value come in ONE Redis round trip (api.identity), with zero
queries; and nothing about who may read what changed: a hint naming someone else, a stale or forged
session, a missing or garbage hint all end up in the separate reads and today's checks."""

import json

import pytest
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

from api.identity import HINT_COOKIE
from eventcache import stats
from eventcache.store import hotness, keys, ops
from planner import cache as planner_cache
from tests.fixtures.api import PANTRY_DAY as DAY
from tests.fixtures.api import ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ONE_TRIP = ["EVALSHA"]
SEPARATE_READS = ["GET", "EVALSHA", "EVALSHA"]  # the session (django-redis), the identity, the value


def _warm(client, path):
    """Read `path` until it is a hit (the first read fills it); returns the hit's body."""
    client.get(path)
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["X-Cache"] == "HIT"
    return response.content


def _set_hint(client, value):
    client.client.cookies[HINT_COOKIE] = value


def _ann_paths(ann_api, pantry):
    assert ann_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    list_id = json.loads(ann_api.get("/api/shopping-lists/").content)["results"][0]["id"]
    return [
        f"/api/recipes/{pantry['soup'].id}/",
        "/api/recipes/?tag=soup&page=1",
        "/api/shopping-lists/",
        f"/api/shopping-lists/{list_id}/",
        "/api/preferences/",
    ]


def test_a_cached_hit_is_one_redis_round_trip_and_no_query(
    ann_api, pantry, redis_round_trips, django_assert_num_queries
):
    for path in _ann_paths(ann_api, pantry):
        body = _warm(ann_api, path)
        redis_round_trips.clear()
        with django_assert_num_queries(0):
            response = ann_api.get(path)
        assert (response.status_code, response["X-Cache"], response.content) == (200, "HIT", body), path
        assert redis_round_trips == ONE_TRIP, path


def test_me_is_one_round_trip_and_a_meal_plan_two(
    ann_api, household, pantry, redis_round_trips, django_assert_num_queries
):
    assert ann_api.get("/api/me/").status_code == 200
    redis_round_trips.clear()
    with django_assert_num_queries(0):
        assert json.loads(ann_api.get("/api/me/").content)["id"] == household["ann"].id
    assert redis_round_trips == ONE_TRIP
    path = f"/api/meal-plans/{DAY}/"
    _warm(ann_api, path)
    redis_round_trips.clear()
    with django_assert_num_queries(0):
        assert ann_api.get(path)["X-Cache"] == "HIT"
    assert redis_round_trips == ["EVALSHA", "EVALSHA"]  # session + identity, then the family's plan


def test_the_one_trip_hit_serves_what_the_separate_reads_serve(ann_api, pantry, redis_round_trips):
    for path in _ann_paths(ann_api, pantry):
        fast = _warm(ann_api, path)
        hint = ann_api.client.cookies[HINT_COOKIE].value
        del ann_api.client.cookies[HINT_COOKIE]
        redis_round_trips.clear()
        slow = ann_api.get(path)
        assert redis_round_trips == SEPARATE_READS, path
        assert (slow["X-Cache"], slow.content) == ("HIT", fast), path
        _set_hint(ann_api, hint)


def test_a_hit_counts_the_identity_and_the_value_once_like_the_separate_reads(ann_api, pantry):
    path = f"/api/recipes/{pantry['soup'].id}/"
    _warm(ann_api, path)
    before = stats.snapshot()
    assert ann_api.get(path)["X-Cache"] == "HIT"
    after = stats.snapshot()
    changed = {
        name: after.get(name, 0) - before.get(name, 0) for name in after if after.get(name, 0) != before.get(name, 0)
    }
    assert changed == {"identity:hits": 1, "recipe:hits": 1}


def test_login_sets_the_hint_with_the_session_cookies_flags_and_logout_removes_it(api, household, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = api.login("ann")
    hint, session = response.cookies[HINT_COOKIE], response.cookies["sessionid"]
    assert hint.value == str(household["ann"].id)
    assert hint["httponly"] and hint["secure"] and hint["samesite"] == "Lax" == session["samesite"]
    assert hint["max-age"] == session["max-age"] and hint["path"] == session["path"]
    logout = api.post("/api/auth/logout/")
    assert logout.status_code == 204
    assert logout.cookies[HINT_COOKIE].value == "" and logout.cookies[HINT_COOKIE]["max-age"] == 0
    assert api.client.cookies[HINT_COOKIE].value == ""
    assert api.get("/api/me/").status_code == 401


def test_a_hint_naming_another_user_never_serves_their_data(
    ann_api, bob_api, household, pantry, redis_conn, redis_round_trips
):
    """Ann's session with Bob's id in the hint: Ann gets her own lists, preferences and identity, and the
    script touched nothing of Bob's (no hit counted, no lease taken, no hotness added)."""
    assert bob_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    assert ann_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    assert bob_api.patch("/api/preferences/", {"diet": "vegan"}).status_code == 200
    for path in ("/api/shopping-lists/", "/api/preferences/", "/api/me/"):
        bob_api.get(path)
        bob_api.get(path)
    own = {path: _warm(ann_api, path) for path in ("/api/shopping-lists/", "/api/preferences/")}
    bob_score = redis_conn.zscore(ops.full_name(keys.hot_set(planner_cache.SHOPPING_LISTS)), str(household["bob"].id))
    before = stats.snapshot()

    _set_hint(ann_api, str(household["bob"].id))
    redis_round_trips.clear()
    lists = ann_api.get("/api/shopping-lists/")
    assert redis_round_trips == ["EVALSHA", "EVALSHA", "EVALSHA"]  # the script read only the session
    assert (lists.status_code, lists.content) == (200, own["/api/shopping-lists/"])
    assert b"beef" not in lists.content and b"peas" in lists.content
    prefs = ann_api.get("/api/preferences/")
    assert prefs.content == own["/api/preferences/"] and json.loads(prefs.content)["diet"] == "omnivore"
    assert json.loads(ann_api.get("/api/me/").content)["id"] == household["ann"].id

    after = stats.snapshot()
    assert after.get("shopping_lists:hits", 0) - before.get("shopping_lists:hits", 0) == 1  # Ann's own read
    assert after.get("identity:hits", 0) - before.get("identity:hits", 0) == 3  # Ann's, once per request
    assert (
        redis_conn.zscore(ops.full_name(keys.hot_set(planner_cache.SHOPPING_LISTS)), str(household["bob"].id))
        == bob_score
    )
    for key in (
        planner_cache.shopping_lists(household["bob"].id),
        planner_cache.preferences(household["bob"].id),
        planner_cache.identity(household["bob"].id),
    ):
        assert not redis_conn.exists(ops.full_name(keys.lease(key)))


def test_a_hint_without_a_logged_in_session_is_401(api, household, pantry):
    _set_hint(api, str(household["ann"].id))
    assert api.get(f"/api/recipes/{pantry['soup'].id}/").status_code == 401
    api.client.cookies["sessionid"] = "not-a-session-key-of-anyone"
    response = api.get(f"/api/recipes/{pantry['soup'].id}/")
    assert response.status_code == 401
    assert response.cookies[HINT_COOKIE]["max-age"] == 0  # a 401 drops the hint with the session


def test_a_changed_password_still_ends_the_session_on_the_one_trip_path(ann_api, household, pantry, redis_round_trips):
    path = f"/api/recipes/{pantry['soup'].id}/"
    _warm(ann_api, path)
    ann = household["ann"]
    ann.set_password("a brand new password 123")
    ann.save()
    from django.core.cache import cache

    cache.delete(planner_cache.identity(ann.id).name)  # what the event pipeline does after a users-row change
    response = ann_api.get(path)
    assert response.status_code == 401
    assert SESSION_KEY not in ann_api.client.session
    assert response.cookies[HINT_COOKIE]["max-age"] == 0
    assert ann_api.get(path).status_code == 401


def test_a_session_hash_that_does_not_match_the_identity_is_401_and_reads_no_value(ann_api, pantry, redis_conn):
    """The identity is a hit but the session carries another hash (forged or from an old password): the
    script does not read the value, and Django's own check (database) ends the session."""
    assert ann_api.get("/api/me/").status_code == 200  # identity cached
    session = ann_api.client.session
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()
    recipe_key = planner_cache.recipe(pantry["soup"].id)
    before = stats.snapshot().get("recipe:misses", 0)
    assert ann_api.get(f"/api/recipes/{pantry['soup'].id}/").status_code == 401
    assert stats.snapshot().get("recipe:misses", 0) == before
    assert not redis_conn.exists(ops.full_name(keys.lease(recipe_key)))
    assert not redis_conn.exists(ops.full_name(recipe_key))


@pytest.mark.parametrize("hint", [None, "", "abc", "0", "-3", "1e3", " 5", "1²", "9" * 40, "1;2"])
def test_a_missing_or_garbage_hint_takes_the_separate_reads(
    ann_api, pantry, redis_round_trips, django_assert_num_queries, hint
):
    path = f"/api/recipes/{pantry['soup'].id}/"
    body = _warm(ann_api, path)
    if hint is None:
        del ann_api.client.cookies[HINT_COOKIE]
    else:
        _set_hint(ann_api, hint)
    redis_round_trips.clear()
    with django_assert_num_queries(0):
        response = ann_api.get(path)
    assert (response.status_code, response["X-Cache"], response.content) == (200, "HIT", body)
    assert redis_round_trips == SEPARATE_READS


def test_a_hint_naming_nobody_takes_the_separate_reads(ann_api, pantry, redis_round_trips):
    path = f"/api/recipes/{pantry['soup'].id}/"
    body = _warm(ann_api, path)
    _set_hint(ann_api, "987654321")
    redis_round_trips.clear()
    assert ann_api.get(path).content == body
    assert redis_round_trips == ["EVALSHA", "EVALSHA", "EVALSHA"]  # session only, then identity and value


def test_a_session_missing_from_redis_is_read_from_the_database(
    ann_api, pantry, redis_conn, redis_round_trips, django_assert_num_queries
):
    path = f"/api/recipes/{pantry['soup'].id}/"
    body = _warm(ann_api, path)
    redis_conn.delete(ops.full_name(keys.session(ann_api.client.session)))  # evicted, or Redis restarted
    with django_assert_num_queries(1):  # the session row (cached_db writes it back to Redis)
        response = ann_api.get(path)
    assert (response.status_code, response.content) == (200, body)
    redis_round_trips.clear()
    assert ann_api.get(path).content == body
    assert redis_round_trips == ONE_TRIP


def test_an_identity_miss_is_computed_under_its_lease_then_the_value_read(
    ann_api, household, pantry, redis_round_trips, django_assert_num_queries
):
    path = f"/api/recipes/{pantry['soup'].id}/"
    body = _warm(ann_api, path)
    from django.core.cache import cache

    cache.delete(planner_cache.identity(household["ann"].id).name)
    redis_round_trips.clear()
    with django_assert_num_queries(1):  # the identity
        response = ann_api.get(path)
    assert (response["X-Cache"], response.content) == ("HIT", body)
    # session + the identity's lease; the computation counter; the identity's fill; the value
    assert redis_round_trips == ["EVALSHA", "HINCRBY", "EVALSHA", "EVALSHA"]
    redis_round_trips.clear()
    ann_api.get(path)
    assert redis_round_trips == ONE_TRIP


def test_a_value_miss_is_filled_under_the_lease_taken_in_the_one_trip(
    ann_api, pantry, redis_conn, redis_round_trips, django_assert_num_queries
):
    path = f"/api/recipes/{pantry['soup'].id}/"
    assert ann_api.get("/api/me/").status_code == 200
    redis_round_trips.clear()
    with django_assert_num_queries(3):  # the recipe's 3; no identity query
        assert ann_api.get(path)["X-Cache"] == "MISS"
    assert redis_round_trips == ["EVALSHA", "HINCRBY", "EVALSHA"]  # session + identity + lease; counter; fill
    assert not redis_conn.exists(ops.full_name(keys.lease(planner_cache.recipe(pantry["soup"].id))))
    assert ann_api.get(path)["X-Cache"] == "HIT"


def test_a_lease_taken_for_a_caller_who_is_then_refused_is_given_back(ann_api, pantry, redis_conn, settings):
    """The script took the value's lease (a miss), then a check the script does not make refused the
    session (its backend is no longer configured): the lease is released, nobody waits it out."""
    assert ann_api.get("/api/me/").status_code == 200
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    assert ann_api.get(f"/api/recipes/{pantry['soup'].id}/").status_code == 401
    assert not redis_conn.exists(ops.full_name(keys.lease(planner_cache.recipe(pantry["soup"].id))))


def test_bad_input_is_still_answered_after_authentication(api, ann_api, pantry, redis_conn):
    anonymous = ApiClient()
    assert anonymous.get("/api/recipes/not-an-id/").status_code == 401
    assert anonymous.get("/api/shopping-lists/0/").status_code == 401
    assert ann_api.get("/api/recipes/not-an-id/").status_code == 400
    assert ann_api.get("/api/shopping-lists/0/").status_code == 400
    assert ann_api.get("/api/recipes/", tag="no spaces allowed").status_code == 400
    assert not redis_conn.keys(ops.full_name("lease:*"))


def test_redis_failing_during_the_one_trip_read_falls_back_to_the_database(ann_api, pantry, request):
    path = f"/api/recipes/{pantry['soup'].id}/"
    _warm(ann_api, path)
    back_up = request.getfixturevalue("redis_down")  # the store's connection fails from now on
    response = ann_api.get(path)
    assert (response.status_code, response["X-Cache"]) == (200, "MISS")
    assert json.loads(response.content)["title"] == "Pea soup"
    assert ann_api.get("/api/me/").status_code == 200  # still logged in (identity from the database)
    back_up()


def test_hotness_is_recorded_once_per_read_of_the_lists(ann_api, household, pantry, redis_conn):
    _warm(ann_api, "/api/shopping-lists/")
    hot = ops.full_name(keys.hot_set(planner_cache.SHOPPING_LISTS))
    member = planner_cache.SHOPPING_LISTS.member(planner_cache.shopping_lists(household["ann"].id))
    before = redis_conn.zscore(hot, member)
    ann_api.get("/api/shopping-lists/")
    after = redis_conn.zscore(hot, member)
    assert after > before
    assert hotness.hottest(planner_cache.SHOPPING_LISTS, 1) == [planner_cache.shopping_lists(household["ann"].id)]
