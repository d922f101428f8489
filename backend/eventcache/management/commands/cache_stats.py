"""`python backend/manage.py cache_stats [--json] [--check]`: what an operator looks at.

Hits, misses and hit ratio per key family as counted by the app (all processes, through Redis), the app's
other counters, Redis's own keyspace hits/misses, memory against maxmemory and the maxmemory-policy, key count
and its slowest recent commands. Warns when used memory reaches REDIS_MEMORY_DEGRADED_RATIO of maxmemory or when
the policy can evict what the cache needs (eventcache.stats.memory_warnings); with --check those warnings make it
exit 1 (for a monitoring probe). Exits 1, naming the cache, when that cache is not Redis or Redis does not answer
(eventcache/management/redis_target.py)."""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from eventcache import stats
from eventcache.management.redis_target import require_redis
from eventcache.store import cluster, ops


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _broker_shares_the_server() -> bool:
    """The Celery broker is this same Redis server (another logical database of it, as by default)."""
    if settings.REDIS_CLUSTER_URL:
        return False  # kombu cannot use a cluster: the broker is always another server
    cache, broker = urlsplit(settings.CACHES["default"]["LOCATION"]), urlsplit(settings.CELERY_BROKER_URL)
    return broker.scheme.startswith("redis") and (broker.hostname, broker.port) == (cache.hostname, cache.port)


def redis_report(slowlog_entries: int = 10) -> dict:
    conn = ops.connection()
    info = cluster.worst_info(conn)
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    return {
        "keyspace_hits": info.get("keyspace_hits", 0),
        "keyspace_misses": info.get("keyspace_misses", 0),
        "used_memory": used,
        "used_memory_human": info.get("used_memory_human", ""),
        "maxmemory": limit,  # 0: unlimited
        "maxmemory_human": info.get("maxmemory_human", ""),
        "maxmemory_policy": _text(info.get("maxmemory_policy", "")),
        "memory_ratio": round(used / limit, 4) if limit else None,
        "keys": cluster.key_count(conn),
        "slowlog": [
            {
                "id": entry["id"],
                "duration_us": entry["duration"],
                "command": _text(entry["command"])[:200],
            }
            for entry in cluster.slowlog(conn, slowlog_entries)
        ],
    }


def collect() -> dict:
    counts = stats.snapshot()
    families = {}
    for name, numbers in stats.per_family(counts).items():
        hits, misses = numbers.get(stats.HITS, 0), numbers.get(stats.MISSES, 0)
        families[name] = {
            "hits": hits,
            "misses": misses,
            "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
            **{k: v for k, v in numbers.items() if k not in (stats.HITS, stats.MISSES)},
        }
    family_prefixes = tuple(f"{name}:" for name in families)
    report: dict = {
        "families": families,
        "counters": {k: v for k, v in sorted(counts.items()) if not k.startswith(family_prefixes)},
        "redis": None,
        "warnings": [],
    }
    if ops.uses_redis():
        try:
            redis = report["redis"] = redis_report()
        except RedisError as exc:
            report["redis"] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            report["warnings"] = stats.memory_warnings(
                redis["used_memory"],
                redis["maxmemory"],
                redis["maxmemory_policy"],
                settings.REDIS_MEMORY_DEGRADED_RATIO,
                holds_broker=_broker_shares_the_server(),
            )
    return report


class Command(BaseCommand):
    help = "Cache hit ratios per key family, app counters, and Redis's own statistics."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--check", action="store_true", help="exit 1 when a warning is reported (memory pressure, eviction policy)"
        )

    def handle(self, *args, **options):
        require_redis()
        report = collect()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._table(report)
        if options["check"] and report["warnings"]:
            raise CommandError("; ".join(report["warnings"]))

    def _table(self, report: dict) -> None:
        out = self.stdout.write
        out(f"{'family':<16}{'hits':>10}{'misses':>10}{'hit ratio':>11}{'computed':>10}{'waits':>8}")
        for name, row in report["families"].items():
            ratio = "-" if row["hit_ratio"] is None else f"{row['hit_ratio']:.1%}"
            out(
                f"{name:<16}{row['hits']:>10}{row['misses']:>10}{ratio:>11}"
                f"{row.get(stats.COMPUTATIONS, 0):>10}{row.get(stats.LEASE_WAITS, 0):>8}"
            )
        if report["counters"]:
            out("\ncounters: " + ", ".join(f"{k}={v}" for k, v in report["counters"].items()))
        redis = report["redis"]
        if redis is None:
            out("\nRedis: not configured (REDIS_URL unset; local-memory cache)")
        elif "error" in redis:
            out(f"\nRedis: unavailable ({redis['error']})")
        else:
            total = redis["keyspace_hits"] + redis["keyspace_misses"]
            ratio = f"{redis['keyspace_hits'] / total:.1%}" if total else "-"
            out(
                f"\nRedis: keyspace_hits={redis['keyspace_hits']} keyspace_misses={redis['keyspace_misses']} "
                f"(ratio {ratio}), used_memory={redis['used_memory_human']}, keys={redis['keys']}"
            )
            limit = redis["maxmemory_human"] if redis["maxmemory"] else "unlimited"
            share = f" ({redis['memory_ratio']:.1%} used)" if redis["memory_ratio"] is not None else ""
            out(f"Redis memory: maxmemory={limit}{share}, policy={redis['maxmemory_policy']}")
            out("slowest recent commands (SLOWLOG):")
            for entry in redis["slowlog"]:
                out(f"  {entry['duration_us']:>8} us  {entry['command']}")
        for warning in report["warnings"]:
            out(self.style.WARNING(f"WARNING: {warning}"))
