"""Cross-site login (issue 12 item 10): POST /api/auth/login/ takes only JSON, and only from its own origin.

A page on another site can make a browser send a form (urlencoded, multipart or text/plain) to the login URL
with the attacker's credentials in it; that would log the victim into the attacker's account (login CSRF).
Such a body is refused with 415 before any password is checked, and a request whose Origin (or, on HTTPS
without Origin, Referer) names another site is refused with 403, whatever its Content-Type.
"""

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CREDENTIALS = {"username": "ann", "password": "correct horse battery staple"}


def _login(api, *, raw=None, content_type="application/json", **meta):
    body = json.dumps(CREDENTIALS) if raw is None else raw
    return api.client.generic("POST", "/api/auth/login/", body, content_type=content_type, **meta)


def _logged_in(api) -> bool:
    return api.get("/api/me/").status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ],
)
def test_a_body_that_is_not_json_is_415_and_logs_no_one_in(api, household, content_type):
    response = _login(api, content_type=content_type, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 415, response.content
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == "unsupported_media_type"
    assert not _logged_in(api)


def test_a_text_plain_body_is_415_even_without_an_origin(api, household):
    response = _login(api, content_type="text/plain")
    assert response.status_code == 415
    assert not _logged_in(api)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://testserver.evil.example", "null", "http://testserver:8080"]
)
def test_json_from_another_origin_is_403(api, household, origin):
    response = _login(api, HTTP_ORIGIN=origin)
    assert response.status_code == 403, response.content
    assert json.loads(response.content)["error"] == "cross_origin"
    assert not _logged_in(api)


def test_json_from_the_same_origin_logs_in(api, household):
    response = _login(api, HTTP_ORIGIN="http://testserver", content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.content
    assert _logged_in(api)


def test_json_without_origin_logs_in(api, household):
    """Non-browser clients (scripts, the test client) send no Origin; every browser sends one on a cross-site POST."""
    assert _login(api).status_code == 200
    assert _logged_in(api)


def test_a_trusted_origin_logs_in(api, household, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example"]
    assert _login(api, HTTP_ORIGIN="https://app.example").status_code == 200


def test_on_https_a_cross_site_referer_without_origin_is_403(api, household):
    response = _login(api, secure=True, HTTP_REFERER="https://evil.example/page")
    assert response.status_code == 403, response.content
    assert not _logged_in(api)
    assert _login(api, secure=True, HTTP_REFERER="https://testserver/login").status_code == 200


def test_wrong_origin_does_not_count_as_a_failed_login(api, household, settings):
    """Refused before the password check: a cross-site page cannot lock a user out either."""
    settings.LOGIN_RATE_LIMIT = "2/m"
    for _ in range(5):
        assert (
            _login(
                api, raw=json.dumps({"username": "ann", "password": "x"}), HTTP_ORIGIN="https://evil.example"
            ).status_code
            == 403
        )
    assert _login(api).status_code == 200
