import logging

from django.apps import AppConfig
from django.conf import settings

log = logging.getLogger("caching")


def startup_message() -> tuple[int, str]:
    """(log level, message) saying which cache this process uses; never shows a password."""
    from config.redis_url import cache_url, mask

    if settings.REDIS_URL:
        return logging.INFO, f"✅ Redis cache configured: {mask(cache_url(settings.REDIS_URL))}"
    return logging.WARNING, (
        "REDIS_URL is not set: falling back to a local-memory cache (per process, not shared), "
        "and events are processed inline in the web process instead of by a Celery worker. "
        "Set REDIS_URL=redis://host:6379/0 to use Redis."
    )


class CachingConfig(AppConfig):
    name = "caching"

    def ready(self):
        log.log(*startup_message())
