"""Django settings of the delete_pattern process: the app's settings plus a django-redis cache alias of its
own (the "cache it, delete_pattern on save" recipe, bench/peers/approaches.py). Our read-through is off."""

from bench.peers import peer_redis
from config.settings import *  # noqa: F403

CACHE_READS_ENABLED = False
API_FAST_PATH = False
CACHES = {  # noqa: F405
    **CACHES,  # noqa: F405
    "peer": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": peer_redis.url("delete_pattern"),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
}
