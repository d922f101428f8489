"""The worker's pub/sub listener: on settings.EVENTS_CHANNEL, validates, counts, measures lag, and drops keys.

The fast path of invalidation. An event is published right after its write commits; this listener gets it
a fraction of a millisecond later and drops every key it touches at once (invalidation.drop_touched: the rules
table's look-ups, one Redis round trip that also voids leases), without waiting for the Celery queue, and
records when in the outbox row (dropped_at). Messages that arrive together are dropped as one batch. This is
the shape of Facebook's memcache invalidation (a fast delete, and a durable stream that deletes again).

Nothing correct depends on it: pub/sub is at-most-once (a listener that is down misses messages) and a drop
can fail; the Celery queue, backed by the outbox, still applies every event (and re-fills hot lists).
EVENTS_DROP_ON_PUBLISH=0 leaves the listener to observability.

With K workers one listener works: the one holding the `listener` role (consume/lease.py, a Redis lease renewed
every EVENTS_LISTENER_RENEW_SECONDS). The others stand by unsubscribed and try for the role as often; when the
holder dies or loses Redis its lease expires (EVENTS_LISTENER_LEASE_SECONDS) and one of them subscribes. Events
published while nobody holds it are applied by the queue as always. So each event is looked up once here, not K
times (`dependents_lookups:listener`, eventcache/stats.py), and events_seen counts each event once.

What it gives an operator: `events_seen`, `events_rejected`, `events_dropped_on_publish` and
`drop_on_publish_failures` counters and the publish-to-receive lag (`events_lag_ms_total` divided by
`events_seen` minus `events_lag_ignored` is the mean; the last value is logged at DEBUG), all visible in
`manage.py cache_stats`. Like the dropped_at marks, they are written when the channel has been quiet for
IDLE_SECONDS (or after UNMARKED_MAX events), in one round trip, so no bookkeeping stands between one message's
drop and the next. An event whose `at` is more than a day from now (`at: 1`, a clock far off, a row re-sent
after a long outage) is dropped as usual but left out of the lag (events.lag_ms), so one message cannot swamp it.

A message that is not an event (not JSON, NaN, nesting that exhausts the parser, a wrong shape) is logged,
counted in `events_rejected` and skipped; the listener stays subscribed. It reconnects only when Redis fails.

The worker runs one EventMonitor in a thread for its whole life (a bootstep in worker/celery_app.py).
"""

import logging
import threading
import time
from collections import Counter

import redis
from django.conf import settings
from django.db import close_old_connections, connections

from eventcache import stats
from eventcache.consume.lease import RoleLease
from eventcache.events import Event, InvalidEvent, decode, lag_ms
from eventcache.redis_url import cache_url, mask
from eventcache.relay import outbox

logger = logging.getLogger("eventcache.consume.listener")

LAG_TOTAL = "events_lag_ms_total"
LAG_IGNORED = "events_lag_ignored"  # events left out of the lag: their `at` is more than a day from now
DROPPED = "events_dropped_on_publish"
DROP_FAILURES = "drop_on_publish_failures"
DROP_BATCH_MAX = 500  # messages already waiting are dropped together, up to this many
# Bookkeeping (dropped_at marks, counters) waits for a quiet channel, so it never stands between a message and the
# next one's drop: written once the channel has been quiet this long ...
IDLE_SECONDS = 0.005
UNMARKED_MAX = 2000  # ... or once this many events wait for it
MARK_ATTEMPTS = 3  # a row a task holds (or one marked already) is tried this many times
POLL_SECONDS = 1.0  # how often the listening thread checks whether it should stop
# Reconnecting: 0.5 s, then every second. A restarted Redis, like a cluster's promoted replica, answers within
# seconds, and the listener's drop should be back as soon as it does, not one doubled backoff later (the queue
# applies the events of the gap either way). One connection attempt a second costs Redis nothing; the warnings
# are logged for the first failure and then every WARN_EVERY_FAILURES.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 1.0
WARN_EVERY_FAILURES = 60


class _Retry:
    """The wait before the listener's next attempt after a failure, and whether to warn about it."""

    def __init__(self, stopping: threading.Event):
        self._stopping = stopping
        self.reset()

    def reset(self) -> None:
        self.backoff, self.failures = BACKOFF_FIRST_SECONDS, 0

    def after_failure(self, message: str, *args, warn: bool = False, exc_info: bool = False) -> None:
        """Log `message % args` on the first failure, every WARN_EVERY_FAILURES-th, or when `warn`; then wait."""
        if warn or self.failures % WARN_EVERY_FAILURES == 0:
            logger.warning(message + " (failure %d)", *args, self.failures + 1, exc_info=exc_info)
        self.failures += 1
        self._stopping.wait(self.backoff)
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_SECONDS)


class EventMonitor:
    def __init__(self, redis_url: str | None = None, channel: str | None = None):
        # On a Redis Cluster (REDIS_CLUSTER_URL, and no URL given) the listener subscribes on one of its nodes: PUBLISH
        # is broadcast to every node (docs/ARCHITECTURE.md, "On a Redis Cluster").
        self.cluster_url = "" if redis_url else settings.REDIS_CLUSTER_URL
        self.redis_url = self.cluster_url or cache_url(redis_url or settings.REDIS_URL)
        self.channel = channel or settings.EVENTS_CHANNEL
        self.last_lag_ms: int | None = None
        self.drop_keys = settings.EVENTS_DROP_ON_PUBLISH
        self._unmarked: dict[int, tuple[float, int]] = {}  # outbox id -> (time.time() of its drop, attempts), unwritten
        self._counts: Counter[str] = Counter()  # counter increments not yet written to the shared stats
        self.subscribed = threading.Event()  # set while subscribed (tests wait on it)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        term, renew = settings.EVENTS_LISTENER_LEASE_SECONDS, settings.EVENTS_LISTENER_RENEW_SECONDS
        self.lease = RoleLease("listener", term, renew) if term > 0 else None  # None: every listener works

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
        """Validate and count one message (counters written at once); returns the event, or None when rejected."""
        events = self._validate([raw])
        self._count(events)
        self.write_counts()
        return events[0] if events else None

    def _validate(self, raws) -> list[Event]:
        events = []
        for raw in raws:
            try:
                events.append(decode(raw))
            except InvalidEvent as exc:
                logger.warning("pub/sub message rejected: %s: %.200r", exc, raw)
                stats.incr(stats.EVENTS_REJECTED)
            except Exception:  # noqa: BLE001 - a decoding bug must cost one message, never the subscription
                logger.exception("pub/sub message rejected (unexpected error decoding it): %.200r", raw)
                stats.incr(stats.EVENTS_REJECTED)
        return events

    def _count(self, events: list[Event]) -> None:
        """events_seen and the publish-to-receive lag, kept for write_counts()."""
        if not events:
            return
        now = time.time()
        lags = [lag for event in events if (lag := lag_ms(event, now)) is not None]
        self._counts[stats.EVENTS_SEEN] += len(events)
        if lags:
            self.last_lag_ms = lags[-1]
            self._counts[LAG_TOTAL] += sum(lags)
        if len(lags) < len(events):
            self._counts[LAG_IGNORED] += len(events) - len(lags)
            logger.warning(
                "pub/sub: %d event(s) with an `at` more than a day from now left out of the lag",
                len(events) - len(lags),
            )
        logger.debug("pub/sub: %d event(s), last lag %s ms", len(events), self.last_lag_ms)

    def drop(self, events: list[Event]) -> int:
        """Drop every key the events touch; returns how many events. When is noted for their outbox rows and
        written while the channel is quiet (mark_dropped): bookkeeping stays off the path of the next drop. Never
        raises: a failure is logged and counted, and the Celery task applies the events anyway."""
        from eventcache.store import invalidation

        try:
            invalidation.drop_touched(events)
        except Exception as exc:  # noqa: BLE001 - the queue is the guarantee; this listener must go on
            logger.warning(
                "dropping the keys of %d published event(s) failed (the worker's task will): %r", len(events), exc
            )
            stats.incr(DROP_FAILURES)
            close_old_connections()  # a broken database connection is replaced on the next use
            return 0
        dropped_at = time.time()
        self._unmarked.update((event.id, (dropped_at, 0)) for event in events)
        self._counts.update({DROPPED: len(events), stats.lookups("listener"): len(events)})
        return len(events)

    def write_counts(self) -> None:
        """Add the counts kept since the last call to the shared stats (stats.incr_many: one round trip)."""
        pending, self._counts = self._counts, Counter()
        if pending:
            stats.incr_many(dict(pending))

    def _bookkeeping_due(self, message) -> bool:
        if not (self._unmarked or self._counts):
            return False
        waiting = max(len(self._unmarked), self._counts[stats.EVENTS_SEEN])
        return message is None or waiting >= UNMARKED_MAX

    def _write_bookkeeping(self) -> None:
        if self._unmarked:
            self.mark_dropped()
        self.write_counts()

    def mark_dropped(self) -> None:
        """Write dropped_at for the events dropped since the last call (relay.outbox.mark_dropped: one statement). A row
        a task held is tried again at the next quiet moment, up to MARK_ATTEMPTS times (it is bookkeeping)."""

        pending, self._unmarked = self._unmarked, {}
        try:
            marked = outbox.mark_dropped({outbox_id: at for outbox_id, (at, _) in pending.items()})
        except Exception as exc:  # noqa: BLE001 - bookkeeping only
            logger.warning("recording dropped_at of %d row(s) failed: %r", len(pending), exc)
            close_old_connections()
            return
        for outbox_id, (at, attempts) in pending.items():
            if outbox_id not in marked and attempts + 1 < MARK_ATTEMPTS:
                self._unmarked.setdefault(outbox_id, (at, attempts + 1))

    def _receive(self, pubsub, first) -> None:
        """Take `first` and every message already waiting (up to DROP_BATCH_MAX): drop their keys as one batch
        first (that is the latency that matters), then count them."""
        raws, message = [], first
        while message is not None:
            if message["type"] == "message":
                raws.append(message["data"])
            if len(raws) >= DROP_BATCH_MAX:
                break
            message = pubsub.get_message(timeout=0)
        events = self._validate(raws)
        if events and self.drop_keys:
            self.drop(events)
        self._count(events)

    def _take_role(self) -> bool:
        """Whether this listener may work: it holds the listener role (or there is none). Stand-bys wait here."""
        if self.lease is None or self.lease.hold():
            return True
        self._stopping.wait(self.lease.renew_seconds)
        return False

    def _keep_role(self) -> bool:
        """Renew the role when due; False when it was lost (the caller unsubscribes and stands by)."""
        return self.lease is None or not self.lease.due() or self.lease.hold()

    def _timeout(self) -> float:
        if self._unmarked or self._counts:
            return IDLE_SECONDS
        return POLL_SECONDS if self.lease is None else min(POLL_SECONDS, self.lease.renew_seconds)

    def _client(self):
        if self.cluster_url:
            from eventcache.store import cluster_client

            # Connecting reads the slot map from any startup node that answers; after a failover of the node we
            # were subscribed on, the reconnect reads the new map and subscribes on the promoted replica.
            return cluster_client.connect(self.cluster_url, socket_timeout=None, socket_connect_timeout=5)
        return redis.Redis.from_url(
            self.redis_url, socket_timeout=None, socket_connect_timeout=5, health_check_interval=30
        )

    def _run(self) -> None:
        retry = _Retry(self._stopping)
        while not self._stopping.is_set():
            try:
                if not self._take_role():
                    continue
            except redis.RedisError as exc:
                retry.after_failure("pub/sub monitor: the listener role could not be taken: %r; trying again", exc)
                continue
            client = None
            # A dedicated connection with no socket_timeout: a blocking subscriber must not time out while the
            # channel is quiet (redis-py's health checks keep it honest instead).
            try:
                client = self._client()
                with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    logger.info("pub/sub monitor subscribed to %s on %s", self.channel, mask(self.redis_url))
                    retry.reset()
                    while not self._stopping.is_set():
                        message = pubsub.get_message(timeout=self._timeout())
                        if message is not None:
                            self._receive(pubsub, message)
                        if self._bookkeeping_due(message):
                            self._write_bookkeeping()
                        if not self._keep_role():
                            break  # another listener holds the role now: unsubscribe and stand by
            except Exception as exc:  # noqa: BLE001 - observability must never take the worker down
                self.subscribed.clear()
                unexpected = not isinstance(exc, redis.RedisError)
                retry.after_failure(
                    "pub/sub monitor: %r; reconnecting in %.1f s",
                    exc,
                    retry.backoff,
                    warn=unexpected,
                    exc_info=unexpected,
                )
            finally:
                self.subscribed.clear()
                if client is not None:
                    client.close()
        self.subscribed.clear()
        self._write_bookkeeping()
        if self.lease is not None:
            self.lease.release()
        connections.close_all()  # this thread's database connection
