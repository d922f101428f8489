"""Metrics read at scrape time from state every process shares: the engine's counter hash in Redis, the outbox
table, and Redis itself. Registered on the web's scrape registry only (one reader, no double counting)."""

import logging

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import RedisError

from observe.engine import OutboxEvent, cluster, stats

logger = logging.getLogger("observe.metrics")

PREFIX = "recipe_planner"
FAMILY_COUNTERS = {
    stats.HITS: "cache_hits",
    stats.MISSES: "cache_misses",
    stats.COMPUTATIONS: "cache_fills",
    stats.LEASE_WAITS: "cache_lease_waits",
    stats.LEASE_WAIT_TIMEOUTS: "cache_lease_wait_timeouts",
}
NAMED_COUNTERS = {
    stats.EVENTS_SEEN: ("events_in", "Events the worker's pub/sub listener received"),
    stats.EVENTS_REJECTED: ("events_rejected", "Events refused as malformed (listener and worker), logged"),
}


class EngineCounters:
    """The engine's shared counters (eventcache.stats): per key family, the named ones, and every other one."""

    def collect(self):
        counts = stats.snapshot()
        by_family = stats.per_family(counts)
        for what, name in FAMILY_COUNTERS.items():
            metric = CounterMetricFamily(
                f"{PREFIX}_{name}", f"Cache {what.replace('_', ' ')} per key family", labels=["family"]
            )
            for family, numbers in by_family.items():
                metric.add_metric([family], numbers.get(what, 0))
            yield metric
        for key, (name, doc) in NAMED_COUNTERS.items():
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=counts.get(key, 0))
        lookups = CounterMetricFamily(
            f"{PREFIX}_dependents_lookups",
            "Events whose dependents were looked up, by whom: the listener role's holder (one per event however "
            "many workers), the worker's tasks, the writer (outage recovery)",
            labels=["by"],
        )
        for by in stats.LOOKUP_BY:
            lookups.add_metric([by], counts.get(stats.lookups(by), 0))
        yield lookups
        family_prefixes = (*(f"{family}:" for family in by_family), stats.LOOKUPS_PREFIX)
        other = CounterMetricFamily(
            f"{PREFIX}_engine_counter", "Every other counter of the engine, by name", labels=["name"]
        )
        for key, value in sorted(counts.items()):
            if not key.startswith(family_prefixes) and key not in NAMED_COUNTERS:
                other.add_metric([key], value)
        yield other


class OutboxBacklog:
    def collect(self):
        now = timezone.now()
        try:
            row = OutboxEvent.objects.filter(processed_at__isnull=True).aggregate(
                unprocessed=Count("id"),
                unsent=Count("id", filter=Q(sent_at__isnull=True)),
                oldest_unprocessed=Min("created_at"),
                oldest_unsent=Min("created_at", filter=Q(sent_at__isnull=True)),
            )
        except DatabaseError as exc:
            logger.warning("metrics: the outbox could not be read: %s", exc)
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_unprocessed", "Outbox rows not applied by a worker yet", value=row["unprocessed"]
        )
        yield GaugeMetricFamily(f"{PREFIX}_outbox_unsent", "Outbox rows not handed to Redis yet", value=row["unsent"])
        for name, oldest in (("unprocessed", row["oldest_unprocessed"]), ("unsent", row["oldest_unsent"])):
            age = (now - oldest).total_seconds() if oldest else 0.0
            yield GaugeMetricFamily(
                f"{PREFIX}_outbox_oldest_{name}_age_seconds",
                f"Age of the oldest {name} outbox row (0 when none)",
                value=age,
            )


class RedisState:
    def collect(self):
        from django_redis import get_redis_connection

        up = GaugeMetricFamily(f"{PREFIX}_redis_up", "1 when the cache's Redis answered this scrape")
        try:
            conn = get_redis_connection("default")
            memory, keys = cluster.worst_info(conn, "memory"), cluster.key_count(conn)
        except (RedisError, OSError) as exc:
            logger.warning("metrics: Redis did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_used_memory_bytes", "Redis INFO memory used_memory", value=memory.get("used_memory", 0)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_maxmemory_bytes", "Redis maxmemory (0: no limit)", value=memory.get("maxmemory", 0)
        )
        yield GaugeMetricFamily(f"{PREFIX}_redis_keys", "Keys in the cache's Redis database (DBSIZE)", value=keys)
