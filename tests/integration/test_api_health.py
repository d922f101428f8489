"""GET /healthz against the real services, and the API while the cache's Redis is unreachable."""

import copy
import json
import socket

import pytest

from tests.fixtures.api import PASSWORD, ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_healthz_ok(client, redis_conn):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"database": "ok", "redis": "ok"}


@pytest.fixture
def redis_unreachable(settings, cache_state):
    """Point the default cache at a port where nothing listens (refused at once, like a stopped Redis)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = caches  # django.test.signals resets the cache handlers on this change


def test_healthz_names_redis_when_it_is_down(client, redis_unreachable, caplog):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content) == {"database": "ok", "redis": "down"}
    assert "redis is down" in caplog.text


def test_reads_and_writes_still_work_while_redis_is_down_and_login_waits(household, make_recipe, redis_unreachable):
    recipe = make_recipe(household["ann"], "Outage soup")
    ann = ApiClient()
    response = ann.post("/api/auth/login/", {"username": "ann", "password": PASSWORD}, csrf=False)
    assert response.status_code == 503  # the throttle cannot count the attempt: it fails closed (issue 12 item 5)
    assert json.loads(response.content)["error"] == "login_unavailable"
    ann.client.force_login(household["ann"])  # a session opened before the outage (written through to the database)
    ann.client.cookies["csrftoken"] = "c" * 32  # what login would have set; echoed in X-CSRFToken
    response = ann.get(f"/api/recipes/{recipe.id}/")
    assert response.status_code == 200
    assert response["X-Cache"] == "MISS"
    assert json.loads(response.content)["title"] == "Outage soup"
    assert ann.patch(f"/api/recipes/{recipe.id}/", {"title": "Still soup"}).status_code == 200
