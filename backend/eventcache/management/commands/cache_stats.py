"""`python backend/manage.py cache_stats [--json]`: what an operator looks at.

Hits, misses and hit ratio per key family as counted by the app (all processes, through Redis), the app's
other counters, Redis's own keyspace hits/misses, memory, key count and its slowest recent commands.
Exits 1, naming the cache, when that cache is not Redis or Redis does not answer (caching/management/redis_target.py)."""

import json

from django.core.management.base import BaseCommand
from redis.exceptions import RedisError

from eventcache import stats
from eventcache.management.redis_target import require_redis
from eventcache.store import ops


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def redis_report(slowlog_entries: int = 10) -> dict:
    conn = ops.connection()
    info = conn.info()
    return {
        "keyspace_hits": info.get("keyspace_hits", 0),
        "keyspace_misses": info.get("keyspace_misses", 0),
        "used_memory": info.get("used_memory", 0),
        "used_memory_human": info.get("used_memory_human", ""),
        "keys": conn.dbsize(),
        "slowlog": [
            {
                "id": entry["id"],
                "duration_us": entry["duration"],
                "command": _text(entry["command"])[:200],
            }
            for entry in conn.slowlog_get(slowlog_entries)
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
    report = {
        "families": families,
        "counters": {k: v for k, v in sorted(counts.items()) if not k.startswith(family_prefixes)},
        "redis": None,
    }
    if ops.uses_redis():
        try:
            report["redis"] = redis_report()
        except RedisError as exc:
            report["redis"] = {"error": f"{type(exc).__name__}: {exc}"}
    return report


class Command(BaseCommand):
    help = "Cache hit ratios per key family, app counters, and Redis's own statistics."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        require_redis()
        report = collect()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
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
            out("slowest recent commands (SLOWLOG):")
            for entry in redis["slowlog"]:
                out(f"  {entry['duration_us']:>8} us  {entry['command']}")
