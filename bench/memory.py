"""Memory: Redis bytes per cached value, and the size of every bookkeeping structure after 1 million events.

Per value: MEMORY USAGE of cached recipes, meal plans and shopping lists filled through eventcache.store.readthrough.
Bookkeeping: one real worker applies rounds of bulk recipe updates (N events per round, relayed on commit)
while shopping-list reads are recorded for ever more distinct users (three times the tracked bound in all);
after each round the outbox is swept (relay.sweep.sweep with OUTBOX_RETENTION_SECONDS=0, i.e. prune everything
processed) and every structure is measured: the hot-list sorted set, the stats hash, lease keys, namespace
keys (counted with SCAN here - the bench may; the event path never does), the outbox table, Redis memory.
"""

import statistics
import time

from bench import harness, seed
from bench.report import Chart, ScenarioResult, Target
from bench.stats import fmt_bytes, fmt_int
from planner import cache

NEW_READER_IDS = 10_000_000  # user ids of the simulated readers (no such users: only their popularity is recorded)


def _count_keys(conn, pattern: str) -> int:
    return sum(1 for _ in conn.scan_iter(match=pattern, count=1000))


def _outbox() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), pg_total_relation_size('events_outbox') FROM events_outbox")
        return cur.fetchone()


def _checkpoint(conn, events_done: int) -> dict:
    from eventcache.store import keys, ops

    hot, stats_key = ops.full_name(keys.hot_set(cache.SHOPPING_LISTS)), ops.full_name(keys.STATS)
    rows, table_bytes = _outbox()
    return {
        "events": events_done,
        "hot set members": conn.zcard(hot),
        "hot set bytes": conn.memory_usage(hot) or 0,
        "stats hash fields": conn.hlen(stats_key),
        "stats hash bytes": conn.memory_usage(stats_key) or 0,
        "lease keys": _count_keys(conn, ops.full_name("lease:*")),
        "namespace keys": _count_keys(conn, ops.full_name("ns:*")),
        "outbox rows": rows,
        "outbox table bytes": table_bytes,
        "Redis keys": conn.dbsize(),
        "Redis used memory": conn.info("memory")["used_memory"],
    }


def _value_sizes(conn, world) -> list[list[str]]:
    from django.conf import settings

    from eventcache.store import ops, readthrough
    from planner import payloads, shopping

    shopping.create_list(world.user_id, world.family_id, start=world.week[0], end=world.week[-1])
    samples = {
        "recipe (8 ingredients)": [
            (cache.recipe(rid), lambda rid=rid: payloads.recipe_detail(rid)) for rid in world.recipe_ids[14:114]
        ],
        "meal plan (one day, 2 entries)": [
            (cache.meal_plan(day, world.family_id), lambda day=day: payloads.meal_plan(world.family_id, day))
            for day in world.week
        ],
        "shopping lists of a user (one 50-item list)": [
            (
                cache.shopping_lists(world.user_id),
                lambda: payloads.shopping_lists(world.user_id, 1, settings.SHOPPING_LISTS_PAGE_SIZE),
            )
        ],
    }
    rows = []
    for name, pairs in samples.items():
        sizes, bodies = [], []
        for key, compute in pairs:
            body = readthrough.read(key, compute).body
            sizes.append(conn.memory_usage(ops.full_name(key.name)) or 0)
            bodies.append(len(body))
        rows.append([name, fmt_bytes(statistics.median(sizes)), fmt_bytes(statistics.median(bodies)), len(sizes)])
    return rows


def run(ctx) -> ScenarioResult:
    from django.conf import settings
    from django.db.models import F
    from django.test import override_settings

    from eventcache.relay import sweep
    from eventcache.store import hotness
    from planner.models import Recipe

    per_round = ctx.size(100_000, 2_500)  # quick: 4 rounds, the fewest in which a plateau shows (halves of 2 rounds)
    total = ctx.size(1_000_000, 10_000)
    rounds = total // per_round
    world = seed.build(recipes=per_round, families=ctx.size(200, 20), recipes_with_ingredients=2000)
    conn = harness.redis()
    value_rows = _value_sizes(conn, world)

    tracked_max = ctx.size(settings.HOT_LISTS_TRACKED_MAX, 1000)
    readers_per_round = (3 * tracked_max) // rounds + 1
    checkpoints = [_checkpoint(conn, 0)]
    next_reader = 1
    with harness.Worker("worker-memory", ctx.workdir), override_settings(HOT_LISTS_TRACKED_MAX=tracked_max):
        for r in range(rounds):
            for uid in world.user_ids:  # the real users' lists are hot: their invalidations pre-warm under leases
                hotness.record(cache.shopping_lists(uid))
            for uid in range(next_reader, next_reader + readers_per_round):  # and ever-new readers past the bound
                hotness.record(cache.shopping_lists(NEW_READER_IDS + uid))
            next_reader += readers_per_round
            phases = [time.monotonic()]
            Recipe.objects.update(prep_minutes=F("prep_minutes") + 1)
            harness.flush_outbox()  # one flush is bounded; without beat, send the rest here
            phases.append(time.monotonic())
            harness.wait_until(
                lambda: _outbox_unprocessed() == 0,
                timeout=600,
                interval=0.5,
                what=f"round {r + 1}'s events to be processed",
            )
            phases.append(time.monotonic())
            with override_settings(OUTBOX_RETENTION_SECONDS=0):
                while sweep.sweep()["pruned"]:
                    pass
            checkpoints.append(_checkpoint(conn, (r + 1) * per_round))
            phases.append(time.monotonic())
            update, drain, sweep_and_measure = (b - a for a, b in zip(phases, phases[1:], strict=False))
            print(
                f"   round {r + 1}/{rounds}: update + relay {update:.1f} s, worker drain {drain:.1f} s, "
                f"sweep + checkpoint {sweep_and_measure:.1f} s",
                flush=True,
            )
    harness.reset_state()

    first, mid, last = checkpoints[1], checkpoints[(len(checkpoints)) // 2], checkpoints[-1]
    # Declared bounds; None = no declared bound, so it must simply stop growing (second half vs first half).
    bounds = {
        "hot set members": tracked_max,
        "stats hash fields": None,
        "lease keys": settings.HOT_LISTS_TOP_N,
        "namespace keys": len(cache.DOMAIN.families_by_name),
        "outbox rows": per_round,
        "outbox table bytes": None,
    }
    byte_pairs = {"hot set members": "hot set bytes", "stats hash fields": "stats hash bytes"}
    rows = [[f"value: {r[0]}", r[1], f"body {r[2]}", f"median of {r[3]}"] for r in value_rows]
    unbounded = []
    for name, bound in bounds.items():
        show = fmt_bytes if name.endswith("bytes") else fmt_int
        extra = byte_pairs.get(name)
        cell = lambda c: show(c[name]) + (f" ({fmt_bytes(c[extra])})" if extra else "")  # noqa: E731
        peak = max(c[name] for c in checkpoints)
        rows.append(
            [
                name,
                cell(first),
                cell(last),
                f"peak {show(peak)}; bound {show(bound) if bound is not None else 'none (must plateau: 2nd-half peak <= 1.5x 1st-half peak)'}",
            ]
        )
        if bound is not None and peak > bound:
            unbounded.append(f"{name} peaked at {show(peak)} > {show(bound)}")
        # No declared bound: the second half's peak must not exceed the first half's by half again. Peaks, not two
        # samples: the outbox's bytes saw-tooth with the vacuums (freed pages are reused by the next rounds).
        half = len(checkpoints) // 2
        early = max(c[name] for c in checkpoints[1 : half + 1] or checkpoints[-1:])
        late = max(c[name] for c in checkpoints[half + 1 :] or checkpoints[-1:])
        if bound is None and late > early * 1.5 + 16:
            unbounded.append(
                f"{name} still growing: peak {show(early)} in the first {fmt_int(mid['events'])} events -> "
                f"peak {show(late)} in the rest"
            )
    for name in ("Redis keys", "Redis used memory"):
        show = fmt_bytes if "memory" in name else fmt_int
        rows.append([f"{name} (cached values included)", show(first[name]), show(last[name]), ""])
    met = not unbounded
    autovacuum = _autovacuum()
    targets = [
        Target(f"every bookkeeping structure bounded after {fmt_int(total)} events", "; ".join(unbounded) if unbounded else
               f"hot set {fmt_int(last['hot set members'])} members (bound {fmt_int(tracked_max)}), "
               f"stats {last['stats hash fields']} fields, {last['lease keys']} leases, {last['namespace keys']} namespaces, "
               f"{fmt_int(last['outbox rows'])} outbox rows after pruning ({fmt_bytes(last['outbox table bytes'])} on disk)", met,
               "" if met else "what kept growing needs a bound (a trim or a TTL in Redis). The outbox table's bytes are the dead "
               f"rows the prune leaves behind, which only VACUUM reclaims; autovacuum is {autovacuum} on this PostgreSQL. "
               "Fix: the sweep runs `VACUUM events_outbox` after a prune that deleted rows (cheap on a table of dead "
               "rows), or per-table autovacuum settings on events_outbox (autovacuum_vacuum_scale_factor=0, "
               "autovacuum_vacuum_threshold=10000) for servers where autovacuum is on"),
    ]  # fmt: skip
    series_names = ["hot set members", "stats hash fields", "lease keys", "namespace keys", "outbox rows"]
    return ScenarioResult(
        name="memory",
        title="Memory per value and bookkeeping after many events",
        method=__doc__.split("\n", 2)[2].strip().replace("\n", " "),
        columns=[
            "what",
            f"after round 1 ({fmt_int(per_round)} events) / bytes in Redis",
            f"after {fmt_int(total)} events / body bytes",
            "notes",
        ],
        rows=rows,
        targets=targets,
        notes=[
            f"{rounds} rounds of {fmt_int(per_round)} recipe.changed events; {fmt_int(3 * tracked_max)} distinct shopping-list "
            f"readers recorded in all (HOT_LISTS_TRACKED_MAX={fmt_int(tracked_max)}). The outbox table's bytes are "
            "PostgreSQL's, indexes included (the sweep's VACUUM makes deleted rows' space reusable; it is not returned to the OS)."
        ],
        chart=Chart(
            "Bookkeeping sizes as events accumulate",
            "count (log)",
            [fmt_int(c["events"]) for c in checkpoints[1:]],
            {
                **{name: [max(1, c[name]) for c in checkpoints[1:]] for name in series_names},
                "outbox table (KiB)": [max(1, c["outbox table bytes"] // 1024) for c in checkpoints[1:]],
            },
            log=True,
            kind="line",
            xlabel="events processed",
        ),
    )


def _autovacuum() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW autovacuum")
        return cur.fetchone()[0]


def _outbox_unprocessed() -> int:
    from eventcache.models import OutboxEvent

    return OutboxEvent.objects.filter(processed_at__isnull=True).count()
