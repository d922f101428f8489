"""The worker's and beat's entry point: the project's one Celery app (config/celery.py, which the web process sends
with too), with Django set up first and the worker-only parts plugged in.

    celery -A worker.celery_app worker               # consumes CELERY_TASK_DEFAULT_QUEUE
    celery -A worker.celery_app beat -s /tmp/celerybeat-schedule
"""

import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

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
from eventcache.redis_url import mask  # noqa: E402
from worker import rejections  # noqa: E402

logger = logging.getLogger("worker")

# Worker-side wiring (class paths of worker modules, so they stay out of the settings that the web process's
# producer handle also loads): Celery's consumer counting undecodable messages, and the Redis transport that
# drops queue items that are not kombu messages instead of dying on them (worker/transport.py). A rediss://
# broker keeps kombu's own transport, whose TLS defaults hang on the URL scheme.
app.conf.worker_consumer = "worker.rejections:CountingConsumer"
if urlsplit(app.conf.broker_url).scheme == "redis":
    app.conf.broker_transport = "worker.transport:Transport"
rejections.connect()


class EventMonitorStep(bootsteps.StartStopStep):
    """Runs the pub/sub monitor (eventcache/consume/listener.py) for as long as the worker runs."""

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.enabled = bool(settings.REDIS_URL)

    def create(self, worker):
        from eventcache.consume.listener import EventMonitor

        return EventMonitor()


app.steps["worker"].add(EventMonitorStep)


@signals.worker_ready.connect
def log_ready(sender=None, **kwargs):
    logger.info("worker ready: broker %s, queues %s", mask(app.conf.broker_url), ",".join(sorted(app.amqp.queues)))
