"""api/views/health.py: what /healthz answers when the database is down or Redis is not configured."""

import json

import pytest
from django.db import OperationalError

from api.views import health


class _DeadConnection:
    def cursor(self):
        raise OperationalError("connection refused")


@pytest.fixture
def no_redis(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_database_down_is_503_naming_the_database(client, monkeypatch, no_redis):
    monkeypatch.setattr(health, "connection", _DeadConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content) == {"database": "down", "redis": "disabled"}


@pytest.mark.django_db
def test_without_django_redis_redis_is_reported_disabled(client, no_redis):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"database": "ok", "redis": "disabled"}
