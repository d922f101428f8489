"""python -m chaos [--seconds N] [--quick] [--sabotage stop-worker]: run the soak and write docs/chaos/<name>.md/.png.

Exit code 0 only when the goal is met: no stale read beyond the lag bound after any fault ended, no phantom read,
no lost event, no 5xx or unanswered request outside fault windows (issue 12's goal), and - stricter than that goal -
no process dying on its own and no logged-out session accepted again.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from chaos import db, load, procs, report
from chaos.check import LAG_BOUND, check
from chaos.faults import KINDS, Driver, Lulls, redis_ping
from chaos.procs import ROOT, Proc, Supervisor
from scripts import dev_redis

clock = time.monotonic


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("CHAOS_SECONDS", 300)))
    parser.add_argument("--quick", action="store_true", help="the CI run: ~60 s of load, faults every 4-8 s")
    parser.add_argument(
        "--sabotage",
        choices=["stop-worker"],
        default=None,
        help="stop-worker: never start the worker and beat, to show that the checker flags staleness",
    )
    parser.add_argument("--no-faults", action="store_true", help="load and checks only (a baseline)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", time.time())))
    parser.add_argument("--readers", type=int, default=3, help="reader threads per user")
    parser.add_argument("--drain", type=float, default=45.0, help="seconds to wait for the outbox after the load")
    parser.add_argument("--out", default=str(ROOT / "docs" / "chaos"))
    parser.add_argument("--name", default=None, help="report file name (default: soak, quick or sabotage)")
    parser.add_argument("--venv", default=os.environ.get("VENV", ".venv"))
    args = parser.parse_args(argv)
    if args.quick and "CHAOS_SECONDS" not in os.environ and "--seconds" not in " ".join(argv):
        args.seconds = 60.0
    args.name = args.name or ("sabotage" if args.sabotage else "quick" if args.quick else "soak")
    return args


def stack_env(redis_port: int, database_url: str, venv: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{ROOT / venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # a Procfile names bare gunicorn/celery
            "PYTHONPATH": f"{ROOT / 'backend'}{os.pathsep}{ROOT}",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "SECRET_KEY": "chaos-soak-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "OUTBOX_RETENTION_SECONDS": "86400",  # keep processed rows: the lost-event count reads them
            "SHOPPING_LISTS_PAGE_SIZE": "1",  # the chaos list is then on page 2 (load.setup): exact per-page drops
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def http_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
            return resp.status < 600
    except urllib.error.HTTPError:
        return True  # any HTTP answer: gunicorn serves (healthz says 503 while Redis is down)
    except OSError:
        return False


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Its own variable, never DATABASE_URL: the soak drops the database, and CI's DATABASE_URL is the suite's.
    database_url = os.environ.get("CHAOS_DATABASE_URL", "")
    if not database_url.startswith("postgres") or database_url.rstrip("/").endswith("/recipe_planner"):
        raise SystemExit("chaos: CHAOS_DATABASE_URL must name a PostgreSQL database the soak may drop and re-create")
    quick = args.quick
    gap = (2.0, 5.0) if quick else (4.0, 12.0)
    logs = ROOT / "var" / "chaos" / args.name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    (ROOT / "var").mkdir(exist_ok=True)
    redis_dir = tempfile.mkdtemp(prefix="chaos-redis-")
    redis_port, web_port = procs.free_port(), procs.free_port()
    env = stack_env(redis_port, database_url, args.venv)
    log(f"seed {args.seed}; Redis :{redis_port} (AOF in {redis_dir}), web :{web_port}, logs in {logs}")

    redis = Proc(
        "redis",
        dev_redis.server_argv(
            "redis-server",
            redis_port,
            redis_dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
        ),
        env,
        logs / "redis.log",
        ready=lambda: redis_ping(redis_port),
    )
    commands = procs.commands(web_port, args.venv)
    stack = {
        name: Proc(name, procs.argv(cmd), env | {"PORT": str(web_port)}, logs / f"{name}.log")
        for name, cmd in commands.items()
    }
    stack["web"].ready = lambda: http_ready(web_port)
    every = [redis, *stack.values()]
    supervisor = Supervisor(every, clock)
    try:
        log(f"re-creating the database; commands: {commands}")
        db.recreate(database_url)
        redis.start()
        if not redis.wait_ready(20):
            raise SystemExit(f"chaos: Redis did not start:\n{redis.tail()}")
        manage = [str(ROOT / args.venv / "bin" / "python"), str(ROOT / "backend" / "manage.py")]
        for step in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
            done = subprocess.run(manage + step, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"chaos: manage.py {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
        running = ["web"] if args.sabotage == "stop-worker" else ["web", "worker", "beat"]
        for name in running:
            stack[name].start()
        for name in running:
            if not stack[name].wait_ready(90):
                raise SystemExit(f"chaos: {name} did not become ready:\n{stack[name].tail(40)}")
        supervisor.start()

        day = dt.date.today() + dt.timedelta(days=10)
        world, writes = load.setup(web_port, day, clock)
        db.wait_drained(database_url, 0 if args.sabotage else 30)
        first_event = db.last_id(database_url)  # the setup's events are not the soak's
        log(f"set up {world}; load for {args.seconds:.0f} s")

        lock = threading.Lock()
        lulls = Lulls()
        reads: list = []
        started = clock() + 2.0  # the threads' logins come first (load.log_in)
        until = started + args.seconds
        threads = [
            load.Writer(
                web_port,
                world,
                source,
                user,
                clock,
                until,
                (0.4, 1.6),
                load.new_rng(args.seed, source),
                writes,
                lock,
                lulls,
            )
            for source, user in load.sources()
        ]
        threads += [
            load.Reader(
                web_port,
                world,
                user,
                clock,
                until,
                (0.0, 0.1),
                load.new_rng(args.seed, f"reader {user} {k}"),
                reads,
                lock,
            )
            for user in load.USERS
            for k in range(args.readers)
        ]
        kinds = [k for k in KINDS if k == "redis" or k in running]
        driver = Driver(
            {**stack, "redis": redis}, clock, until - 12.0, gap, load.new_rng(args.seed, "driver"), kinds, lulls
        )
        probe = load.SessionProbe(web_port, clock, until, load.new_rng(args.seed, "sessions"), lock)
        threads.append(probe)
        load.log_in([t for t in threads if t is not probe], web_port, clock)
        time.sleep(max(0.0, started - clock()))
        for thread in threads:
            thread.start()
        if not args.no_faults:
            driver.start()
        for thread in threads:
            thread.join()
        driver.stopping.set()
        if driver.is_alive():
            driver.join()
        seconds = clock() - started
        log(f"load done: {len(reads)} reads, {len(writes)} writes, {len(driver.windows)} faults; draining")

        drain = db.wait_drained(database_url, args.drain, first_event)
        time.sleep(max(0.0, until + LAG_BOUND + 0.5 - clock()))
        probe.check_ended()
        for user in load.USERS:
            final = load.Reader(web_port, world, user, clock, 0, (0, 0), None, reads, lock)
            final.client.login(user, load.USERS[user])
            final.read_all()
        events = db.outbox_figures(database_url, first_event, LAG_BOUND) | {"drain_seconds": drain}
        span = clock() - started
    finally:
        supervisor.stopping.set()
        for proc in reversed(every):
            if proc.running():
                proc.kill(sig=15 if proc is redis else 9, by_driver=True)
        shutil.rmtree(redis_dir, ignore_errors=True)

    crashes = [(p.name, at, code, tail) for p in every for at, code, tail in p.crashes]
    result = check(writes, reads, driver.windows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mode = f"{args.seconds:.0f} s" + (", quick" if quick else "")
    mode += f", sabotage {args.sabotage}" if args.sabotage else ""
    mode += ", no faults" if args.no_faults else ""
    meta = {
        "title": f"{args.name} ({mode})",
        "summary": (
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, seed {args.seed}, "
            f"{len(load.USERS) * args.readers} readers, {len(load.sources())} writers; commit "
            f"{git_head()}. The same random choices (timing differs): `make chaos{'-quick' if quick else ''} "
            f'ARGS="--seed {args.seed} --seconds {args.seconds:.0f}'
            f"{' --sabotage ' + args.sabotage if args.sabotage else ''}"
            f'{" --no-faults" if args.no_faults else ""}"`.'
        ),
        "seconds": seconds,
        "chart": f"{args.name}.png",
    }
    dump(logs, writes, result, driver.windows, started)
    report.chart(out / f"{args.name}.png", result, writes, driver.windows, started, span)
    redis_windows = [w for w in driver.windows if w.kind == "redis"]
    sessions = {
        "logouts": probe.logouts,
        "checks": probe.checks,
        "accepted": probe.accepted,
        "in_redis_outage": sum(
            1
            for sent, answered in probe.logout_times
            if any(w.started <= answered and sent <= (w.ended or sent) for w in redis_windows)
        ),
    }
    text = report.markdown(meta, result, driver.windows, events, crashes, sessions, started)
    (out / f"{args.name}.md").write_text(text)
    print(text)
    met = all(ok for _, _, ok in report.goal(result, events, crashes, sessions))
    log(f"goal {'MET' if met else 'MISSED'}; report {out / (args.name + '.md')}, process logs in {logs}")
    return 0 if met else 1


def dump(logs: Path, writes, result, windows, started) -> None:
    """Every read (with its verdict), write and fault window as JSON lines beside the process logs, for digging."""
    with open(logs / "reads.jsonl", "w") as fh:
        for read, verdict in result.verdicts:
            fh.write(
                json.dumps(
                    {
                        "at": round(read.started - started, 3),
                        "took": round(read.ended - read.started, 3),
                        "user": read.user,
                        "endpoint": read.endpoint,
                        "status": read.status,
                        "x_cache": read.x_cache,
                        "observed": read.observed,
                        "verdict": verdict.kind,
                        "age": round(verdict.age, 3),
                        "source": verdict.source,
                        "body": read.body.decode("utf-8", "replace")
                        if verdict.kind in ("STALE", "phantom", "malformed")
                        else None,
                    }
                )
                + "\n"
            )
    with open(logs / "writes.jsonl", "w") as fh:
        for w in writes:
            fh.write(
                json.dumps(
                    {
                        "at": round(w.started - started, 3),
                        "took": round(w.ended - w.started, 3),
                        "source": w.source,
                        "version": w.version,
                        "status": w.status,
                    }
                )
                + "\n"
            )
    with open(logs / "faults.jsonl", "w") as fh:
        for w in windows:
            fh.write(
                json.dumps(
                    {
                        "kind": w.kind,
                        "start": round(w.started - started, 3),
                        "end": round(w.ended - started, 3) if w.ended else None,
                        "note": w.note,
                    }
                )
                + "\n"
            )


def git_head() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
