"""The Celery broker: one place that picks it and its options, for the settings (and anything else) to call.

    CELERY_BROKER_URL=amqp://user:pass@host:5672/vhost   RabbitMQ (the production broker when one Redis is not enough)
    unset, REDIS_URL set                                 Redis: REDIS_URL's next logical database (redis_url.broker_url)
    neither                                              memory:// (tasks run eagerly in the web process)

On RabbitMQ the cache queue is a quorum queue (replicated; a dead consumer's unacknowledged deliveries go back to
the queue when its channel closes), every publish waits for the broker's confirm, and the exchange is a topic
exchange, because Celery's native delayed delivery (the only way a quorum queue holds a countdown retry without a
worker holding it in memory) refuses direct exchanges.
"""

from urllib.parse import urlsplit

from eventcache.redis_url import broker_url

AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})


def celery_broker_url(configured: str, redis_url: str) -> str:
    """CELERY_BROKER_URL when set, else REDIS_URL's broker database, else the in-memory transport."""
    if configured:
        return configured
    return broker_url(redis_url) if redis_url else "memory://"


def is_amqp(url: str) -> bool:
    return urlsplit(url).scheme in AMQP_SCHEMES


def is_redis(url: str) -> bool:
    return urlsplit(url).scheme in ("redis", "rediss")


def redis_transport_options(visibility_timeout: int) -> dict:
    return {
        # Unacknowledged tasks of a dead worker come back after this long; it exceeds the longest task and
        # the longest retry countdown (60 s).
        "visibility_timeout": visibility_timeout,
        # Scan for them every unacked_restore_interval (10 s); kombu 5.7 scans only every 10th time by default, so a
        # dead worker's batch would wait ~100 s past its visibility timeout (the outbox sweep re-sends it sooner).
        "unacked_restore_throttle": 1,
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
    }


def amqp_transport_options(confirm_publish: bool) -> dict:
    # Publisher confirms: apply_async returns once RabbitMQ has the message (a refused publish raises instead of
    # vanishing), so a relay that marked outbox rows sent has really handed them over.
    return {"confirm_publish": confirm_publish}
