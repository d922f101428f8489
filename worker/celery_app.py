"""The worker's and beat's entry point: the project's one Celery app (config/celery.py, which the web process sends
with too), with Django set up first and the worker-only parts plugged in.

    celery -A worker.celery_app worker               # consumes CELERY_TASK_DEFAULT_QUEUE
    celery -A worker.celery_app beat -s /tmp/celerybeat-schedule
"""

import logging
import os
import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parent.parent / "backend"
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

from config.cli import setting_errors_exit  # noqa: E402

if not apps.ready:  # under pytest-django (or any Django process) Django is already set up
    with setting_errors_exit():  # a missing SECRET_KEY is one line, not a traceback through Celery's app loading
        django.setup()

from celery import bootsteps, signals  # noqa: E402
from django.conf import settings  # noqa: E402

from config.celery import app  # noqa: E402
from eventcache import broker  # noqa: E402
from eventcache.redis_url import mask  # noqa: E402
from worker import rejections  # noqa: E402
from worker.backlog import ApplyBacklog  # noqa: E402
from worker.broker_loss import KeepUnackedInRedis  # noqa: E402
from worker.queue_guard import QueueGuard  # noqa: E402

logger = logging.getLogger("worker")

# Worker-only consumer steps (documented Celery bootsteps, so the web process's app never loads them): the
# celery#1113 queue-item guard, no restore from a released connection (kombu#582), and the delivered-but-unapplied
# backlog applied on every (re)connection. Celery's own refusals are counted through signals (worker/rejections.py).
app.steps["consumer"].update((QueueGuard, KeepUnackedInRedis, ApplyBacklog))
rejections.connect()

# On RabbitMQ the worker (and beat, which starts from this module too) publishes without confirms: with its
# connections in confirm mode the worker's event loop let a delivery wait for its next poll timeout (up to a second
# per message; tests/integration/test_worker.py's one-second acceptance fails on amqp with them). What needs
# confirming is the web's hand-over of outbox rows (config/settings.py); the worker publishes only retries and beat
# only periodic sweeps, and an outbox row whose message is lost is re-sent by the sweep.
if broker.is_amqp(app.conf.broker_url):
    app.conf.broker_transport_options = broker.amqp_transport_options(confirm_publish=False)


class EventMonitorStep(bootsteps.StartStopStep):
    """Runs the pub/sub monitor (eventcache/consume/listener.py) for as long as the worker runs.

    Started after the pool has forked its processes: a prefork child forked while the monitor's thread held a lock
    (the import lock of its first connection's `encodings.idna`, seen here) inherits it held and hangs on its first
    Redis connection, holding its task unacknowledged."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.enabled = bool(settings.REDIS_URL or settings.REDIS_CLUSTER_URL)

    def create(self, worker):
        from eventcache.consume.listener import EventMonitor

        return EventMonitor()


app.steps["worker"].add(EventMonitorStep)


@signals.worker_ready.connect
def log_ready(sender=None, **kwargs):
    logger.info("worker ready: broker %s, queues %s", mask(app.conf.broker_url), ",".join(sorted(app.amqp.queues)))
