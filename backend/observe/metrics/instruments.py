"""Metrics observed in the process where things happen (multi-process safe)."""

from prometheus_client import Counter, Histogram

from observe.metrics import multiprocess_dir

multiprocess_dir()  # before the first metric is created: multi-process mode writes a file per process at once

BATCH_SIZE = Histogram(
    "recipe_planner_worker_batch_size",
    "Events in one process_events batch as delivered (before coalescing)",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000),
)
BATCH_DURATION = Histogram(
    "recipe_planner_worker_batch_duration_seconds",
    "Time the worker took to apply one process_events batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INVALIDATION_LAG = Histogram(
    "recipe_planner_invalidation_lag_seconds",
    "From an event's commit to the worker having applied it (the oldest event of each batch)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EVENTS_APPLIED = Counter("recipe_planner_events_applied_total", "Events the worker applied to the cache")
EVENTS_REJECTED_BY_WORKER = Counter(
    "recipe_planner_worker_events_rejected_total", "Events the worker refused (malformed), logged and dropped"
)
REDIS_ERRORS = Counter(
    "recipe_planner_redis_errors_total", "Redis calls that failed in a web or worker process (counted in the process)"
)
