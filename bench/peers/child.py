"""One approach's measurements, in a process of its own with its own Django settings module:

    DJANGO_SETTINGS_MODULE=bench.peers.settings_cacheops python -m bench.peers.child cacheops '<config json>'

Prints one line `RESULT <json>` for the parent (bench/peers/__init__.py). The parent seeded the database,
flushed this approach's Redis database and, for ours, started a Celery worker.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for path in (str(REPO / "backend"), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)

FILLER = b"x" * 100  # the value of a cloned entry: its size does not change what invalidation costs
PIPE = 5000


def _ns_stats(samples) -> dict:
    ordered = sorted(samples)
    p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
    return {"p50_ms": statistics.median(ordered) / 1e6, "p99_ms": p99 / 1e6, "n": len(ordered)}


def _timed(fn, n: int) -> dict:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return _ns_stats(samples)


# --- each approach's Redis: which client, and which of its keys are bookkeeping ------------------------------


def redis_client(name: str):
    import redis

    from bench.peers import peer_redis

    if name == "ours":
        from django.conf import settings

        return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"], socket_timeout=300)
    return redis.Redis.from_url(peer_redis.url(name), socket_timeout=300)


def _cachalot_table_keys() -> set:
    from cachalot.utils import get_table_cache_key
    from django.core.cache import caches
    from django.db import connection

    cache = caches["cachalot"]
    return {
        str(cache.make_key(get_table_cache_key("default", t))).encode() for t in connection.introspection.table_names()
    }


def key_kind(name: str):
    """key -> 'value' or 'bookkeeping' for this approach."""
    if name == "ours":
        from bench.peers import ours

        return ours.bookkeeping_kind
    if name == "cacheops":
        return lambda k: "bookkeeping" if k.startswith((b"conj:", b"schemes:")) else "value"
    if name == "cachalot":
        tables = _cachalot_table_keys()
        return lambda k: "bookkeeping" if k in tables else "value"
    return lambda k: "value"


# --- tasks --------------------------------------------------------------------------------------------------


def task_reads(approach, cfg) -> dict:
    """In-process cached reads of the same payloads (warmed first), and for ours the uncached compute."""
    import datetime as dt

    from planner import payloads

    day = dt.date.fromisoformat(cfg["day"])
    reads = {
        "recipe detail": (
            lambda: approach.read_recipe(cfg["recipe_id"]),
            lambda: payloads.recipe_detail(cfg["recipe_id"]),
        ),
        "meal plan, one day": (
            lambda: approach.read_meal_plan(cfg["family_id"], day),
            lambda: payloads.meal_plan(cfg["family_id"], day),
        ),
        "recipe list, page 1": (lambda: approach.read_recipe_list(None, 1), lambda: payloads.recipe_list(None, 1)),
    }
    out = {}
    for label, (cached, uncached) in reads.items():
        for _ in range(5):
            cached()
        out[label] = {"cached": _timed(cached, cfg["n"])}
        if approach.name == "ours":
            out[label]["uncached"] = _timed(uncached, cfg["n"])
    return out


def _clone(conn, source: bytes, count: int, sets: list[bytes], tag: str) -> None:
    """`count` entries shaped like `source` (same dependency sets), added in pipelines: a SET each, and one SADD
    per set per chunk of them."""
    pipe = conn.pipeline(transaction=False)
    for start in range(0, count, PIPE):
        clones = [source + f":{tag}{i}".encode() for i in range(start, min(count, start + PIPE))]
        for clone in clones:
            pipe.set(clone, FILLER, ex=3600)
        for s in sets:
            pipe.sadd(s, *clones)
        pipe.execute()


def task_invalidation(approach, cfg) -> dict:
    """One recipe write's invalidation with N entries cached. The entries are recipe-list pages (queries on
    the recipe table that a recipe write may change): one real entry made by the approach, then N-1 clones
    of it (same dependency sets, 100-byte values) - filling 1M through the ORM would take most of an hour."""
    import datetime as dt

    from planner.models import Recipe

    conn = redis_client(approach.name)
    recipe_id = cfg["recipe_id"]
    out = {}
    names: list[bytes] = []
    for size in cfg["sizes"]:
        samples = []
        reps = cfg["reps_small"] if size < 1_000_000 else cfg["reps_large"]
        for _ in range(reps):
            conn.flushdb()
            approach.read_recipe_list(None, 1)
            approach.read_recipe(recipe_id)
            approach.read_meal_plan(cfg["family_id"], dt.date.fromisoformat(cfg["day"]))
            if approach.name == "ours":
                from bench.peers import ours

                if len(names) != size:  # built once per size: a million names take seconds to build
                    names = [ours.redis_name(ours.recipe_list_key(f"t{i}", 1)).encode() for i in range(size)]
                pipe = conn.pipeline(transaction=False)
                for start in range(0, size, 1000):
                    pipe.mset({n: FILLER for n in names[start : start + 1000]})
                    if len(pipe) >= 20:
                        pipe.execute()
                pipe.execute()
                fn = lambda: ours.invalidate_recipe(recipe_id)  # noqa: E731
            elif approach.name == "cacheops":
                from cacheops import invalidate_obj

                # a list page's entry: a member of the recipe table's catch-all set (queries without a pk condition)
                source = conn.srandmember(b"conj:planner_recipe:") or next(conn.scan_iter(match="q:*", count=1000))
                sets = [s for s in conn.scan_iter(match="conj:*", count=1000) if conn.sismember(s, source)]
                _clone(conn, source, size - 1, sets, "clone")
                recipe = Recipe.objects.get(pk=recipe_id)
                fn = lambda: invalidate_obj(recipe)  # noqa: E731
            elif approach.name == "cachalot":
                from cachalot.api import invalidate

                kind = key_kind("cachalot")
                source = next(k for k in conn.scan_iter(count=1000) if kind(k) == "value")
                _clone(conn, source, size - 1, [], "clone")
                fn = lambda: invalidate(Recipe)  # noqa: E731
            else:
                cache = approach.cache
                pipe = conn.pipeline(transaction=False)
                for start in range(0, size, 1000):
                    pipe.mset(
                        {
                            cache.make_key(f"api:recipes:tag=t{i}:page=1"): FILLER
                            for i in range(start, min(size, start + 1000))
                        }
                    )
                    if len(pipe) >= 20:
                        pipe.execute()
                pipe.execute()

                def fn():  # what the recipe's post_save receiver runs (approaches.DeletePattern)
                    cache.delete_pattern(f"recipe:{recipe_id}")
                    cache.delete_pattern("api:recipes:*")

            keys_in_db = conn.dbsize()
            start = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - start) / 1e6)
        out[str(size)] = {
            "median_ms": statistics.median(samples),
            "runs": len(samples),
            "keys_in_db": keys_in_db,
            "keys_after": conn.dbsize(),
        }
    conn.flushdb()
    return out


def task_bookkeeping(approach, cfg) -> dict:
    """After N distinct recipe-detail reads: keys and bytes in the approach's Redis database, split into
    cached values and bookkeeping; then one recipe write, and a sample of the N reads again: how many of them
    had to query the database (their entries were voided) - and whether those entries are still stored."""
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from planner.models import Recipe

    conn = redis_client(approach.name)
    conn.flushdb()
    ids = cfg["recipe_ids"]
    for rid in ids:
        approach.read_recipe(rid)
    approach.settle()
    kind = key_kind(approach.name)
    counts = {"value": [0, 0], "bookkeeping": [0, 0]}
    no_ttl = 0
    for key in conn.scan_iter(count=1000):
        k = kind(key)
        counts[k][0] += 1
        counts[k][1] += conn.memory_usage(key, samples=0) or 0
        if conn.ttl(key) == -1:
            no_ttl += 1
    written = Recipe.objects.get(pk=ids[-1])
    written.title = written.title + " (edited)"
    written.save()
    approach.settle()
    sample = random.Random(13).sample(ids[:-1], min(cfg["sample"], len(ids) - 1))
    voided = 0
    for rid in sample:
        with CaptureQueriesContext(connection) as queries:
            approach.read_recipe(rid)
        voided += bool(len(queries))
    return {
        "reads": len(ids),
        "value_keys": counts["value"][0],
        "value_bytes": counts["value"][1],
        "bookkeeping_keys": counts["bookkeeping"][0],
        "bookkeeping_bytes": counts["bookkeeping"][1],
        "keys_without_ttl": no_ttl,
        "voided_share": voided / max(1, len(sample)),
        "keys_after_write": conn.dbsize(),
    }


def task_matrix(approach, cfg) -> list:
    from bench.peers import matrix

    return [
        {
            "number": o.row.number,
            "name": o.row.name,
            "correct": o.correct,
            "expected": repr(o.expected),
            "got": repr(o.got),
        }
        for o in matrix.run_all(approach)
    ]


TASKS = {"reads": task_reads, "invalidation": task_invalidation, "bookkeeping": task_bookkeeping, "matrix": task_matrix}


def main() -> int:
    name, cfg = sys.argv[1], json.loads(sys.argv[2])
    import django

    django.setup()
    from bench.peers import approaches, ours

    if name != "ours":
        ours.silence_relay()
    approach = approaches.build(name)
    result = {}
    for task in cfg["tasks"]:
        started = time.monotonic()
        result[task] = TASKS[task](approach, cfg[task])
        print(f"{name}: {task} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.exit(main())
