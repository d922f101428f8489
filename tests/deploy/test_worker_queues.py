"""Every task goes to a queue the worker consumes, and the worker's queues come from the settings alone.

A worker that consumes the wrong queue raises no error: events pile up unprocessed. The Procfile's worker
line (which compose, Railway and `make run` all run, test_procfile.py) takes no -Q, so the worker consumes
what the Celery app built from the settings declares; the deploy tests that run it ask the live worker
(`celery inspect active_queues`, test_service_commands.py).
"""

import pytest
from django.conf import settings

pytestmark = pytest.mark.deploy


def consumed_by_default() -> set[str]:
    """The queues `celery worker` without -Q consumes: the app's task_queues, or else its default queue."""
    from worker.celery_app import app

    return set(app.amqp.queues)


def test_the_worker_consumes_the_default_queue():
    assert consumed_by_default() == {settings.CELERY_TASK_DEFAULT_QUEUE}


def test_every_route_sends_to_a_consumed_queue():
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    assert {route["queue"] for route in routes.values()} <= consumed_by_default()
