"""What the dashboard shows, as one JSON-ready dict: the engine's counters over a recent window, invalidation lag
percentiles and events/s from the outbox table, its backlog, the hottest shopping lists, and Redis's own view
(INFO memory, DBSIZE, SLOWLOG).

The engine's counters are cumulative (one Redis hash, every process). Each call keeps a sample of them in a short
Redis list, so a window's rates come from the difference with the oldest sample inside the window, whoever asked.
"""

import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Q
from django.utils import timezone
from redis.exceptions import RedisError

from observe.engine import OutboxEvent, cluster, hot_keys, stats

SAMPLES_KEY = "observe:dashboard:samples"
SAMPLES_KEPT = 400
SAMPLE_EVERY_SECONDS = 1.0
LAG_ROWS_MAX = 5000  # the most recent processed rows the percentiles are computed over
HOT_LISTS_SHOWN = 10
SLOWLOG_SHOWN = 10


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def _window_counts(counts: dict, now: float, window: float) -> tuple[dict, float]:
    """The counters' growth over the window (or since the oldest sample), and how many seconds that covers."""
    try:
        conn = _redis()
        newest = conn.lindex(SAMPLES_KEY, 0)
        if newest is None or now - json.loads(newest)["t"] >= SAMPLE_EVERY_SECONDS:
            pipe = conn.pipeline(transaction=False)
            pipe.lpush(SAMPLES_KEY, json.dumps({"t": now, "c": counts}, separators=(",", ":")))
            pipe.ltrim(SAMPLES_KEY, 0, SAMPLES_KEPT - 1)
            pipe.execute()
        samples = [json.loads(raw) for raw in conn.lrange(SAMPLES_KEY, 0, -1)]
    except RedisError:
        return {}, 0.0
    inside = [s for s in samples if now - s["t"] <= window]
    base = min(inside, key=lambda s: s["t"]) if inside else {"t": now, "c": counts}
    return {k: v - base["c"].get(k, 0) for k, v in counts.items()}, now - base["t"]


def _families(counts: dict, window_counts: dict) -> dict:
    result = {}
    for name, total in stats.per_family(counts).items():
        recent = {k[len(name) + 1 :]: v for k, v in window_counts.items() if k.startswith(f"{name}:")}
        hits, misses = recent.get(stats.HITS, 0), recent.get(stats.MISSES, 0)
        result[name] = {
            "hits": total.get(stats.HITS, 0),
            "misses": total.get(stats.MISSES, 0),
            "fills": total.get(stats.COMPUTATIONS, 0),
            "lease_waits": total.get(stats.LEASE_WAITS, 0),
            "window_hits": hits,
            "window_misses": misses,
            "window_hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        }
    return result


def _outbox(now_dt, window: float) -> dict:
    since = now_dt - timezone.timedelta(seconds=window)
    minute_ago = now_dt - timezone.timedelta(seconds=60)
    backlog = OutboxEvent.objects.filter(processed_at__isnull=True).aggregate(
        unprocessed=Count("id"),
        unsent=Count("id", filter=Q(sent_at__isnull=True)),
        oldest_unprocessed=Min("created_at"),
        oldest_unsent=Min("created_at", filter=Q(sent_at__isnull=True)),
    )
    rows = list(
        OutboxEvent.objects.filter(processed_at__gte=since)
        .order_by("-processed_at")
        .values_list("created_at", "processed_at", "dropped_at")[:LAG_ROWS_MAX]
    )
    applied = sorted((p - c).total_seconds() * 1000 for c, p, _d in rows)
    dropped = sorted((d - c).total_seconds() * 1000 for c, _p, d in rows if d is not None)

    def age(moment):
        return None if moment is None else round((now_dt - moment).total_seconds(), 3)

    return {
        "unprocessed": backlog["unprocessed"],
        "unsent": backlog["unsent"],
        "oldest_unprocessed_age_s": age(backlog["oldest_unprocessed"]),
        "oldest_unsent_age_s": age(backlog["oldest_unsent"]),
        "events_per_second": round(OutboxEvent.objects.filter(created_at__gte=minute_ago).count() / 60, 3),
        "lag_ms": {
            "applied": {f"p{p}": _round(percentile(applied, p)) for p in (50, 95, 99)} | {"count": len(applied)},
            "dropped": {f"p{p}": _round(percentile(dropped, p)) for p in (50, 95, 99)} | {"count": len(dropped)},
        },
    }


def _round(value):
    return None if value is None else round(value, 1)


def _hot_lists() -> list[dict]:
    """The most read keys of the hot families (the pages of shopping lists), with whose they are and which page."""
    keys = hot_keys(HOT_LISTS_SHOWN)
    parts = [dict(zip(k.family.parts, k.args, strict=True)) for k in keys]
    user_ids = [p.get("user_id") for p in parts]
    users = get_user_model().objects.filter(pk__in=[u for u in user_ids if u]).annotate(lists=Count("shopping_lists"))
    by_id = {u.pk: u for u in users}
    hot = []
    for key, uid, part in zip(keys, user_ids, parts, strict=True):
        user = by_id.get(uid)
        hot.append(
            {
                "key": key.name,
                "user_id": uid,
                "page": part.get("page"),
                "username": user.get_username() if user else None,
                "lists": user.lists if user else None,
            }
        )
    return hot


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def redis_view() -> dict:
    """The guide's monitoring commands: INFO memory, DBSIZE, SLOWLOG GET, and INFO stats' keyspace hits/misses."""
    try:
        conn = _redis()
        memory, info_stats = cluster.worst_info(conn, "memory"), cluster.worst_info(conn, "stats")
        return {
            "used_memory": memory.get("used_memory", 0),
            "used_memory_human": memory.get("used_memory_human", ""),
            "used_memory_peak_human": memory.get("used_memory_peak_human", ""),
            "maxmemory_human": memory.get("maxmemory_human", ""),
            "mem_fragmentation_ratio": memory.get("mem_fragmentation_ratio"),
            "dbsize": cluster.key_count(conn),
            "keyspace_hits": info_stats.get("keyspace_hits", 0),
            "keyspace_misses": info_stats.get("keyspace_misses", 0),
            "slowlog": [
                {"id": e["id"], "duration_us": e["duration"], "command": _text(e["command"])[:200]}
                for e in cluster.slowlog(conn, SLOWLOG_SHOWN)
            ],
        }
    except RedisError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect() -> dict:
    window = float(settings.OBSERVE_WINDOW_SECONDS)
    now, now_dt = time.time(), timezone.now()
    counts = stats.snapshot()
    window_counts, covered = _window_counts(counts, now, window)
    family_names = tuple(f"{name}:" for name in stats.per_family({}))
    return {
        "at": now_dt.isoformat(),
        "window_seconds": window,
        "window_covered_seconds": round(covered, 1),
        "families": _families(counts, window_counts),
        "counters": {k: v for k, v in sorted(counts.items()) if not k.startswith(family_names)},
        "outbox": _outbox(now_dt, window),
        "hot_lists": _hot_lists(),
        "redis": redis_view(),
    }
