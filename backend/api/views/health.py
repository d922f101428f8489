"""GET /healthz: 200 {"database": "ok", "redis": "ok"}, or 503 naming what is down (and the log says why).

Redis counts only when the cache backend is django-redis; with the local-memory fallback (no REDIS_URL)
it reports "disabled" and does not fail the check. Redis near its maxmemory (used_memory at least
REDIS_MEMORY_DEGRADED_RATIO of it, from INFO memory) is "degraded", with the figures in "redis_memory": still
200, since restarting this process would not help, but under noeviction Redis is about to refuse writes
(cache fills, login counting: logins then answer 503) and someone must look."""

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from redis.exceptions import RedisError

from eventcache.store import cluster

log = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        log.warning("healthz: database is down: %s", exc)
        return "down"


def _redis() -> tuple[str, dict | None]:
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis."):
        return "disabled", None
    from django_redis import get_redis_connection

    try:
        memory = cluster.worst_info(get_redis_connection("default"), "memory")
    except (RedisError, OSError) as exc:
        log.warning("healthz: redis is down: %s", exc)
        return "down", None
    used, limit = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
    if limit and used >= settings.REDIS_MEMORY_DEGRADED_RATIO * limit:
        log.warning("healthz: redis is near its maxmemory: %d of %d bytes used", used, limit)
        return "degraded", {"used_bytes": used, "max_bytes": limit, "ratio": round(used / limit, 3)}
    return "ok", None


def healthz(request):
    redis_status, memory = _redis()
    status = {"database": _database(), "redis": redis_status}
    if memory is not None:
        status["redis_memory"] = memory
    healthy = all(status[name] in ("ok", "disabled", "degraded") for name in ("database", "redis"))
    return JsonResponse(status, status=200 if healthy else 503)
