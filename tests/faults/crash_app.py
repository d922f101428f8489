"""A test-only Django app (installed by tests/faults/crash_settings.py, never by the project's settings).

Its receiver of the relay's public signal `delivering` SIGKILLs the process: the write has committed with its
outbox rows, and nothing has reached Redis or the broker yet, so only the outbox sweep can deliver them.
"""

import os
import signal

from django.apps import AppConfig


def die(sender, rows, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


class CrashBeforeDeliveryConfig(AppConfig):
    name = "tests.faults"
    label = "crash_before_delivery"

    def ready(self):
        from eventcache.relay import signals

        signals.delivering.connect(die, dispatch_uid="tests.crash_before_delivery")
