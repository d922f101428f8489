"""Django settings of the cacheops process: the app's settings plus cacheops caching every planner query
(and the user lookups), on its own Redis database. Our own read-through is off (CACHE_READS_ENABLED=0)."""

from bench.peers import peer_redis
from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "cacheops"]  # noqa: F405
CACHE_READS_ENABLED = False
API_FAST_PATH = False
# redis-py's default 5 s socket timeout is shorter than cacheops' invalidation script at 1M entries (the script
# blocks Redis meanwhile): the bench waits for it, to measure it.
CACHEOPS_REDIS = peer_redis.url("cacheops") + "?socket_timeout=300"
CACHEOPS_DEFAULTS = {"timeout": 30 * 60}
CACHEOPS = {"planner.*": {"ops": "all"}, "auth.user": {"ops": "all"}}
