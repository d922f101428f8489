"""The login throttle's check and count are one atomic step (issue 12 item 13): 30 wrong passwords sent at once
for one username, against real Redis, get at most LOGIN_RATE_LIMIT password checks (401); the rest are 429.
Before, each attempt read the count, checked the password, then counted: all 30 could read "0 failures".
Each burst uses a username or address whose throttle window has long enough left (tests/fixtures/throttle.py).
"""

import threading

import pytest
from django.db import connections
from django.test import Client

from tests.fixtures.throttle import value_with_time_left

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

ATTEMPTS, LIMIT = 30, 5
BURST_SECONDS = 30  # far more than a burst of ATTEMPTS logins takes on a loaded CI machine


def _parallel_logins(username, password, attempts, address_of):
    barrier = threading.Barrier(attempts)
    statuses = [None] * attempts

    def attempt(n):
        client = Client()
        barrier.wait()
        try:
            response = client.post(
                "/api/auth/login/",
                {"username": username, "password": password},
                content_type="application/json",
                REMOTE_ADDR=address_of(n),
            )
            statuses[n] = response.status_code
        finally:
            connections.close_all()  # this thread's own database connection

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def test_parallel_wrong_passwords_check_at_most_the_limit(api, make_user, settings):
    settings.LOGIN_RATE_LIMIT = f"{LIMIT}/m"
    name = value_with_time_left([f"ann{n}" for n in range(100)], BURST_SECONDS)
    make_user(name)
    statuses = _parallel_logins(name, "wrong", ATTEMPTS, lambda n: f"10.20.{n}.1")  # one username, many addresses
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= LIMIT, sorted(statuses)
    from tests.fixtures.api import PASSWORD

    right = Client().post(
        "/api/auth/login/",
        {"username": name, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="10.30.0.1",
    )
    assert right.status_code == 429


def test_parallel_wrong_passwords_from_one_address_check_at_most_the_limit(api, settings):
    settings.LOGIN_RATE_LIMIT = f"{LIMIT}/m"
    address = value_with_time_left([f"10.40.0.{n}" for n in range(100)], BURST_SECONDS)
    statuses = [None] * ATTEMPTS
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(n):
        barrier.wait()
        try:
            statuses[n] = (
                Client()
                .post(
                    "/api/auth/login/",
                    {"username": f"user{n}", "password": "wrong"},
                    content_type="application/json",
                    REMOTE_ADDR=address,
                )
                .status_code
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses.count(401) <= LIMIT, sorted(statuses)


def test_parallel_right_passwords_below_the_limit_all_log_in(api, make_user, settings):
    """Counting first must not lock out what it used to let through: successes give their count back."""
    from tests.fixtures.api import PASSWORD

    settings.LOGIN_RATE_LIMIT = f"{LIMIT}/m"
    make_user("ann")
    for _ in range(3):  # sequential rounds of LIMIT parallel right logins: never more than LIMIT in flight
        assert _parallel_logins("ann", PASSWORD, LIMIT, lambda n: "10.50.0.1") == [200] * LIMIT
