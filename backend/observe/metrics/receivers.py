"""Turns what the engine and Celery report into metrics: the worker's process_events batches (Celery's own
task_prerun/task_postrun signals and the task's summary), and the counts the engine kept in a process because
Redis did not answer (eventcache.stats.counted_locally). Connected once, from ObserveConfig.ready()."""

import logging
import threading
import time

from celery import signals as celery_signals

from observe.engine import PROCESS_EVENTS_TASK, stats

logger = logging.getLogger("observe.metrics")

_started: dict[str, float] = {}
_lock = threading.Lock()


def _on_prerun(task_id=None, task=None, **_kwargs):
    if getattr(task, "name", None) == PROCESS_EVENTS_TASK:
        with _lock:
            _started[task_id] = time.monotonic()


def _on_postrun(task_id=None, task=None, retval=None, **_kwargs):
    if getattr(task, "name", None) != PROCESS_EVENTS_TASK:
        return
    with _lock:
        started = _started.pop(task_id, None)
    from observe.metrics import instruments

    try:
        if started is not None:
            instruments.BATCH_DURATION.observe(time.monotonic() - started)
        if isinstance(retval, dict):
            events, rejected = int(retval.get("events", 0)), int(retval.get("rejected", 0))
            instruments.BATCH_SIZE.observe(events)
            instruments.EVENTS_REJECTED_BY_WORKER.inc(rejected)
            if not retval.get("already_applied"):
                instruments.EVENTS_APPLIED.inc(events - rejected + int(retval.get("coalesced", 0)))
                if events - rejected > 0:
                    instruments.INVALIDATION_LAG.observe(max(0, int(retval.get("lag_ms", 0))) / 1000)
    except Exception:  # noqa: BLE001 - metrics must never fail a task
        logger.exception("metrics: a batch could not be recorded")


def _on_counted_locally(sender=None, name=None, n=1, **_kwargs):
    if name == stats.REDIS_ERRORS:
        from observe.metrics import instruments

        instruments.REDIS_ERRORS.inc(n)


def _on_worker_ready(sender=None, **_kwargs):
    from django.conf import settings

    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    from observe.metrics.registry import worker_registry

    start_http_server(port, addr=settings.WORKER_METRICS_ADDR, registry=worker_registry())
    logger.info("worker metrics on %s:%d/metrics", settings.WORKER_METRICS_ADDR, port)


def connect() -> None:
    celery_signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="observe.prerun")
    celery_signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="observe.postrun")
    celery_signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="observe.worker_ready")
    stats.counted_locally.connect(_on_counted_locally, weak=False, dispatch_uid="observe.counted_locally")
