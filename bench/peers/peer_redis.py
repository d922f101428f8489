"""Where each peer keeps its cache: a Redis logical database of its own, counted from REDIS_URL's database N
(N = ours' cache, N+1 = the Celery broker), so the bench can flush and count each one alone."""

import os

from eventcache.redis_url import _with_db, cache_db

OFFSETS = {"cacheops": 2, "cachalot": 3, "delete_pattern": 4}


def url(peer: str) -> str:
    base = os.environ["REDIS_URL"]
    return _with_db(base, cache_db(base) + OFFSETS[peer])
