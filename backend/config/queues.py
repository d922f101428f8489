"""Celery queue names: the one list used by task routing, the worker's -Q, and docker-compose.

`python -m config.queues` prints them comma-separated, which is what every start command passes to -Q
(tests/integration/test_queue_names.py checks compose, Railway and the Makefile agree with this list).
"""

CACHE = "cache"  # event batches, outbox sweep, cache warming

ALL = (CACHE,)


if __name__ == "__main__":
    print(",".join(ALL))
