"""A writer process for the lag scenario: real committed writes at a paced rate, like a web process makes them.

    python -m bench.writer --rate 200 --seconds 10 --recipes 1,2,3

run_all() starts several and lines them up: each prints "ready" once Django is set up and connected, then waits
for the bench's "go <time.time()>" on stdin, so they start together as soon as the slowest is ready (no fixed
start-up allowance that a slow machine outgrows and a fast one waits through).

Each write is one autocommit `UPDATE` of a recipe's title through the ORM between Django's request_started
and request_finished signals, as a view's write in the web process: the capture trigger and the primary-key
drop run in the write, the relay's delivery (PUBLISH, Celery task) after it, in this process. The latency
reported is the write's (what a client waits for); the delivery after it is reported separately. Also prints
the wall-clock time each write committed (when the UPDATE returned, before the relay's after-commit work) and
this connection's backend pid (the outbox's writer_pid), so the bench can measure each event's lag from its
commit.
Stops after --seconds even if behind schedule. Prints one JSON line: writes made, seconds taken, and the
writer-side latency of each write (median, p99).
"""

import argparse
import json
import os
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, required=True, help="writes per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--recipes", required=True, help="comma-separated recipe ids to write, in turn")
    parser.add_argument("--wait-for-go", action="store_true", help='print "ready", then start at the "go" line\'s time')
    args = parser.parse_args(argv)

    from bench import harness

    harness.configure_environment()
    import django

    django.setup()
    from django.core.signals import request_finished, request_started

    from bench.stats import summarize_ns
    from planner.models import Recipe

    recipe_ids = [int(x) for x in args.recipes.split(",")]
    total = int(args.rate * args.seconds)
    Recipe.objects.filter(pk=recipe_ids[0]).exists()  # connect before the clock starts
    if args.wait_for_go:
        print("ready", flush=True)
        go = sys.stdin.readline().split()
        time.sleep(max(0.0, float(go[1]) - time.time()))
    from django.db import connection

    latencies, deliveries, commits = [], [], []
    committed = []

    def stamp_commit(execute, sql, params, many, context):
        # Inside the relay's write watcher (installed first, so outermost): this runs when the autocommit UPDATE
        # has returned - committed - and before the watcher's after_commit (primary-key drop, PUBLISH) starts.
        result = execute(sql, params, many, context)
        if isinstance(sql, str) and sql.lstrip().upper().startswith("UPDATE"):  # the relay sends psycopg.sql objects
            committed.append(time.time())
        return result

    connection.execute_wrappers.append(stamp_commit)
    start = time.perf_counter()
    writes = 0
    for i in range(total):
        if time.perf_counter() - start > args.seconds:  # behind schedule: stop on time, report the rate reached
            break
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        request_started.send(sender=None)
        committed.clear()
        t0 = time.perf_counter_ns()
        # A title no other write sets: bench/misses.py tells the versions of a recipe apart by it.
        Recipe.objects.filter(pk=recipe_ids[i % len(recipe_ids)]).update(title=f"recipe edit {os.getpid()}-{i}")
        t1 = time.perf_counter_ns()
        commits.append(committed[0])  # autocommit: the UPDATE (and its outbox row) committed then
        request_finished.send(sender=None)  # the response is out: the relay delivers
        latencies.append(t1 - t0)
        deliveries.append(time.perf_counter_ns() - t1)
        writes += 1
    elapsed = time.perf_counter() - start
    s, d = summarize_ns(latencies), summarize_ns(deliveries)
    print(
        json.dumps(
            {
                "writes": writes,
                "seconds": elapsed,
                "write_p50_ms": s.median_ms,
                "write_p99_ms": s.p99_ms,
                "delivery_p50_ms": d.median_ms,
                "pid": connection.connection.info.backend_pid,
                "commits": commits,
            }
        )
    )
    return 0


def run_all(argvs: list[list[str]], timeout: float) -> tuple[float, list[dict]]:
    """Start one writer per argv (this module's arguments), start them together once all are ready, and return
    the time.time() they started at and each one's JSON report. Raises BenchError if one fails."""
    import subprocess

    from bench import harness

    procs = [
        subprocess.Popen(
            [harness.PY, "-m", "bench.writer", *argv, "--wait-for-go"],
            env=harness.child_env(),
            cwd=harness.REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise harness.BenchError(f"writer failed to start: {proc.communicate(timeout=30)[1][-2000:]}")
        started = time.time() + 0.1
        for proc in procs:
            proc.stdin.write(f"go {started}\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise harness.BenchError(f"writer failed: {err[-2000:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return started, reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
