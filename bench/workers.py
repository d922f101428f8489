"""Many workers on a burst: K = 1, 2, 4 worker processes, events/s, duplicated look-ups per event, lag p99.

K Celery worker processes (`--pool solo`, one task at a time each, every one with its pub/sub listener) are
running when one bulk `Recipe.objects.update(...)` commits N outbox rows; the relay publishes each event and queues
them in batches (EVENT_BATCH_SIZE), as a web process's write does, and the K workers share the queue (each batch also
claims delivered rows nobody holds: FOR UPDATE SKIP LOCKED, eventcache/consume/apply.py). Counted from the engine's
counters (eventcache/stats.py): look-ups per event by the listeners (`dependents_lookups:listener` / N; the listener
role gives the job to one worker: goal 1.0) and by the tasks (`dependents_lookups:task` / N: goal 1.0, each row
applied once). Duplicated look-ups per event = what exceeds one listener and one task look-up. Lag = commit -> the
row's keys gone (dropped_at or processed_at), per row; end-to-end events/s = N / (the last processed_at - the commit),
which includes the bench process's relay sending all N. Drain events/s = the K workers alone: the same update queued
while their consumers are cancelled (Celery's remote control), then all K consume at once.
The last row runs the largest K with the listener role off (EVENTS_LISTENER_LEASE_SECONDS=0: every listener drops
every event, as before the role)."""

import functools
import time

from bench import harness, seed
from bench.report import Chart, ScenarioResult, Target
from bench.stats import fmt_int, fmt_ms, summarize_ms

DRAIN_SECONDS = 300


def _gone_and_processed(commit: float) -> tuple[list[float], float]:
    """(each row's lag in ms: commit -> keys gone, the last processed_at - commit in s)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM least(dropped_at, processed_at))::float8, extract(epoch FROM processed_at)::float8 "
            "FROM events_outbox"
        )
        rows = cur.fetchall()
    return [(gone - commit) * 1000 for gone, _ in rows], max(processed for _, processed in rows) - commit


def _committed(write) -> float:
    """Run `write` (one autocommit UPDATE) and return when it committed: when the statement returned, before the
    relay's after-commit delivery, which runs inside the call (the way bench/writer.py stamps its writes)."""
    from django.db import connection

    stamps = []

    def stamp(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if isinstance(sql, str) and sql.lstrip().upper().startswith("UPDATE"):
            stamps.append(time.time())
        return result

    connection.execute_wrappers.append(stamp)
    try:
        write()
    finally:
        connection.execute_wrappers.remove(stamp)
    return stamps[0]


def _listeners_done(stats) -> dict:
    """The counters once the listeners have worked through what they received (their count holds still for 1 s):
    with K = 1 the listener shares its process with the tasks and can still be catching up when the queue is done."""
    last, still_since = None, time.monotonic()
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        counts = stats.snapshot()
        if counts.get(stats.EVENTS_SEEN) != last:
            last, still_since = counts.get(stats.EVENTS_SEEN), time.monotonic()
        elif time.monotonic() - still_since >= 1.0:
            return counts
        time.sleep(0.2)
    return stats.snapshot()


def _drain_rate(k: int, nodes: list[str]) -> float:
    """events/s of the K workers together on a queue filled while none consumed: their consumers are cancelled
    (Celery's remote control), the same update is committed and fully queued, then all K start consuming at once.
    Rate = events / (the last processed_at - the moment they were told to consume)."""
    from django.db import connection
    from django.db.models import F

    from planner.models import Recipe

    control = harness.celery_app().control
    queue = harness.celery_app().conf.task_default_queue
    if len(control.cancel_consumer(queue, destination=nodes, reply=True, timeout=10)) != k:
        raise harness.BenchError("not every worker stopped consuming")
    harness.forget_events()
    Recipe.objects.update(prep_minutes=F("prep_minutes") + 1)
    harness.flush_outbox()
    resumed = time.time()
    if len(control.add_consumer(queue, destination=nodes, reply=True, timeout=10)) != k:
        raise harness.BenchError("not every worker consumes again")
    harness.wait_until(lambda: _pending() == 0, timeout=DRAIN_SECONDS, interval=0.2, what=f"K={k} to drain")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), extract(epoch FROM max(processed_at))::float8 FROM events_outbox")
        total, last = cur.fetchone()
    return total / (last - resumed)


def _pending() -> int:
    from eventcache.models import OutboxEvent

    return OutboxEvent.objects.filter(processed_at__isnull=True).count()


def _holder_started(pids: set[int]) -> bool:
    from eventcache.store import ops

    token = harness.redis().get(ops.full_name("role:listener"))
    return bool(token) and int(token.decode().split(":")[1]) in pids


def _burst(ctx, k: int, lease: bool) -> dict:
    from django.db.models import F

    from eventcache import stats
    from eventcache.store import keys, ops
    from planner.models import Recipe

    env = {} if lease else {"EVENTS_LISTENER_LEASE_SECONDS": "0"}
    label = f"k{k}" + ("" if lease else "-nolease")
    harness.flush_redis()
    harness.forget_events()
    factories = {
        f"worker-{label}-{i}": functools.partial(harness.Worker, f"worker-{label}-{i}", ctx.workdir, **env)
        for i in range(k)
    }
    with harness.started_together(**factories) as started:
        workers = list(started.values())
        if lease:
            pids = {w.popen.pid for w in workers}
            harness.wait_until(lambda: _holder_started(pids), timeout=15, what="a worker to take the listener role")
        harness.redis().delete(ops.full_name(keys.STATS))
        commit = _committed(lambda: Recipe.objects.update(prep_minutes=F("prep_minutes") + 1))
        harness.flush_outbox()  # what the commit's bounded flush could not take (the sweep would)
        harness.wait_until(lambda: _pending() == 0, timeout=DRAIN_SECONDS, interval=0.2, what=f"K={k} to drain")
        counts = _listeners_done(stats)
        lags, span = _gone_and_processed(commit)
        drain_rate = _drain_rate(k, [w.node for w in workers])
    events = len(lags)
    listener = counts.get(stats.lookups("listener"), 0) / max(1, events)
    task = counts.get(stats.lookups("task"), 0) / max(1, events)
    return {
        "label": f"K = {k}" + ("" if lease else ", listener role off"),
        "events": events,
        "end to end": events / span if span > 0 else float("nan"),
        "drain": drain_rate,
        "listener": listener,
        "task": task,
        "duplicated": max(0.0, listener - 1) + max(0.0, task - 1),
        "lag": summarize_ms(lags),
    }


def run(ctx) -> ScenarioResult:
    ks = ctx.size([1, 2, 4], [2])
    n = ctx.size(10_000, 1_000)
    seed.build(recipes=n, families=50, recipes_with_ingredients=500)
    runs = [_burst(ctx, k, lease=True) for k in ks]
    if not ctx.quick:
        runs.append(_burst(ctx, max(ks), lease=False))
    rows = [
        [r["label"], fmt_int(r["events"]), f"{r['drain']:,.0f}/s", f"{r['end to end']:,.0f}/s", f"{r['listener']:.2f}",
         f"{r['task']:.2f}",
         f"{r['duplicated']:.2f}", fmt_ms(r["lag"].median_ms), fmt_ms(r["lag"].p99_ms)]
        for r in runs
    ]  # fmt: skip
    with_role = [r for r in runs if "off" not in r["label"]]
    worst = max(r["duplicated"] for r in with_role)
    targets = [
        Target("duplicated look-ups per event with K workers: 0", f"{worst:.2f} (worst of K = {', '.join(map(str, ks))})",
               worst < 0.01, "" if worst < 0.01 else "a listener role held by two workers for a moment (a holder stalled "
               "past its lease), or a row applied by two tasks"),
    ]  # fmt: skip
    return ScenarioResult(
        name="workers",
        title="Many workers on a burst: events/s, duplicated look-ups, lag",
        method=__doc__.split("\n", 2)[2].strip().replace("\n", " "),
        columns=[
            "workers",
            "events",
            "events/s, K draining a full queue",
            "events/s, commit -> last applied",
            "listener look-ups/event",
            "task look-ups/event",
            "duplicated/event",
            "lag p50",
            "lag p99",
        ],  # fmt: skip
        rows=rows,
        targets=targets,
        notes=[
            f"One update of {fmt_int(n)} recipes per row. Every process (K workers, PostgreSQL, Redis, the bench) "
            "shares the machine's cores, so more workers than cores cannot apply faster here: K buys fail-over and "
            "hosts, not speed, on one small machine."
        ],
        chart=Chart(
            "Look-ups per event and lag p99 by worker count",
            "per event / ms",
            [r["label"] for r in runs],
            {
                "listener look-ups/event": [r["listener"] for r in runs],
                "lag p99 (ms)": [r["lag"].p99_ms for r in runs],
            },
        ),
    )
