"""/admin/login/ is throttled like the API login (issue 12 item 8): after LOGIN_RATE_LIMIT failures for a
username, or from an address, even the right password is refused (the admin's form error) until the window
ends. The counters are the API login's own (same groups, same cache: real Redis), so guesses spread over
both doors count together."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from tests.fixtures.api import PASSWORD, ApiClient
from tests.fixtures.throttle import wait_for_time_left

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def boss(make_user):
    return make_user("boss", is_staff=True, is_superuser=True)


def _admin_login(client, username, password, address="10.9.0.1"):
    return client.post(
        ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def _logged_in(client) -> bool:
    return SESSION_KEY in client.session


def test_the_right_password_logs_in(api, boss):
    client = Client()
    response = _admin_login(client, "boss", PASSWORD)
    assert response.status_code == 302 and _logged_in(client)


def test_after_the_limit_of_failures_for_a_username_even_the_right_password_is_refused(api, boss, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    wait_for_time_left("boss")  # the counted failures and the refused login in one window
    client = Client()
    for n in range(3):
        response = _admin_login(client, "boss", "wrong", address=f"10.9.1.{n}")
        assert response.status_code == 200 and not _logged_in(client)
    response = _admin_login(client, "boss", PASSWORD, address="10.9.1.99")
    assert response.status_code in {200, 429}, response.status_code
    assert not _logged_in(client)
    assert "Too many failed logins" in response.content.decode()


def test_after_the_limit_of_failures_from_an_address_every_username_is_refused(api, boss, settings):
    settings.LOGIN_RATE_LIMIT = "3/m"
    wait_for_time_left("10.9.2.1")
    client = Client()
    for name in ("x1", "x2", "x3"):
        _admin_login(client, name, "wrong", address="10.9.2.1")
    assert not _logged_in(client)
    _admin_login(client, "boss", PASSWORD, address="10.9.2.1")
    assert not _logged_in(client)
    _admin_login(client, "boss", PASSWORD, address="10.9.2.2")  # another address, its username's count is 0
    assert _logged_in(client)


def test_admin_and_api_failures_count_together(api, boss, settings):
    settings.LOGIN_RATE_LIMIT = "4/m"
    wait_for_time_left("boss")
    for n in range(2):
        _admin_login(Client(), "boss", "wrong", address=f"10.9.3.{n}")
        assert (
            ApiClient()
            .post("/api/auth/login/", {"username": "boss", "password": "wrong"}, csrf=False, REMOTE_ADDR=f"10.9.4.{n}")
            .status_code
            == 401
        )
    client = Client()
    _admin_login(client, "boss", PASSWORD, address="10.9.5.1")
    assert not _logged_in(client)
    assert (
        ApiClient()
        .post("/api/auth/login/", {"username": "boss", "password": PASSWORD}, csrf=False, REMOTE_ADDR="10.9.5.2")
        .status_code
        == 429
    )


def test_the_admin_login_waits_when_attempts_cannot_be_counted(api, boss, settings):
    """Redis down: the throttle fails closed (issue 12 item 5), here as the form's error; no session."""
    import copy

    from tests.fixtures.events import free_port

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = caches
    client = Client()
    response = _admin_login(client, "boss", PASSWORD)
    assert response.status_code == 200 and not _logged_in(client)
    assert "Logging in is not possible right now" in response.content.decode()
