"""The worker's pub/sub monitor: listens on settings.EVENTS_CHANNEL, validates, counts and measures lag.

Observability only. Pub/sub is at-most-once (a subscriber that is down misses messages), so nothing correct
depends on it: the Celery queue, backed by the outbox, is the delivery path. What this gives an operator:
`events_seen` and `events_rejected` counters and the publish-to-receive lag (`events_lag_ms_total` divided by
`events_seen` is the mean; the last value is logged at DEBUG), all visible in `manage.py cache_stats`.

The worker runs one EventMonitor in a thread for its whole life (a bootstep in worker/celery_app.py).
"""

import logging
import threading
import time

import redis
from django.conf import settings

from caching import stats
from config.redis_url import cache_url, mask
from events.schema import Event, InvalidEvent, decode

logger = logging.getLogger("events.monitor")

LAG_TOTAL = "events_lag_ms_total"
POLL_SECONDS = 1.0  # how often the listening thread checks whether it should stop
BACKOFF_MAX_SECONDS = 30.0


class EventMonitor:
    def __init__(self, redis_url: str | None = None, channel: str | None = None):
        self.redis_url = cache_url(redis_url or settings.REDIS_URL)
        self.channel = channel or settings.EVENTS_CHANNEL
        self.last_lag_ms: int | None = None
        self.subscribed = threading.Event()  # set while subscribed (tests wait on it)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="events-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL_SECONDS + 2)
            self._thread = None

    def handle(self, raw: str | bytes) -> Event | None:
        """Validate and count one message; returns the event, or None when it was rejected."""
        try:
            event = decode(raw)
        except InvalidEvent as exc:
            logger.warning("pub/sub message rejected: %s: %.200r", exc, raw)
            stats.incr(stats.EVENTS_REJECTED)
            return None
        self.last_lag_ms = max(0, round((time.time() - event.at) * 1000))
        stats.incr(stats.EVENTS_SEEN)
        stats.incr(LAG_TOTAL, self.last_lag_ms)
        logger.debug("pub/sub event %s #%s, lag %d ms", event.kind, event.id, self.last_lag_ms)
        return event

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            # A dedicated connection with no socket_timeout: a blocking subscriber must not time out while the
            # channel is quiet (redis-py's health checks keep it honest instead).
            client = redis.Redis.from_url(self.redis_url, socket_timeout=None, socket_connect_timeout=5, health_check_interval=30)
            try:
                with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    logger.info("pub/sub monitor subscribed to %s on %s", self.channel, mask(self.redis_url))
                    backoff = 0.5
                    while not self._stopping.is_set():
                        message = pubsub.get_message(timeout=POLL_SECONDS)
                        if message and message["type"] == "message":
                            self.handle(message["data"])
            except Exception as exc:  # noqa: BLE001 - observability must never take the worker down
                self.subscribed.clear()
                unexpected = not isinstance(exc, redis.RedisError)
                logger.warning("pub/sub monitor: %r; reconnecting in %.1f s", exc, backoff, exc_info=unexpected)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            finally:
                client.close()
        self.subscribed.clear()
