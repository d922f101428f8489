"""Worker throughput: events per second one worker process sustains on a burst from one bulk QuerySet.update().

Ours: `Recipe.objects.update(...)` on N recipes writes N outbox rows in one transaction; the relay sends
them on commit in batches of EVENT_BATCH_SIZE; then one worker (`--pool solo`) is started and works
through the queue (each task also takes the delivered rows no task has applied yet, eventcache/consume/apply.py).
Baseline: the same events sent one Celery task per event (relay.publish.publish with EVENT_BATCH_SIZE=1) to the same
task and worker, with that coalescing off (WORKER_COALESCE_MAX_ROWS=0). Rate = events processed between the first and the last
batch's processed_at (PostgreSQL time), so worker start-up is not counted.
"""

import math

from django.db.models import F

from bench import harness, seed
from bench.report import Chart, ScenarioResult, Target
from bench.stats import fmt_int, fmt_ratio, now_ns

RATE_TARGET = 10_000
RATIO_TARGET = 10.0


def _processing_rate() -> tuple[float, int]:
    """(events/s after the first batch was processed, events processed)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), extract(epoch FROM max(processed_at) - min(processed_at))::float8, "
            "count(*) FILTER (WHERE processed_at = (SELECT min(processed_at) FROM events_outbox)) FROM events_outbox"
        )
        total, span, first_batch = cur.fetchone()
    return ((total - first_batch) / span if span else float("nan")), total


def _rate_limit_reason(rate: float) -> str:
    if math.isnan(rate):  # every event was applied in the first batch, which the rate leaves out
        return "no rate: the worker applied every event in its first batch (make the burst larger)"
    return (
        "per batch the worker runs the batched dependents lookup, one Redis round trip and one outbox UPDATE of up to "
        "500 ids; with 100k recipes.changed events the database work (and the 2 shared cores) bounds it"
    )


def _pending() -> int:
    from eventcache.models import OutboxEvent

    return OutboxEvent.objects.filter(processed_at__isnull=True).count()


def _drain(ctx, name: str, timeout: float, **env) -> tuple[float, int]:
    with harness.Worker(name, ctx.workdir, **env):
        harness.wait_until(lambda: _pending() == 0, timeout=timeout, interval=0.5, what=f"{name} to drain the queue")
    return _processing_rate()


def run(ctx) -> ScenarioResult:
    from django.conf import settings
    from django.test import override_settings

    from eventcache import events as schema
    from eventcache.models import OutboxEvent
    from eventcache.relay import publish
    from planner.models import Recipe

    # More than two of the worker's start-up batches (its backlog step takes WORKER_COALESCE_MAX_ROWS rows at once,
    # and that first batch is left out of the rate), so quick mode measures a rate too.
    n = ctx.size(100_000, max(3_000, 2 * settings.WORKER_COALESCE_MAX_ROWS + 2_000))
    n_base = ctx.size(1_000, 100)
    seed.build(recipes=n, families=50, recipes_with_ingredients=2000)

    # Ours: one bulk update -> n events; the relay's flush runs on commit, in this process.
    harness.forget_events()
    start = now_ns()
    Recipe.objects.update(prep_minutes=F("prep_minutes") + 1)
    harness.flush_outbox()  # what one flush could not take (it is bounded); the sweep would otherwise
    relay_s = (now_ns() - start) / 1e9
    sent = OutboxEvent.objects.filter(sent_at__isnull=False).count()
    ours_rate, ours_n = _drain(ctx, "worker-batched", timeout=600)

    # Baseline: the same kind of burst, one task per event through the same task and worker code.
    harness.forget_events()
    first_ids = Recipe.objects.order_by("id").values_list("id", flat=True)[:n_base]
    Recipe.objects.filter(id__in=list(first_ids)).update(prep_minutes=F("prep_minutes") + 1)
    harness.broker_redis().flushdb()  # drop the relay's batched tasks; send single-event ones instead
    rows = list(OutboxEvent.objects.order_by("id"))
    events = [
        schema.from_dict(
            {"v": schema.SCHEMA_VERSION, "id": r.id, "kind": r.kind, "at": r.created_at.timestamp(), "data": r.data}
        )
        for r in rows
    ]
    start = now_ns()
    with override_settings(EVENT_BATCH_SIZE=1):
        publish.publish(events)
    send_s = (now_ns() - start) / 1e9
    # Coalescing off: each task applies exactly its own event, the naive design this is measured against.
    base_rate, base_n = _drain(ctx, "worker-per-event", timeout=900, WORKER_COALESCE_MAX_ROWS="0")

    r = ours_rate / base_rate if base_rate else float("nan")
    rows_out = [
        [f"batched ({settings.EVENT_BATCH_SIZE} events per task)", fmt_int(ours_n), f"{ours_rate:,.0f}", fmt_ratio(r),
         f"relay sent {fmt_int(sent)} events in {relay_s:.1f} s ({sent / relay_s:,.0f}/s) incl. the UPDATE"],
        ["one task per event (baseline)", fmt_int(base_n), f"{base_rate:,.0f}", "1.0x",
         f"{fmt_int(len(events))} tasks sent in {send_s:.1f} s"],
    ]  # fmt: skip
    targets = [
        Target(f"one worker sustains >= {RATE_TARGET:,} events/s", f"{ours_rate:,.0f} events/s", ours_rate >= RATE_TARGET,
               "" if ours_rate >= RATE_TARGET else _rate_limit_reason(ours_rate)),
        Target(f"batched >= {RATIO_TARGET:.0f}x one task per event", fmt_ratio(r), r >= RATIO_TARGET,
               "" if r >= RATIO_TARGET else "the per-event baseline is already cheap per task on this machine"),
    ]  # fmt: skip
    return ScenarioResult(
        name="throughput",
        title="Worker throughput on a bulk-update burst",
        method=__doc__.split("\n", 2)[2].strip().replace("\n", " "),
        columns=["mode", "events", "events/s (one worker)", "ratio", "notes"],
        rows=rows_out,
        targets=targets,
        notes=[
            f"The baseline rate is measured over {fmt_int(n_base)} events (a rate; one task per event for "
            f"all {fmt_int(n)} would take minutes)."
        ],
        chart=Chart(
            "Events per second, one worker process",
            "events/s (log)",
            ["batched (ours)", "one task per event"],
            {"events/s": [ours_rate, base_rate]},
            log=True,
        ),
    )
