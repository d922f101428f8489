"""The request id across the queue, and one JSON line per worker batch.

Web: before_task_publish adds the current request id to the message's headers (a Celery message header, not part
of the event). Worker: task_prerun makes that id current while the task runs (every line the batch logs carries
it), and task_postrun logs the batch line from the task's summary."""

import logging
import time

from observe.engine import PROCESS_EVENTS_TASK
from observe.logs import context

logger = logging.getLogger("observe.batch")
HEADER = "request_id"

_running: dict[str, tuple] = {}


def add_request_id(headers=None, **_kwargs):
    rid = context.request_id.get()
    if rid is not None and isinstance(headers, dict):
        headers[HEADER] = rid


def _header(task) -> str | None:
    request = getattr(task, "request", None)
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return value if isinstance(value, str) else None


def task_started(task_id=None, task=None, **_kwargs):
    if getattr(task, "name", None) != PROCESS_EVENTS_TASK:
        return
    token = context.request_id.set(_header(task))
    _running[task_id] = (token, time.perf_counter())


def task_finished(task_id=None, task=None, args=None, retval=None, **_kwargs):
    running = _running.pop(task_id, None)
    if running is None:
        return
    token, started = running
    try:
        summary = retval if isinstance(retval, dict) else {}
        outbox_ids = args[1] if args and len(args) > 1 and isinstance(args[1], list) else []
        logger.info(
            "batch",
            extra={
                "task_id": task_id,
                "outbox_ids": outbox_ids[:100],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                **{
                    k: summary.get(k)
                    for k in ("events", "rejected", "coalesced", "keys_dropped", "lag_ms", "already_applied")
                },
            },
        )
    finally:
        context.request_id.reset(token)


def connect() -> None:
    from celery import signals

    signals.before_task_publish.connect(add_request_id, weak=False, dispatch_uid="observe.logs.publish")
    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="observe.logs.prerun")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="observe.logs.postrun")
