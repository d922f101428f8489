"""SIGTERM is a warm shutdown: the worker finishes the batch it holds, acknowledges it, then exits 0."""

import signal

import pytest
import redis

from tests.fixtures.worker import CHANGE, outbox_drained, patch_recipe, stale_keys, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BATCH_PAUSE_SECONDS = 2  # the batch in flight when SIGTERM arrives (tests/fixtures/pause_in_batch.py's sleep)
REACH_BATCH_SECONDS = 15
STOP_SECONDS = 30  # the paused batch, then Celery's shutdown, on a busy machine


def test_sigterm_finishes_the_current_batch_then_exits_cleanly(
    warm_world, start_worker_process, broker_conn, redis_conn, tmp_path
):
    pause_file = tmp_path / "in-batch"
    worker = start_worker_process(pause_in_batch=(pause_file, BATCH_PAUSE_SECONDS))  # tests/fixtures/pause_in_batch.py
    patch_recipe(warm_world.recipe, CHANGE)
    assert wait_until(pause_file.exists, REACH_BATCH_SECONDS), worker.log()

    worker.signal(signal.SIGTERM)

    assert worker.wait(STOP_SECONDS) == 0, worker.log()
    log = worker.log()
    assert log.index("Warm shutdown") < log.index("batch: "), log  # the batch finished after the signal
    assert outbox_drained()
    assert stale_keys(redis_conn, warm_world) == []
    # Acknowledged, not requeued: RabbitMQ would have put an exited consumer's unacknowledged delivery back on the
    # queue; kombu's Redis transport keeps it in its unacked hash.
    assert broker_conn.llen("cache") == 0
    assert not isinstance(broker_conn, redis.Redis) or broker_conn.hlen("unacked") == 0
