"""Login, logout, /api/me/, throttling and the session checks of api.identity, against real Redis/PostgreSQL."""

import json

import pytest
from django.contrib.auth import SESSION_KEY

from planner import cache as planner_cache
from tests.fixtures.api import PASSWORD, ApiClient
from tests.fixtures.throttle import wait_for_time_left

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _login(client, username, password=PASSWORD, **kw):
    return client.post("/api/auth/login/", {"username": username, "password": password}, csrf=False, **kw)


def test_login_answers_identity_sets_csrf_cookie_and_rotates_the_session(api, household):
    api.client.get("/api/me/")  # an anonymous request
    api.client.session.save()  # an anonymous session exists before login
    before = api.client.cookies["sessionid"].value
    response = _login(api, "ann")
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "id": household["ann"].id,
        "username": "ann",
        "family_id": household["family"].id,
    }
    assert response.cookies["csrftoken"].value
    assert api.client.cookies["sessionid"].value != before
    assert api.get("/api/me/").status_code == 200


def test_me_answers_401_json_when_anonymous(api):
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "not_authenticated"


def test_me_describes_the_caller(ann_api, household):
    assert json.loads(ann_api.get("/api/me/").content) == {
        "id": household["ann"].id,
        "username": "ann",
        "family_id": household["family"].id,
        "is_staff": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"username": "ann"}',
        b'{"username": 1, "password": "x"}',
        b'{"username": "ann", "password": null}',
        b'{"username": "a\\u0000", "password": "x"}',
    ],
)
def test_login_with_a_malformed_body_is_400(api, household, body):
    response = api.post("/api/auth/login/", raw=body, csrf=False)
    if not body:  # the test client sends no Content-Type with an empty body: not JSON (api.login_guard)
        assert (response.status_code, json.loads(response.content)["error"]) == (415, "unsupported_media_type")
        return
    assert response.status_code == 400
    assert json.loads(response.content)["error"] in {"malformed_json", "missing_field", "wrong_type", "invalid"}


def test_wrong_credentials_are_401(api, household):
    assert _login(api, "ann", "wrong").status_code == 401
    assert _login(api, "nobody", "wrong").status_code == 401


def test_repeated_failures_for_a_username_are_429_even_with_the_right_password(api, household, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    wait_for_time_left("ann")  # the counted attempts and the refused one in one window
    for n in range(3):
        assert _login(api, "ann", "wrong", REMOTE_ADDR=f"10.0.0.{n}").status_code == 401
    assert _login(api, "ann", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert _login(api, "bob").status_code == 200  # another username from a fresh address is not affected


def test_repeated_failures_from_an_address_are_429_for_every_username(api, household, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    wait_for_time_left("10.1.1.1")
    for name in ("x1", "x2", "x3"):
        assert _login(api, name, "wrong", REMOTE_ADDR="10.1.1.1").status_code == 401
    response = _login(api, "bob", REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    assert json.loads(response.content)["error"] == "too_many_attempts"
    assert _login(api, "bob", REMOTE_ADDR="10.1.1.2").status_code == 200


def test_successful_logins_do_not_count(api, household, settings):
    settings.LOGIN_RATE_LIMIT = "2/m"
    for _ in range(5):
        assert _login(api, "ann").status_code == 200


def test_logout_is_204_and_ends_the_session(ann_api):
    assert ann_api.post("/api/auth/logout/").status_code == 204
    assert ann_api.get("/api/me/").status_code == 401


def test_logout_without_csrf_token_is_403(ann_api):
    response = ann_api.post("/api/auth/logout/", csrf=False)
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "csrf_failed"


def _drop_identity(user):
    """Dropping user:{id}:identity after a users-row change is the event pipeline's job; do it as it would."""
    from django.core.cache import cache

    cache.delete(planner_cache.identity(user.id).name)


def test_a_password_change_ends_existing_sessions(ann_api, household):
    ann = household["ann"]
    ann.set_password("a new password 123")
    ann.save()
    _drop_identity(ann)
    assert ann_api.get("/api/me/").status_code == 401
    assert SESSION_KEY not in ann_api.client.session
    assert ann_api.get("/api/me/").status_code == 401


def test_a_deactivated_user_is_anonymous(ann_api, household):
    ann = household["ann"]
    ann.is_active = False
    ann.save()
    _drop_identity(ann)
    assert ann_api.get("/api/me/").status_code == 401


def test_sessions_survive_a_secret_key_rotation_with_fallbacks(ann_api, household, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-test-0123456789"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    _drop_identity(household["ann"])  # recomputed under the new key: the session's hash no longer matches
    assert ann_api.get("/api/me/").status_code == 200  # Django's check accepts the fallback and upgrades the hash
    assert ann_api.get("/api/me/").status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    _drop_identity(household["ann"])
    assert ann_api.get("/api/me/").status_code == 200  # the session hash was upgraded to the new key


def test_a_forged_session_user_id_is_anonymous(api, household):
    session = api.client.session
    session[SESSION_KEY] = str(household["ann"].id)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = "not-the-hash"
    session.save()
    api.client.cookies["sessionid"] = session.session_key
    assert api.get("/api/me/").status_code == 401


def test_login_needs_no_csrf_token_but_later_writes_do(api, household):
    other = ApiClient()
    other.login("ann")
    assert (
        other.post("/api/shopping-lists/", {"start": "2026-01-01", "end": "2026-01-02"}, csrf=False).status_code == 403
    )
    assert other.post("/api/shopping-lists/", {"start": "2026-01-01", "end": "2026-01-02"}).status_code == 201
