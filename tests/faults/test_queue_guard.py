"""A queue item that is not a kombu message, LPUSHed raw into the `cache` list of a real worker process
(celery#1113; worker/queue_guard.py).

Without the guard's step the worker exits or drops and rebuilds its broker connection on each kind of item; with it,
the item is logged, counted ("queue_rejected") and dropped, and the real write queued behind it is applied at once
by the same process.
"""

import json
import time
import uuid

import pytest

from eventcache import stats
from tests.fixtures.worker import CHANGE, outbox_drained, patch_recipe, stale_keys, wait_until

# About the Redis broker transport (its list, unacked hash or connection): the RabbitMQ session deselects it.
pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.redis_broker, pytest.mark.django_db(transaction=True)]

QUEUE = "cache"
NEXT_TASK_SECONDS = 5  # "at once": the real task behind the garbage, on a busy 2-core machine
UNGUARDED_SECONDS = 15  # how long the unguarded worker gets to show what the item does to it


def _envelope(delivery_info: dict) -> str:
    task_id = str(uuid.uuid4())
    return json.dumps(
        {
            "body": "W1tdLCB7fSwge31d",  # base64 of [[], {}, {}]
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "worker.tasks.process_events", "id": task_id},
            "properties": {"delivery_info": delivery_info, "delivery_tag": task_id, "body_encoding": "base64"},
        }
    )


GARBAGE = {
    "not JSON": "not json {",
    "JSON, not an envelope": json.dumps({"hello": "world"}),
    "envelope without delivery_info.exchange": _envelope({"routing_key": QUEUE}),
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_without_the_guard_a_raw_item_stops_the_worker_or_its_connection(kind, start_worker_process, broker_conn):
    worker = start_worker_process(app="tests.faults.worker_without", WORKER_WITHOUT="QueueGuard")
    broker_conn.lpush(QUEUE, GARBAGE[kind])

    def hurt():
        log = worker.log()
        return worker.proc.poll() is not None or "Connection to broker lost" in log or "Unrecoverable error" in log

    assert wait_until(hurt, UNGUARDED_SECONDS, interval=0.1), worker.log()[-3000:]
    outcome = "exited" if worker.proc.poll() is not None else "reconnected to the broker"
    print(f"without the guard, {kind}: the worker {outcome}")


def test_with_the_guard_raw_items_are_logged_counted_dropped_and_the_next_task_runs_at_once(
    warm_world, start_worker_process, broker_conn, redis_conn
):
    worker = start_worker_process()
    for item in GARBAGE.values():
        broker_conn.lpush(QUEUE, item)
    patch_recipe(warm_world.recipe, CHANGE)  # the real task, queued behind the garbage
    queued_at = time.monotonic()

    assert wait_until(outbox_drained, NEXT_TASK_SECONDS), worker.log()[-3000:]
    applied_after = time.monotonic() - queued_at
    assert stale_keys(redis_conn, warm_world) == []
    assert worker.proc.poll() is None, "the worker died"
    log = worker.log()
    assert log.count("queue item that is not a kombu message dropped") == len(GARBAGE), log[-3000:]
    assert "Connection to broker lost" not in log and "Unrecoverable error" not in log
    assert stats.snapshot().get("queue_rejected") == len(GARBAGE)
    assert broker_conn.llen(QUEUE) == 0 and broker_conn.hlen("unacked") == 0
    print(f"real task applied {applied_after:.2f} s after the garbage")
