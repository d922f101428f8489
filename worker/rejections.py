"""Garbage on the `cache` queue: logged (by Celery), counted here ("queue_rejected"), and dropped; the worker goes on.

Celery's consumer (celery/worker/consumer/consumer.py, on_task_received) refuses such messages without running
them, and acks or rejects them (requeue=False) so they cannot loop:
- a pickle (or any non-JSON) content type: kombu refuses it before deserialising (accept_content=["json"]),
  -> on_invalid_task -> signal task_rejected;
- a message without task headers or a task payload -> on_unknown_message -> signal task_rejected;
- an unknown task name -> on_unknown_task -> signal task_unknown;
- a body that cannot be decoded (bad JSON inside a JSON message) -> the consumer's on_decode_error, which has no
  signal; worker/queue_guard.py wraps it to count.
A list item that is not a kombu message at all never reaches Celery: worker/queue_guard.py drops it.
"""

import logging

from celery import signals

from eventcache import stats

logger = logging.getLogger("worker.rejections")

COUNTER = "queue_rejected"


def count_rejected_message() -> None:
    try:
        stats.incr(COUNTER)
    except Exception:  # noqa: BLE001 - counting must never break the consumer
        logger.warning("could not count %s", COUNTER, exc_info=True)


def on_task_rejected(sender=None, message=None, exc=None, **kwargs):
    logger.warning(
        "queue message rejected and dropped (content type %s): %r",
        getattr(message, "content_type", None),
        exc,
    )
    count_rejected_message()


def on_task_unknown(sender=None, name=None, id=None, **kwargs):
    logger.warning("queue message for unknown task %r (id %s) dropped", name, id)
    count_rejected_message()


def connect() -> None:
    signals.task_rejected.connect(on_task_rejected, weak=False)
    signals.task_unknown.connect(on_task_unknown, weak=False)
