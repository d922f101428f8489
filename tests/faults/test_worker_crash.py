"""A worker SIGKILLed in the middle of a batch: the batch comes back and a new worker completes it (issue 4, item 2).

With acks_late the message is acknowledged only after process_events returns, so a killed worker leaves it in
kombu's `unacked` set; a worker started with a short visibility timeout (CELERY_VISIBILITY_TIMEOUT) restores it
on its first unacked scan (kombu runs the first one unacked_restore_interval = 10 s after start). In production
the outbox sweep re-sends the batch sooner still (OUTBOX_RESEND_AFTER_SECONDS); either way nothing is lost.
"""

import signal

import pytest

from tests.fixtures.worker import CHANGE, outbox_drained, patch_recipe, stale_keys, unprocessed_outbox_ids, wait_until

# About the Redis broker transport (its list, unacked hash or connection): the RabbitMQ session deselects it.
pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.redis_broker, pytest.mark.django_db(transaction=True)]

REACH_BATCH_SECONDS = 15  # the first worker picks the batch up
REDELIVERY_SECONDS = 40  # kombu's first unacked scan (10 s after start) + the batch, with margin on a busy machine


def test_a_batch_killed_mid_way_is_redelivered_and_completed_by_a_new_worker(
    warm_world, start_worker_process, broker_conn, redis_conn, tmp_path
):
    pause_file = tmp_path / "in-batch"
    first = start_worker_process(pause_in_batch=(pause_file, 60))  # tests/fixtures/pause_in_batch.py

    patch_recipe(warm_world.recipe, CHANGE)
    assert wait_until(pause_file.exists, REACH_BATCH_SECONDS), first.log()
    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL

    # The batch died before it was applied: the dependents are stale, the row unconfirmed, the message unacked.
    assert sorted(stale_keys(redis_conn, warm_world)) == sorted(k.name for k in warm_world.related_keys())
    assert unprocessed_outbox_ids()
    assert broker_conn.hlen("unacked") == 1

    second = start_worker_process(CELERY_VISIBILITY_TIMEOUT=1)

    assert wait_until(outbox_drained, REDELIVERY_SECONDS), second.log()
    assert stale_keys(redis_conn, warm_world) == []
    # The new worker applied it: at start-up (worker/backlog.py) or from the redelivered message (a line per batch).
    # Its log line follows the drop, the rows and the pre-warm, so it may come a moment after the drain.
    applied_lines = ("delivered outbox row(s) nobody had applied", "batch: ")
    assert wait_until(lambda: any(line in second.log() for line in applied_lines), REDELIVERY_SECONDS), second.log()
    # kombu still restores the unacked message on its first scan (10 s after start) and the worker acknowledges it.
    assert wait_until(lambda: broker_conn.hlen("unacked") == 0, REDELIVERY_SECONDS), "the batch was not acknowledged"
