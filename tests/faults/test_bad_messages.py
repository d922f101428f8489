"""Hostile input on the worker's two inputs is logged, counted and dropped; the worker goes on (issues 3 and 4).

- pub/sub (recipe_planner:events): a message that is not an event -> eventcache.consume.listener logs it, counts
  "events_rejected";
- the `cache` queue, written raw into the broker list: an item that is not JSON, a well-formed Celery envelope
  whose content type is pickle (refused by accept_content=["json"], never unpickled: unpickling it would create
  a marker file), one whose JSON body is broken, and a task name nobody knows -> logged, counted
  "queue_rejected", dropped (acked).
Then a real recipe edit is applied as usual by the same, still running, worker process.
"""

import base64
import json
import pathlib
import pickle
import uuid

import pytest
from django.conf import settings

from config import celery_app
from eventcache import stats
from tests.fixtures.worker import CHANGE, outbox_drained, patch_recipe, stale_keys, wait_until

# About the Redis broker transport (its list, unacked hash or connection): the RabbitMQ session deselects it.
pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.redis_broker, pytest.mark.django_db(transaction=True)]

NEXT_EVENT_SECONDS = 15  # bound for the real event after the garbage to be applied
QUEUE = "cache"


class TouchOnUnpickle:
    """Unpickling this calls Path.touch(marker): the proof that the worker never unpickled the message."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def envelope(body: bytes, content_type: str, content_encoding: str) -> str:
    """A process_events task message as kombu's Redis transport stores it in the queue list."""
    task_id = str(uuid.uuid4())
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": content_encoding,
            "content-type": content_type,
            "headers": {"lang": "py", "task": "eventcache.tasks.process_events", "id": task_id, "root_id": task_id},
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": QUEUE},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def test_garbage_is_logged_counted_and_dropped_and_the_next_real_event_is_processed(
    warm_world, start_worker_process, broker_conn, redis_conn, tmp_path
):
    worker = start_worker_process()
    assert wait_until(lambda: "pub/sub monitor subscribed" in worker.log(), 10), worker.log()
    marker = tmp_path / "unpickled"
    tag = uuid.uuid4().hex  # pub/sub is server-wide: find our own message among other tests' traffic

    redis_conn.publish(settings.EVENTS_CHANNEL, f"not an event {tag}")
    broker_conn.lpush(QUEUE, f"not json {{{tag}")
    pickled = pickle.dumps(((TouchOnUnpickle(marker), []), {}, {}))
    broker_conn.lpush(QUEUE, envelope(pickled, "application/x-python-serialize", "binary"))
    broker_conn.lpush(QUEUE, envelope(b"[[{not json", "application/json", "utf-8"))
    celery_app.send_task("eventcache.tasks.no_such_task", args=[tag], queue=QUEUE)  # a name no worker knows
    patch_recipe(warm_world.recipe, CHANGE)  # the next real event, queued behind the garbage

    assert wait_until(outbox_drained, NEXT_EVENT_SECONDS), worker.log()
    assert stale_keys(redis_conn, warm_world) == []
    assert worker.proc.poll() is None, "the worker died"
    log = worker.log()
    assert "pub/sub message rejected: not JSON" in log and tag in log
    assert "queue item that is not a kombu message dropped" in log
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert "Can't decode message body" in log
    assert "unknown task 'eventcache.tasks.no_such_task'" in log
    assert not marker.exists(), "the pickle was deserialised"
    counts = stats.snapshot()
    assert counts.get("queue_rejected") == 4
    assert counts.get(stats.EVENTS_REJECTED, 0) >= 1
    assert broker_conn.llen(QUEUE) == 0 and broker_conn.hlen("unacked") == 0  # dropped, not requeued
