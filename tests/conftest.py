"""Shared fixtures. Integration tests use this machine's real Redis (REDIS_URL) and the test database."""

pytest_plugins = [
    "tests.fixtures.common",
    "tests.fixtures.caching",
    "tests.fixtures.events",
    "tests.fixtures.worker",
    "tests.fixtures.api",
    "tests.fixtures.live",
]
