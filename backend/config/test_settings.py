"""Settings for pytest: the same settings module, with test defaults for what the environment leaves unset.

The suite uses PostgreSQL when DATABASE_URL is set (make test sets it when one answers on localhost:5432; pytest-django
creates the test database `test_<name>` and drops it at the end), and its own Redis: TEST_REDIS_URL, which the pytest
plugin tests/redis_server.py sets to a server it starts (or to the one you named). REDIS_URL from the environment is
replaced by it, because the tests flush the Redis databases they use. Unit tests swap in fakeredis themselves.
"""

import os

from config.cli import SettingError

os.environ["ENV_FILE"] = ""  # a developer's .env never changes what the tests (and the processes they start) see
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
if not os.environ.get("TEST_REDIS_URL"):
    raise SettingError(
        "config.test_settings needs TEST_REDIS_URL, the tests' own Redis: run the tests with `make test` or "
        "`python -m pytest`, whose plugin tests/redis_server.py starts one"
    )
os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
# The cluster session (TEST_REDIS_CLUSTER=1, tests/redis_cluster.py) puts the cache on the cluster it started; a
# REDIS_CLUSTER_URL of the environment is never used.
os.environ["REDIS_CLUSTER_URL"] = os.environ.get("TEST_REDIS_CLUSTER_URL", "")
# The suite's fixtures plan meals on fixed days in 2030; the window's own tests set it back to its default.
os.environ.setdefault("MEAL_PLAN_WINDOW_DAYS", "3650")

from config.settings import *  # noqa: E402,F401,F403
