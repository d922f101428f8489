"""Settings for a web process that dies between its commit and its delivery (tests/faults/test_web_crash_after_commit.py):
the test settings plus a test-only app whose receiver SIGKILLs the process when the relay is about to deliver."""

from config.test_settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.faults.crash_app.CrashBeforeDeliveryConfig"]  # noqa: F405
