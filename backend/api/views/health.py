"""GET /healthz: 200 {"database": "ok", "redis": "ok"}, or 503 naming what is down (and the log says why).

Redis counts only when the cache backend is django-redis; with the local-memory fallback (no REDIS_URL)
it reports "disabled" and does not fail the check."""

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        log.warning("healthz: database is down: %s", exc)
        return "down"


def _redis() -> str:
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis."):
        return "disabled"
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").ping()
        return "ok"
    except (RedisError, OSError) as exc:
        log.warning("healthz: redis is down: %s", exc)
        return "down"


def healthz(request):
    status = {"database": _database(), "redis": _redis()}
    healthy = all(value in ("ok", "disabled") for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
