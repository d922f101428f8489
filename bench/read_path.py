"""Read path A/B: server time of a shopping-list hit through each way of answering it, under gunicorn.

    DATABASE_URL=... REDIS_URL=... python -m bench.read_path [--rounds N] [--per-round N] [--side NAME=TREE]

One gunicorn server (1 sync worker) per side, all at once against the same database and Redis, sent requests one
at a time by one logged-in client, alternating sides round by round so drift hits all alike; server time is
gunicorn's own (%(D)s in its access log), as in bench/reads.py. Sides: `django` (API_FAST_PATH=0: the view
answers every hit) and `wsgi` (api.fast_path answers verified hits in front of Django); `--side
name=/path/to/checkout[:NAME=VALUE,...]` adds a server run from another checkout of the repo with those settings
(e.g. an older commit, to compare with its read path).
"""

import argparse
import itertools
import os
import sys
from pathlib import Path

from bench import harness, seed
from bench.http import Client
from bench.stats import percentile, summarize_ms


class Server(harness.WebServer):
    """harness.WebServer, from another checkout's backend when `tree` is given."""

    def __init__(self, name, workdir, tree: Path | None = None, **env):
        if tree is None:
            super().__init__(name, workdir, workers=1, **env)
            return
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / f"{name}.access.log"
        backend = tree / "backend"
        cmd = [
            harness.PY, "-m", "gunicorn", "config.wsgi:application", "--chdir", str(backend),
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
            "--access-logfile", str(self.access_log), "--access-logformat", harness.ACCESS_FORMAT,
            "--log-level", "warning",
        ]  # fmt: skip
        child = harness.child_env(**env)
        child["PYTHONPATH"] = os.pathsep.join([str(backend), str(tree)])
        harness.Proc.__init__(self, name, cmd, child, workdir)
        self.wait_ready()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.read_path", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--side", action="append", default=[], help="name=/path/to/checkout[:NAME=VALUE,...]")
    args = parser.parse_args(argv)
    harness.setup_django()
    workdir = harness.workdir()
    world = seed.build(recipes=500, families=20, recipes_with_ingredients=500)
    days = [d.isoformat() for d in world.week]
    sides = {
        "django": dict(API_FAST_PATH=0),
        "wsgi": dict(API_FAST_PATH=1),
    }
    trees = {}
    for side in args.side:
        name, spec = side.split("=", 1)
        path, _, env = spec.partition(":")
        trees[name] = (Path(path), dict(pair.split("=", 1) for pair in env.split(",") if pair))
    servers = {}
    try:
        for name, env in sides.items():
            servers[name] = Server(name, workdir, **env)
        for name, (tree, env) in trees.items():
            servers[name] = Server(name, workdir, tree=tree, **env)
        first = Client(next(iter(servers.values())).url)
        first.login(world.username, seed.PASSWORD)
        created = first.request("POST", "/api/shopping-lists/", {"start": days[0], "end": days[-1]})
        assert created.status == 201, created.body
        clients = {name: Client(server.url).use_session_of(first) for name, server in servers.items()}
        tags = {name: [] for name in servers}
        for client in clients.values():  # warm-up: connections, imports, the fill
            for _ in range(20):
                client.get("/api/shopping-lists/")
        order = list(servers)
        for round_no in range(args.rounds):
            for name in itertools.islice(
                itertools.cycle(order), round_no % len(order), round_no % len(order) + len(order)
            ):
                for _ in range(args.per_round):
                    response = clients[name].get("/api/shopping-lists/")
                    assert (response.status, response.headers.get("x-cache")) == (200, "HIT"), (name, response.status)
                    tags[name].append(response.tag)
        times = {}
        for server in servers.values():
            times |= server.server_times_ms()
    finally:
        for server in servers.values():
            server.stop()
    print(f"shopping-list hit, server time (ms), {args.rounds} rounds x {args.per_round} per side; logs in {workdir}")
    print(f"{'side':<12} {'n':>5} {'median':>8} {'p90':>8} {'p99':>8}")
    for name, side_tags in tags.items():
        values = [times[t] for t in side_tags if t in times]
        summary = summarize_ms(values)
        p90 = percentile(values, 90)
        print(f"{name:<12} {summary.n:>5} {summary.median_ms:>8.3f} {p90:>8.3f} {summary.p99_ms:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
