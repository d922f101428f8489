"""Shared fixtures (tests/fixtures/*; the rows they make come from tests/factories.py)."""

pytest_plugins = [
    "tests.fixtures.common",
    "tests.fixtures.worlds",
    "tests.fixtures.caching",
    "tests.fixtures.events",
    "tests.fixtures.worker",
    "tests.fixtures.api",
    "tests.fixtures.live",
]
