"""What RabbitMQ buys: a worker SIGKILLed while it holds a delivery loses nothing (issue 14, item 1).

Whatever broker the session uses, this test runs the system on a RabbitMQ vhost of its own: the web app and two
`celery worker` processes (the production command) with CELERY_BROKER_URL=amqp://.../<vhost>, the cache queue a
quorum queue, publisher confirms on the web's send. Worker A (prefork, as in production) takes the batch of a recipe
edit made over HTTP and its pool process pauses inside it (tests/fixtures/pause_in_batch.py): with acks_late the
delivery is unacknowledged. Worker B is started and consuming, then A and its pool process are SIGKILLed. RabbitMQ requeues A's unacknowledged delivery when A's connection
closes, B gets it, and every dependent (the meal plans and shopping lists that show the recipe) is fresh within 5 s
of the kill, with every outbox row processed.

Nothing else could deliver the batch in that time: no beat runs (so no outbox sweep re-send), the worker's pub/sub
listener does not drop keys (EVENTS_DROP_ON_PUBLISH=0), and on RabbitMQ a starting worker applies no delivered
backlog (worker/backlog.py is off on amqp). So only the requeued delivery makes them fresh: the contrast test runs
the same kill with acks_late off (tests/faults/worker_without.py, WORKER_ACKS_EARLY=1: A's main process acknowledges
the delivery when its pool takes the task) and the dependents are still stale after the bound, the rows unapplied.
(A solo-pool worker is no contrast: it runs the task inside its event loop, which sends even an early
acknowledgement only once the task returns.)
"""

import signal
import time

import pytest

from tests.fixtures.worker import CHANGE, outbox_drained, stale_keys, unprocessed_outbox_ids, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456789"  # tests/fixtures/worker.py's users
REACH_BATCH_SECONDS = 30  # the web's send and worker A's take, on a busy machine
FRESH_SECONDS = 5.0  # issue 14: the dependents are fresh within 5 s of the kill
UNFIXED_WAIT_SECONDS = FRESH_SECONDS + 3  # how long the contrast waits before calling the dependents stale


def _kill_holding_a_delivery(world, amqp_vhost, start_web_process, start_worker_process, tmp_path, **worker_a_env):
    """Worker A holds the edit's batch, B is consuming, A is SIGKILLed; returns (B, the kill's time.monotonic())."""
    broker = {"CELERY_BROKER_URL": amqp_vhost}
    pause_file = tmp_path / "in-batch"
    first = start_worker_process(pause_in_batch=(pause_file, 120), pool="prefork", **broker, **worker_a_env)
    web = start_web_process(**broker)
    author = web.session()
    author.login(world.recipe.author.username, PASSWORD)
    status, _, body = author.request("PATCH", f"/api/recipes/{world.recipe.id}/", CHANGE)
    assert status == 200, body
    assert wait_until(pause_file.exists, REACH_BATCH_SECONDS), first.log()[-3000:]

    second = start_worker_process(**broker)  # consuming before the kill: nothing is waiting for it yet
    assert unprocessed_outbox_ids(), "the batch was applied before the kill"
    assert "batch: " not in second.log()

    first.kill_with_pool()
    killed_at = time.monotonic()
    assert first.wait(10) == -signal.SIGKILL
    return second, killed_at


def test_a_worker_killed_holding_a_delivery_loses_nothing_on_rabbitmq(
    warm_world, amqp_vhost, start_web_process, start_worker_process, redis_conn, tmp_path
):
    second, killed_at = _kill_holding_a_delivery(
        warm_world, amqp_vhost, start_web_process, start_worker_process, tmp_path
    )

    fresh = wait_until(lambda: not stale_keys(redis_conn, warm_world), FRESH_SECONDS)
    seconds = time.monotonic() - killed_at
    assert fresh, (stale_keys(redis_conn, warm_world), second.log()[-3000:])
    print(f"\ndependents fresh {seconds:.2f} s after the kill (bound {FRESH_SECONDS} s)")
    assert wait_until(outbox_drained, FRESH_SECONDS), unprocessed_outbox_ids()
    # B applied the requeued delivery; it logs the batch after its pre-warm, which may outlast the drop and the rows
    assert wait_until(lambda: "batch: " in second.log(), FRESH_SECONDS), second.log()[-3000:]


def test_without_acks_late_the_killed_workers_delivery_is_lost(
    warm_world, amqp_vhost, start_web_process, start_worker_process, redis_conn, tmp_path
):
    second, _ = _kill_holding_a_delivery(
        warm_world,
        amqp_vhost,
        start_web_process,
        start_worker_process,
        tmp_path,
        app="tests.faults.worker_without",
        WORKER_ACKS_EARLY="1",
    )

    time.sleep(UNFIXED_WAIT_SECONDS)
    assert sorted(stale_keys(redis_conn, warm_world)) == sorted(k.name for k in warm_world.related_keys())
    assert not outbox_drained()
    assert "batch: " not in second.log()
