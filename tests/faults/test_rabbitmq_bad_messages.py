"""Garbage on the RabbitMQ cache queue is logged, counted and dropped; the worker goes on (issue 14 on issue 12's
bar: "a logged and counted rejection in the worker, never a crash loop").

On RabbitMQ every delivery is an AMQP message with its own content type and headers, so nothing breaks the transport
the way raw list items break kombu's Redis channel (worker/queue_guard.py, Redis only); what is left is Celery's
refusals, counted by worker/rejections.py. This test sends, on a vhost of its own, straight to the quorum queue:
a pickle (refused by accept_content=["json"], never unpickled: unpickling it would create a marker file), a JSON
message whose body does not decode, a task name nobody knows and a message with no task headers at all. Then a real
recipe edit made over HTTP is applied by the same, still running, worker, and the queue is empty: nothing was
requeued into a loop (a quorum queue would redeliver a requeued message for ever).
"""

import json
import pathlib
import pickle
import uuid

import pytest

from eventcache import stats
from tests.faults.test_bad_messages import TouchOnUnpickle
from tests.fixtures.events import AmqpQueues
from tests.fixtures.worker import CHANGE, outbox_drained, stale_keys, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456789"  # tests/fixtures/worker.py's users
QUEUE = "cache"
NEXT_EVENT_SECONDS = 15  # bound for the real event after the garbage to be applied
REJECTED = 4


def _publish_raw(url: str, body: bytes, content_type: str, content_encoding: str, headers: dict) -> None:
    """A message as it is, through the default exchange to the cache queue: kombu sends bytes with a content type
    unserialised."""
    from kombu import Connection

    with Connection(url) as connection:
        connection.Producer().publish(
            body,
            exchange="",
            routing_key=QUEUE,
            content_type=content_type,
            content_encoding=content_encoding,
            headers=headers,
            delivery_mode=2,
            retry=False,
        )


def _task_headers(task: str) -> dict:
    task_id = str(uuid.uuid4())
    return {"lang": "py", "task": task, "id": task_id, "root_id": task_id}


def _garbage_then_a_real_edit(world, amqp_vhost, start_web_process, start_worker_process, marker, **worker_env):
    """The four bad messages, then a real edit over HTTP; returns the worker once the edit was applied."""
    broker = {"CELERY_BROKER_URL": amqp_vhost}
    worker = start_worker_process(**broker, **worker_env)  # declares the quorum queue the garbage goes to
    process_events = "eventcache.tasks.process_events"

    pickled = pickle.dumps(((TouchOnUnpickle(marker), []), {}, {}))
    _publish_raw(amqp_vhost, pickled, "application/x-python-serialize", "binary", _task_headers(process_events))
    _publish_raw(amqp_vhost, b"[[{not json", "application/json", "utf-8", _task_headers(process_events))
    unknown = json.dumps([["x"], {}, {}]).encode()
    _publish_raw(amqp_vhost, unknown, "application/json", "utf-8", _task_headers("eventcache.tasks.no_such_task"))
    _publish_raw(amqp_vhost, b'{"hello": "world"}', "application/json", "utf-8", {})  # no task headers

    web = start_web_process(**broker)
    author = web.session()
    author.login(world.recipe.author.username, PASSWORD)
    status, _, body = author.request("PATCH", f"/api/recipes/{world.recipe.id}/", CHANGE)
    assert status == 200, body
    assert wait_until(outbox_drained, NEXT_EVENT_SECONDS), worker.log()[-3000:]
    return worker


def test_garbage_on_rabbitmq_is_logged_counted_and_dropped_and_the_next_real_event_is_processed(
    warm_world, amqp_vhost, start_web_process, start_worker_process, redis_conn, tmp_path
):
    marker: pathlib.Path = tmp_path / "unpickled"
    worker = _garbage_then_a_real_edit(warm_world, amqp_vhost, start_web_process, start_worker_process, marker)

    assert stale_keys(redis_conn, warm_world) == []
    assert worker.proc.poll() is None, "the worker died"
    assert wait_until(lambda: stats.snapshot().get("queue_rejected") == REJECTED, NEXT_EVENT_SECONDS), (
        stats.snapshot(),
        worker.log()[-3000:],
    )
    log = worker.log()
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert "Can't decode message body" in log
    assert "unknown task 'eventcache.tasks.no_such_task'" in log
    assert "queue message rejected and dropped" in log
    assert not marker.exists(), "the pickle was deserialised"
    queues = AmqpQueues(amqp_vhost, QUEUE)
    try:
        assert queues.llen(QUEUE) == 0  # dropped, not requeued
    finally:
        queues.close()
    assert "Unrecoverable error" not in log and "Connection to broker lost" not in log


def test_without_the_queue_guard_step_an_undecodable_body_is_dropped_uncounted(
    warm_world, amqp_vhost, start_web_process, start_worker_process, redis_conn, tmp_path
):
    """The contrast: Celery's on_decode_error has no signal; only the step's wrap (worker/queue_guard.py, on both
    brokers) counts that rejection."""
    worker = _garbage_then_a_real_edit(
        warm_world,
        amqp_vhost,
        start_web_process,
        start_worker_process,
        tmp_path / "unpickled",
        app="tests.faults.worker_without",
        WORKER_WITHOUT="QueueGuard",
    )
    assert "Can't decode message body" in worker.log()
    assert wait_until(lambda: stats.snapshot().get("queue_rejected") == REJECTED - 1, NEXT_EVENT_SECONDS)
    assert stats.snapshot().get("queue_rejected") == REJECTED - 1, stats.snapshot()
