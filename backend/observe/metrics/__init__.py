"""Prometheus metrics (prometheus_client), in multi-process mode when PROMETHEUS_MULTIPROC_DIR is set: every
gunicorn worker and every Celery pool process writes its own files there, and a scrape adds them up.

Two kinds of metrics:
- observed where they happen (instruments.py): the worker's batches (size, duration, invalidation lag, events
  applied and rejected) and the Redis errors a process counted itself; these need multi-process mode;
- read at scrape time from shared state (collectors.py): the engine's counters in their Redis hash (hits,
  misses, fills, lease waits per key family; events in and rejected), the outbox backlog and the age of its
  oldest rows, Redis's memory and key count.
"""

import os


def multiprocess_dir() -> str | None:
    """The directory of multi-process mode, created if missing (prometheus_client writes into it at once)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
    return path or None
