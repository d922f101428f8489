"""A task sent with a countdown, as TransientTask's retries send themselves (eventcache/tasks.py: retry_backoff),
runs once its countdown has passed, on the session's broker (make test: Redis; make test-rabbitmq: RabbitMQ).

On RabbitMQ the cache queue is a quorum queue, which cannot hold a message back until its ETA: Celery routes a
countdown send through its native delayed delivery exchanges (the worker binds the queue to them at start-up).
That refuses a direct exchange, hence the topic exchange config/settings.py gives the queue on amqp; with a direct
one Celery warns and the worker would hold the message in memory until its ETA, blocking its prefetch slot
(with CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "direct" this test fails on that warning).
"""

import time

import pytest
from django.utils import timezone

from eventcache import tasks
from eventcache.models import OutboxEvent
from tests.fixtures.worker import outbox_drained, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

COUNTDOWN_SECONDS = 2
RUN_SECONDS = 20  # after the countdown, on a busy machine


def test_a_task_sent_with_a_countdown_runs_after_it(family_world, broker_conn, worker_thread, caplog):
    OutboxEvent.objects.update(processed_at=timezone.now())  # the set-up's own rows: not this test's business
    # Written straight into the outbox, the row is no captured write: only the message below can apply it.
    row = OutboxEvent.objects.create(kind="recipe.changed", data={"recipe_id": family_world["soup"].id})
    sent = time.monotonic()

    tasks.process_events.apply_async(args=[[], [row.id]], countdown=COUNTDOWN_SECONDS)

    assert not wait_until(outbox_drained, COUNTDOWN_SECONDS - 1), "ran before its countdown"
    assert wait_until(outbox_drained, COUNTDOWN_SECONDS + RUN_SECONDS), "never ran"
    assert time.monotonic() - sent >= COUNTDOWN_SECONDS - 0.1
    # Celery's warning when a countdown on a quorum queue cannot use native delayed delivery (a direct exchange).
    assert "not supported with native delayed delivery" not in caplog.text
