"""Stampede: 200 concurrent readers of a hot shopping list that was just invalidated.

Each round fills the list, invalidates it, then releases 200 reader threads at once (a barrier). Ours:
eventcache.store.readthrough.read (one filler under a lease, the others wait for its value). Baseline: the plain
read-through `cache.get` / compute / `cache.set`. Computations are counted around the real payload function
(planner.payloads.shopping_lists); latency is each reader's, from the barrier to its answer. Each
computation uses its own database connection, at most 40 at once (PostgreSQL here allows 100 in all).
"""

import json
import threading

from bench import harness, seed
from bench.report import Chart, ScenarioResult, Target
from bench.stats import fmt_ms, fmt_ratio, now_ns, ratio, summarize_ns
from planner import cache as planner_cache

READERS = 200
DB_CONNECTIONS = 40


class CountedCompute:
    def __init__(self, user_id: int):
        from planner import payloads

        self.user_id = user_id
        self.payload = payloads.shopping_lists
        self.count = 0
        self.lock = threading.Lock()
        self.db = threading.BoundedSemaphore(DB_CONNECTIONS)

    def __call__(self):
        from django.conf import settings
        from django.db import connection

        with self.lock:
            self.count += 1
        with self.db:
            try:
                return self.payload(self.user_id, 1, settings.SHOPPING_LISTS_PAGE_SIZE)  # page 1
            finally:
                connection.close()


def _readers_at_once(read) -> list[int]:
    """READERS threads call read() together; each one's latency in ns."""
    barrier = threading.Barrier(READERS + 1)
    latencies = [0] * READERS

    def reader(i):
        barrier.wait()
        start = now_ns()
        read()
        latencies[i] = now_ns() - start

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:
        t.join()
    return latencies


def run(ctx) -> ScenarioResult:
    from django.core.cache import cache
    from django.core.serializers.json import DjangoJSONEncoder

    from eventcache.store import ops, readthrough
    from planner import shopping

    rounds = ctx.size(4, 1)
    world = seed.build(
        recipes=ctx.size(5000, 500), families=ctx.size(200, 20), recipes_with_ingredients=ctx.size(5000, 500)
    )
    shopping.create_list(world.user_id, world.family_id, start=world.week[0], end=world.week[-1])
    key = planner_cache.shopping_lists(world.user_id)

    # 200 readers in ONE process need more than redis-py 8's default pool of 100 connections; past it the pool
    # raises MaxConnectionsError. A web deployment spreads readers over processes, each with its own pool.
    pool = harness.redis().connection_pool
    pool_default, pool.max_connections = pool.max_connections, READERS + 50

    results = {}
    for mode in ("baseline", "ours"):
        compute = CountedCompute(world.user_id)
        if mode == "ours":
            read = lambda: readthrough.read(key, compute)  # noqa: E731
            invalidate = lambda: ops.invalidate([key])  # noqa: E731
        else:

            def read():
                body = cache.get(key.name)
                if body is None:
                    body = json.dumps(compute(), cls=DjangoJSONEncoder, separators=(",", ":"))
                    cache.set(key.name, body, key.ttl)
                return body

            invalidate = lambda: cache.delete(key.name)  # noqa: E731
        latencies, per_round = [], []
        for _ in range(rounds):
            read()  # filled and hot
            invalidate()
            before = compute.count
            latencies += _readers_at_once(read)
            per_round.append(compute.count - before)
        harness.redis().flushdb()
        results[mode] = (summarize_ns(latencies), per_round)

    (b_lat, b_comp), (o_lat, o_comp) = results["baseline"], results["ours"]
    rows = [
        ["plain cache.get / compute / cache.set (baseline)", f"{min(b_comp)}-{max(b_comp)}", fmt_ms(b_lat.median_ms), fmt_ms(b_lat.p99_ms), fmt_ms(b_lat.max_ms)],
        ["readthrough.read with leases (ours)", f"{min(o_comp)}-{max(o_comp)}", fmt_ms(o_lat.median_ms), fmt_ms(o_lat.p99_ms), fmt_ms(o_lat.max_ms)],
    ]  # fmt: skip
    met = max(o_comp) == 1
    targets = [
        Target("one database computation per invalidation, whatever the number of readers",
               f"{max(o_comp)} (baseline {max(b_comp)}) in each of {rounds} rounds" if min(o_comp) == max(o_comp)
               else f"{min(o_comp)}-{max(o_comp)} per round (baseline {min(b_comp)}-{max(b_comp)})", met,
               "" if met else "readers that waited longer than CACHE_LEASE_WAIT_SECONDS computed on their own"),
    ]  # fmt: skip
    return ScenarioResult(
        name="stampede",
        title="Stampede: 200 readers of a just-invalidated hot list",
        method=__doc__.split("\n", 2)[2].strip().replace("\n", " "),
        columns=["read path", "computations per round", "read p50", "read p99", "read max"],
        rows=rows,
        targets=targets,
        notes=[
            f"The bench process raises its own redis-py pool limit from {pool_default} to {READERS + 50} connections so that "
            f"{READERS} threads of one process can all talk to Redis (otherwise the pool raises MaxConnectionsError and "
            "readthrough degrades to the database for a moment).",
            f"{rounds} rounds of {READERS} readers each; p99 ratio baseline/ours {fmt_ratio(ratio(b_lat.p99_ms, o_lat.p99_ms))}.",
        ],
        chart=Chart(
            "Stampede: computations and p99 latency",
            "count / milliseconds (log)",
            ["computations per round (max)", "read p99 (ms)"],
            {"baseline": [max(b_comp), b_lat.p99_ms], "ours": [max(o_comp), o_lat.p99_ms]},
            log=True,
        ),
    )
