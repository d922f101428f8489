"""Django settings of the cachalot process: the app's settings plus cachalot caching every ORM query on its
own Redis database (a django-redis cache alias). Our own read-through is off (CACHE_READS_ENABLED=0).
The outbox table stays uncached: our relay polls it, and a cached answer would hide new rows."""

from bench.peers import peer_redis
from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "cachalot"]  # noqa: F405
CACHE_READS_ENABLED = False
API_FAST_PATH = False
CACHES = {  # noqa: F405
    **CACHES,  # noqa: F405
    "cachalot": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": peer_redis.url("cachalot"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
}
CACHALOT_CACHE = "cachalot"
CACHALOT_UNCACHABLE_TABLES = frozenset({"django_migrations", "events_outbox"})
