"""Write overhead: PATCH /api/recipes/{id}/ with events and durability on vs off.

On: the project as deployed (the capture trigger writes the outbox row in the write's transaction and hands it
to the writer as a notice; at commit the request drops the primary key and publishes; after the response the
relay sends the Celery task and marks the row sent - outside the measured time, so it is timed separately, in
the bench process, around the same request_finished call). Off: the capture triggers disabled (ALTER TABLE ...
DISABLE TRIGGER USER) and a gunicorn serving bench.wsgi_events_off, whose relay never flushes. Two gunicorn servers (2 sync workers each), one client
alternating between them round by round (triggers switched per round); server time from gunicorn's access
log. No worker runs (its CPU would be charged to neither side); the queued tasks are dropped afterwards.
"""

import functools

from bench import harness, seed
from bench.http import Client
from bench.report import Chart, ScenarioResult, Target
from bench.stats import fmt_ms, now_ns, summarize_ms, summarize_ns

ADDED_MEDIAN_TARGET_MS = 1.0


def _in_process_costs(recipe_id: int, n: int) -> dict[str, list[int]]:
    """The same write in this process, alternating rounds: with the relay as deployed (the write's time includes
    the trigger and the primary-key drop at commit; the delivery after the response is timed around Django's
    request_finished signal, exactly as the WSGI handler runs it) and with the capture triggers and the write
    watcher off. No HTTP, no second request competing for the cores."""
    from django.core.signals import request_finished, request_started
    from django.db import connection

    from eventcache.relay import watcher
    from planner.models import Recipe

    times = {"write on": [], "write off": [], "delivery": []}
    for round_ in range(max(n, 20) // 10):
        on = round_ % 2 == 0
        harness.set_capture_triggers(on)
        if not on:
            connection.execute_wrappers.remove(watcher.notice_writes)
        try:
            for i in range(10):
                request_started.send(sender=None)
                start = now_ns()
                Recipe.objects.filter(pk=recipe_id).update(title=f"in-process {round_} {i}")
                written = now_ns()
                request_finished.send(sender=None)
                times["write on" if on else "write off"].append(written - start)
                if on:
                    times["delivery"].append(now_ns() - written)
        finally:
            if not on:
                connection.execute_wrappers.insert(0, watcher.notice_writes)
    harness.set_capture_triggers(True)
    return times


def run(ctx) -> ScenarioResult:
    # Many short rounds: this machine's speed drifts over seconds, and short rounds make the drift hit both sides alike.
    rounds, per_round = ctx.size((60, 5), (6, 4))
    world = seed.build(
        recipes=ctx.size(5000, 500), families=ctx.size(200, 20), recipes_with_ingredients=ctx.size(5000, 500)
    )
    recipe_id = world.recipe_ids[0]  # written by bench0, its author
    samples = {"on": [], "off": []}
    try:
        with harness.started_together(
            on=functools.partial(harness.WebServer, "web-events-on", ctx.workdir),
            off=functools.partial(
                harness.WebServer, "web-events-off", ctx.workdir, app="bench.wsgi_events_off:application"
            ),
        ) as servers:
            on, off = servers["on"], servers["off"]
            clients = {"on": Client(on.url), "off": Client(off.url)}
            clients["on"].login(world.username, seed.PASSWORD)
            clients["off"].use_session_of(clients["on"])
            n = 0
            for side in ("on", "off"):  # warm-up
                for _ in range(3):
                    clients[side].request("PATCH", f"/api/recipes/{recipe_id}/", {"title": "warm-up"})
            for _ in range(rounds):
                for side in ("on", "off"):
                    harness.set_capture_triggers(side == "on")
                    for _ in range(per_round):
                        n += 1
                        resp = clients[side].request("PATCH", f"/api/recipes/{recipe_id}/", {"title": f"edit {n}"})
                        if resp.status != 200:
                            raise harness.BenchError(f"PATCH answered {resp.status}: {resp.body[:300]!r}")
                        samples[side].append(resp)
            times = {**on.server_times_ms(), **off.server_times_ms()}
        harness.set_capture_triggers(True)
        in_process = {k: summarize_ns(v) for k, v in _in_process_costs(recipe_id, rounds * per_round).items()}
        deferred = in_process["delivery"]
    finally:
        harness.set_capture_triggers(True)
        harness.broker_redis().flushdb()

    stats = {}
    for side, resps in samples.items():
        stats[side] = (
            summarize_ns([r.client_ns for r in resps]),
            summarize_ms([times[r.tag] for r in resps if r.tag in times]),
        )
    (off_client, off_server), (on_client, on_server) = stats["off"], stats["on"]
    added = on_server.median_ms - off_server.median_ms
    rows = [
        ["events + durability off", fmt_ms(off_server.median_ms), fmt_ms(off_server.p99_ms), fmt_ms(off_client.median_ms), fmt_ms(off_client.p99_ms), off_server.n],
        ["events + durability on (ours)", fmt_ms(on_server.median_ms), fmt_ms(on_server.p99_ms), fmt_ms(on_client.median_ms), fmt_ms(on_client.p99_ms), on_server.n],
        ["added", fmt_ms(added), fmt_ms(on_server.p99_ms - off_server.p99_ms), fmt_ms(on_client.median_ms - off_client.median_ms),
         fmt_ms(on_client.p99_ms - off_client.p99_ms), ""],
        ["in-process, no HTTP: the write, events off", fmt_ms(in_process["write off"].median_ms), fmt_ms(in_process["write off"].p99_ms), "", "", in_process["write off"].n],
        ["in-process, no HTTP: the write, events on", fmt_ms(in_process["write on"].median_ms), fmt_ms(in_process["write on"].p99_ms), "", "", in_process["write on"].n],
        ["in-process: delivery after the response", fmt_ms(deferred.median_ms), fmt_ms(deferred.p99_ms), "", "", deferred.n],
    ]  # fmt: skip
    met = added < ADDED_MEDIAN_TARGET_MS
    targets = [
        Target("under 1 ms added at the median (server time)", fmt_ms(added), met,
               "what stays in the request is the trigger's outbox INSERT (inside the write's transaction, which also "
               "hands the row to the writer as a notice) and one Redis round trip that drops the keys the rows name "
               "(read-your-writes) and publishes them: "
               f"{fmt_ms(in_process['write on'].median_ms - in_process['write off'].median_ms)} added in-process with nothing "
               "else running (rows below); over HTTP the previous PATCH's delivery after its response (Celery send, mark "
               f"sent: {fmt_ms(deferred.median_ms)} in the other gunicorn worker) competes with the measured request "
               "for the 2 cores"),
    ]  # fmt: skip
    return ScenarioResult(
        name="write_overhead",
        title="Write overhead of events and durability",
        method=__doc__.split("\n", 2)[2].strip().replace("\n", " "),
        columns=["PATCH /api/recipes/{id}/", "server p50", "server p99", "client p50", "client p99", "samples"],
        rows=rows,
        targets=targets,
        chart=Chart(
            "PATCH /api/recipes/{id}/ (server time)",
            "milliseconds",
            ["p50", "p99"],
            {"off": [off_server.median_ms, off_server.p99_ms], "on (ours)": [on_server.median_ms, on_server.p99_ms]},
        ),
    )
