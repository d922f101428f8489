"""The cache an operator command acts on, checked before it acts.

`invalidate` and `cache_stats` exist for the Redis every process shares. Against the per-process local-memory
cache (REDIS_URL unset) or a Redis that does not answer they would report work no other process sees, so they
stop instead: CommandError, which manage.py prints as one line on stderr with exit status 1.
"""

from django.conf import settings
from django.core.management.base import CommandError

from eventcache.redis_url import mask
from eventcache.store import ops as store


def described() -> str:
    """The default cache, for one line of output (never a password)."""
    if settings.REDIS_CLUSTER_URL:
        return f"Redis Cluster at {mask(settings.REDIS_CLUSTER_URL)}"
    if store.uses_redis():
        return f"Redis at {mask(settings.CACHES['default']['LOCATION'])}"
    return "this process's local-memory cache (REDIS_URL is not set)"


def require_redis() -> str:
    """described() of the Redis that answers; CommandError when the cache is not Redis or Redis does not answer."""
    if not store.uses_redis():
        raise CommandError(f"nothing done: the cache is {described()}; set REDIS_URL to the Redis the app uses")
    if not store.ping():
        raise CommandError(f"nothing done: {described()} does not answer (is REDIS_URL right, is Redis up?)")
    return described()
