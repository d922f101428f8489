"""Settings for pytest: the same settings module, with test defaults for what the environment leaves unset.

The suite uses PostgreSQL when DATABASE_URL is set (make test sets it when one answers on localhost:5432)
and real Redis at REDIS_URL (make test finds or starts one); unit tests swap in fakeredis themselves.
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# The suite's fixtures plan meals on fixed days in 2030; the window's own tests set it back to its default.
os.environ.setdefault("MEAL_PLAN_WINDOW_DAYS", "3650")

from config.settings import *  # noqa: E402,F401,F403
