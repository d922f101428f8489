"""Test-only Celery app: the project's worker app without some of its own steps, to show what each step prevents,
and with a test task that sleeps (so a message is delivered and unacknowledged when a test stops Redis).

    celery -A tests.faults.worker_without worker ...    with WORKER_WITHOUT="QueueGuard,..." (step class names)
                                                        and/or WORKER_ACKS_EARLY=1 (acks_late off: a task's
                                                        message is acknowledged when the worker takes it)

Used by the fault tests through start_worker_process(app="tests.faults.worker_without", WORKER_WITHOUT=...).
"""

import os

from worker.celery_app import app

_off = {name.strip() for name in os.environ.get("WORKER_WITHOUT", "").split(",") if name.strip()}
for _blueprint in ("worker", "consumer"):
    for _step in list(app.steps[_blueprint]):
        if getattr(_step, "__name__", "") in _off:
            app.steps[_blueprint].discard(_step)
            _off.discard(_step.__name__)
if _off:
    raise RuntimeError(f"WORKER_WITHOUT names steps the worker app does not have: {sorted(_off)}")
if os.environ.get("WORKER_ACKS_EARLY") == "1":
    from eventcache.tasks import process_events

    app.conf.task_acks_late = False
    process_events.acks_late = False  # bound already (the settings' task imports finalize the app)


@app.task(name="tests.faults.sleep", acks_late=True)
def sleep(seconds: float) -> None:
    """A task that holds its message unacknowledged for `seconds` (a fault test stops Redis meanwhile)."""
    import time

    time.sleep(seconds)
